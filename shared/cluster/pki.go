package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
)

// Lifetimes of what IssuePKI signs.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
)

// KeyPair is a PEM certificate and, when the holder needs it, its PEM private key.
type KeyPair struct {
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
}

// EtcdMember is the certificates of one etcd node.
type EtcdMember struct {
	Server KeyPair `json:"server"`
	Peer   KeyPair `json:"peer"`
}

// PKI is a service's secrets, laid out like kubeadm's /etc/kubernetes/pki. It is
// JSON-serialisable; the caller keeps it sealed (Seal).
type PKI struct {
	Type string `json:"type"`
	// CA is the cluster CA (ca.crt/ca.key) of a KUBERNETES service, the CA of a HARBOR's
	// certificate.
	CA KeyPair `json:"ca"`

	// KUBERNETES.
	EtcdCA                 KeyPair      `json:"etcdCA,omitzero"`
	FrontProxyCA           KeyPair      `json:"frontProxyCA,omitzero"`
	FrontProxyClient       KeyPair      `json:"frontProxyClient,omitzero"`
	ServiceAccount         KeyPair      `json:"serviceAccount,omitzero"` // Cert holds sa.pub (PEM public key), Key sa.key
	APIServer              KeyPair      `json:"apiServer,omitzero"`
	APIServerKubeletClient KeyPair      `json:"apiServerKubeletClient,omitzero"`
	APIServerEtcdClient    KeyPair      `json:"apiServerEtcdClient,omitzero"`
	Admin                  KeyPair      `json:"admin,omitzero"`
	Etcd                   []EtcdMember `json:"etcd,omitempty"` // Etcd[i] is etcd node i+1 (Spec.EtcdIPs[i])
	// BootstrapToken is the kubeadm token nodes join with ("abcdef.0123456789abcdef").
	BootstrapToken string `json:"bootstrapToken,omitempty"`

	// HARBOR.
	Harbor     KeyPair `json:"harbor,omitzero"`
	HarborDBPW string  `json:"harborDBPassword,omitempty"` // Harbor's internal database password
}

// CAPEM returns the PEM of the service's CA: the cluster CA of a KUBERNETES service, the
// CA of a HARBOR (what a Kubernetes service puts in Spec.RegistryCACert).
func (p *PKI) CAPEM() string { return p.CA.Cert }

// IssuePKI makes a service's keys and certificates, valid from now: CAs for 10 years,
// the rest for a year. Keys are ECDSA P-256.
func IssuePKI(spec Spec, now time.Time) (*PKI, error) {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return nil, err
	}
	p := &PKI{Type: spec.Type}
	if spec.Type == Harbor {
		ca, err := newCA(serviceLabel(spec)+"-harbor-ca", now)
		if err != nil {
			return nil, err
		}
		host := Hostname(spec, RoleHarbor, 1)
		if p.Harbor, err = ca.issue(leaf{cn: host, dns: []string{host}, ips: ips(spec.HarborIP), server: true}, now); err != nil {
			return nil, err
		}
		p.CA = ca.pair
		if p.HarborDBPW, err = derive(ca.key, "harbor-database", 24); err != nil {
			return nil, err
		}
		return p, nil
	}

	ca, err := newCA("kubernetes", now)
	if err != nil {
		return nil, err
	}
	etcdCA, err := newCA("etcd-ca", now)
	if err != nil {
		return nil, err
	}
	fpCA, err := newCA("front-proxy-ca", now)
	if err != nil {
		return nil, err
	}
	p.CA, p.EtcdCA, p.FrontProxyCA = ca.pair, etcdCA.pair, fpCA.pair

	sans, err := apiServerSANs(spec)
	if err != nil {
		return nil, err
	}
	issues := []struct {
		dst *KeyPair
		ca  *authority
		l   leaf
	}{
		{&p.APIServer, ca, leaf{cn: "kube-apiserver", dns: sans.dns, ips: sans.ips, server: true}},
		{&p.APIServerKubeletClient, ca, leaf{cn: "kube-apiserver-kubelet-client", org: "system:masters", client: true}},
		{&p.Admin, ca, leaf{cn: "kubernetes-admin", org: "system:masters", client: true}},
		{&p.FrontProxyClient, fpCA, leaf{cn: "front-proxy-client", client: true}},
		{&p.APIServerEtcdClient, etcdCA, leaf{cn: "kube-apiserver-etcd-client", client: true}},
	}
	for _, is := range issues {
		if *is.dst, err = is.ca.issue(is.l, now); err != nil {
			return nil, err
		}
	}
	for i, ip := range spec.EtcdIPs {
		host := Hostname(spec, RoleEtcd, i+1)
		// etcd serves and dials with the same certificates, so both carry both usages.
		l := leaf{cn: host, dns: []string{host, "localhost"}, ips: ips(ip, "127.0.0.1"), server: true, client: true}
		var m EtcdMember
		if m.Server, err = etcdCA.issue(l, now); err != nil {
			return nil, err
		}
		if m.Peer, err = etcdCA.issue(l, now); err != nil {
			return nil, err
		}
		p.Etcd = append(p.Etcd, m)
	}

	sa, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&sa.PublicKey)
	if err != nil {
		return nil, err
	}
	p.ServiceAccount = KeyPair{Cert: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))}
	if p.ServiceAccount.Key, err = keyPEM(sa); err != nil {
		return nil, err
	}
	// The token is derived from the CA's key: the same for the life of the service's
	// PKI, and unguessable without it. kubeadm wants [a-z0-9]{6}.[a-z0-9]{16}.
	t, err := derive(ca.key, "bootstrap-token", 22)
	if err != nil {
		return nil, err
	}
	p.BootstrapToken = t[:6] + "." + t[6:]
	return p, nil
}

