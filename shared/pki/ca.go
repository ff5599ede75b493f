package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/keyspace"
)

// Lifetimes of the certificates the CA signs.
const (
	CAValidity       = 20 * 365 * 24 * time.Hour
	HostValidity     = 365 * 24 * time.Hour
	ServiceValidity  = 24 * time.Hour
	EndpointValidity = 30 * 24 * time.Hour
	// backdate starts a certificate's validity a little before it is signed, for peers
	// whose clocks run a little behind.
	backdate = 5 * time.Minute
)

// CA is the platform certificate authority.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	pool    *x509.CertPool
	clock   Clock
}

// NewCA makes a fresh CA in memory (tests; LoadOrCreateCA shares one through Redis).
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "Photon platform CA", Organization: []string{"Photon"}},
		NotBefore:    now.Add(-backdate), NotAfter: now.Add(CAValidity),
		IsCA: true, BasicConstraintsValid: true, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sign the CA certificate: %w", err)
	}
	return newCA(der, key)
}

func newCA(der []byte, key *ecdsa.PrivateKey) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse the CA certificate: %w", err)
	}
	if !cert.IsCA || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("the CA certificate is not a CA's, or not of the CA key")
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, certPEM: pemBlock("CERTIFICATE", der), pool: pool, clock: systemClock{}}, nil
}

// LoadOrCreateCA returns the CA stored at "pki:ca" in the PKI key space under prefix, creating it if there is none.
// Creation is SET NX followed by a read, so processes that start together all end up
// with the one CA that won. The value is the certificate and the PKCS #8 key, in PEM.
func LoadOrCreateCA(ctx context.Context, rdb redis.UniversalClient, prefix string) (*CA, error) {
	k := keyspace.Space(prefix, keyspace.PKI) + "pki:ca"
	stored, err := rdb.Get(ctx, k).Bytes()
	if errors.Is(err, redis.Nil) {
		fresh, ferr := NewCA()
		if ferr != nil {
			return nil, ferr
		}
		if err := rdb.SetNX(ctx, k, fresh.marshal(), 0).Err(); err != nil {
			return nil, fmt.Errorf("store the platform CA: %w", err)
		}
		stored, err = rdb.Get(ctx, k).Bytes()
	}
	if err != nil {
		return nil, fmt.Errorf("load the platform CA: %w", err)
	}
	ca, err := parseCA(stored)
	if err != nil {
		return nil, fmt.Errorf("load the platform CA from %s: %w", k, err)
	}
	return ca, nil
}

func (ca *CA) marshal() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(ca.key) // a P-256 key always marshals
	return append(append([]byte(nil), ca.certPEM...), pemBlock("PRIVATE KEY", der)...)
}

func parseCA(b []byte) (*CA, error) {
	var certDER []byte
	var key *ecdsa.PrivateKey
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			break
		}
		switch blk.Type {
		case "CERTIFICATE":
			certDER = blk.Bytes
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse the CA key: %w", err)
			}
			var ok bool
			if key, ok = k.(*ecdsa.PrivateKey); !ok {
				return nil, fmt.Errorf("the CA key is a %T, not ECDSA", k)
			}
		}
	}
	if certDER == nil || key == nil {
		return nil, errors.New("no CA certificate and key")
	}
	return newCA(certDER, key)
}

// WithClock returns the CA signing with the times c tells (tests).
func (ca *CA) WithClock(c Clock) *CA {
	cp := *ca
	cp.clock = c
	return &cp
}

// Certificate is the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// PEM is the CA's certificate in PEM.
func (ca *CA) PEM() []byte { return ca.certPEM }

// Pool holds the CA's certificate alone: the roots every Photon peer verifies against.
func (ca *CA) Pool() *x509.CertPool { return ca.pool }

// Pin is the CA's pin: what a host that has not joined yet trusts the join endpoint by.
func (ca *CA) Pin() string { return Pin(ca.cert) }

// Pin is "sha256:" and the hex SHA-256 of c's subject public key info.
func Pin(c *x509.Certificate) string {
	h := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Usage says what a certificate may authenticate: a TLS server, a client, or both.
type Usage int

const (
	ServerAuth Usage = 1 << iota
	ClientAuth
)

// Leaf describes a certificate to issue.
type Leaf struct {
	PublicKey   crypto.PublicKey
	CommonName  string
	URIs        []*url.URL // identities (HostURI, ServiceURI)
	DNSNames    []string
	IPAddresses []net.IP
	Usage       Usage
	Validity    time.Duration // capped at the CA's own end
}

// Issue signs l.
func (ca *CA) Issue(l Leaf) (*x509.Certificate, error) {
	if l.PublicKey == nil || l.Usage&(ServerAuth|ClientAuth) == 0 || l.Validity <= 0 {
		return nil, errors.New("issue: a certificate needs a public key, a usage and a validity")
	}
	now := ca.clock.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.CommonName, Organization: []string{"Photon"}},
		NotBefore:    now.Add(-backdate), NotAfter: now.Add(l.Validity),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true,
		URIs: l.URIs, DNSNames: l.DNSNames, IPAddresses: l.IPAddresses,
	}
	if tmpl.NotAfter.After(ca.cert.NotAfter) {
		tmpl.NotAfter = ca.cert.NotAfter
	}
	if l.Usage&ServerAuth != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	if l.Usage&ClientAuth != 0 {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, l.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issue a certificate for %q: %w", l.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// keyPair issues l for a fresh P-256 key.
func (ca *CA) keyPair(l Leaf) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate a key: %w", err)
	}
	l.PublicKey = &key.PublicKey
	cert, err := ca.Issue(l)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// ServiceCredentials issues a client certificate of ServiceValidity for the service
// name (a function, the gateway) on a fresh key.
func (ca *CA) ServiceCredentials(name string) (tls.Certificate, error) {
	if err := checkName("service", name); err != nil {
		return tls.Certificate{}, err
	}
	return ca.keyPair(Leaf{CommonName: name, URIs: []*url.URL{ServiceURI(name)}, Usage: ClientAuth, Validity: ServiceValidity})
}

// HostCredentials issues a host certificate of HostValidity for host id on a fresh key,
// valid for the names (IP addresses or DNS names) the host is dialed at. A host out of
// process joins instead (Enroll); this is for hosts the CA's own process starts.
func (ca *CA) HostCredentials(id string, names ...string) (tls.Certificate, error) {
	if err := checkName("host", id); err != nil {
		return tls.Certificate{}, err
	}
	dns, ips := splitNames(names)
	return ca.keyPair(hostLeaf(id, dns, ips))
}

// hostLeaf is the certificate of host id: it serves hostd and authenticates renewals.
func hostLeaf(id string, dns []string, ips []net.IP) Leaf {
	return Leaf{CommonName: id, URIs: []*url.URL{HostURI(id)}, DNSNames: dns, IPAddresses: ips,
		Usage: ServerAuth | ClientAuth, Validity: HostValidity}
}

// splitNames sorts names into IP addresses and DNS names.
func splitNames(names []string) (dns []string, ips []net.IP) {
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			ips = append(ips, ip)
		} else if n != "" {
			dns = append(dns, n)
		}
	}
	return dns, ips
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127)) // never fails
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