// sanSet is a certificate's subject alternative names.
type sanSet struct {
	dns []string
	ips []net.IP
}

// apiServerSANs is what kube-apiserver's certificate must name: the load balancer and
// every master (addresses and node names, which kubeadm checks an existing certificate
// for), the "kubernetes" service IP and names, and the service's own name.
func apiServerSANs(spec Spec) (sanSet, error) {
	svcIP, err := firstIP(spec.ServiceCIDR)
	if err != nil {
		return sanSet{}, err
	}
	s := sanSet{
		dns: []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", serviceLabel(spec)},
		ips: append(ips(spec.LoadBalancerIP), svcIP),
	}
	for i, ip := range spec.MasterIPs {
		s.ips = append(s.ips, net.ParseIP(ip))
		s.dns = append(s.dns, Hostname(spec, RoleMaster, i+1))
	}
	return s, nil
}

// authority is a CA that signs.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pair KeyPair
}

// leaf describes a certificate a CA issues.
type leaf struct {
	cn, org        string
	dns            []string
	ips            []net.IP
	server, client bool
}

func newCA(cn string, now time.Time) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Minute), // tolerate a node's clock running a little behind
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := sign(tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	k, err := keyPEM(key)
	if err != nil {
		return nil, err
	}
	return &authority{cert: cert, key: key, pair: KeyPair{Cert: certPEM(der), Key: k}}, nil
}

func (a *authority) issue(l leaf, now time.Time) (KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: l.cn},
		NotBefore:   now.Add(-time.Minute),
		NotAfter:    now.Add(LeafValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		DNSNames:    l.dns,
		IPAddresses: l.ips,
	}
	if l.org != "" {
		tmpl.Subject.Organization = []string{l.org}
	}
	if l.server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if l.client {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := sign(tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return KeyPair{}, err
	}
	k, err := keyPEM(key)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{Cert: certPEM(der), Key: k}, nil
}

func sign(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
}

func certPEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// keyPEM encodes a key as SEC 1 ("EC PRIVATE KEY"), what kubeadm itself writes.
func keyPEM(key *ecdsa.PrivateKey) (string, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})), nil
}

func ips(addrs ...string) []net.IP {
	out := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, net.ParseIP(a))
	}
	return out
}

// derive is n characters of [a-z0-9] derived from a CA key and a purpose: a secret that
// stays the same for as long as the key does.
func derive(key *ecdsa.PrivateKey, purpose string, n int) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	secret, err := key.Bytes()
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(purpose))
	sum := mac.Sum(nil)
	out := make([]byte, n)
	for i := range out {
		// 32 bytes of HMAC feed up to 32 characters; the small modulo bias is harmless
		// for a secret with over 100 bits.
		out[i] = alphabet[int(sum[i%len(sum)])%len(alphabet)]
	}
	return string(out), nil
}

// caCertHash is kubeadm's discovery pin of a CA: sha256 of its SubjectPublicKeyInfo.
func caCertHash(caPEM string) (string, error) {
	cert, err := parseCert(caPEM)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

func parseCert(p string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("cluster: no PEM certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return c, nil
}
