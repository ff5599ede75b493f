package cluster

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func kubeSpec() Spec {
	return Spec{
		ServiceID: "6c1b2f0e-1d2a-4e43-9d1c-0f1e2d3c4b5a", Name: "Prod K8s", Type: Kubernetes,
		LoadBalancerIP: "192.168.10.5",
		MasterIPs:      []string{"192.168.10.11", "192.168.10.12"},
		EtcdIPs:        []string{"192.168.10.21", "192.168.10.22", "192.168.10.23"},
		DNS:            "192.168.10.1, 8.8.8.8", Gateway: "192.168.10.1", Netmask: "255.255.255.0",
		SSHKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0Jt2M5GQkmn7JHx3BzRP4kPmUm1qGgZ7p6Z2yQ3b4N admin@example",
	}
}

func harborSpec() Spec {
	return Spec{
		ServiceID: "0a9b8c7d-0000-4000-8000-000000000001", Name: "registry", Type: Harbor,
		HarborIP: "192.168.10.30", Netmask: "24", Gateway: "192.168.10.1", AdminPassword: "Harbor12345!",
	}
}

func mustPKI(t *testing.T, spec Spec) *PKI {
	t.Helper()
	p, err := IssuePKI(spec, now)
	if err != nil {
		t.Fatalf("IssuePKI: %v", err)
	}
	return p
}

func pool(t *testing.T, pemCerts ...string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	for _, c := range pemCerts {
		if !p.AppendCertsFromPEM([]byte(c)) {
			t.Fatal("CA PEM does not parse")
		}
	}
	return p
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// TestIssuePKI checks every certificate against the CA it must chain to, its names,
// its usage and that its key belongs to it.
func TestIssuePKI(t *testing.T) {
	k := mustPKI(t, kubeSpec())
	h := mustPKI(t, harborSpec())
	server, client := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth

	tests := []struct {
		name    string
		pair    KeyPair
		ca      string
		usage   x509.ExtKeyUsage
		ips     []string // nil: no IP SANs
		dns     []string
		org     string
		checkAt string // a name the certificate must be valid for, "" for a client certificate
	}{
		{"apiserver", k.APIServer, k.CA.Cert, server,
			sorted("192.168.10.5", "192.168.10.11", "192.168.10.12", "10.0.0.1"),
			sorted("kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
				"prod-k8s", "prod-k8s-master-1", "prod-k8s-master-2"), "", "192.168.10.5"},
		{"apiserver-kubelet-client", k.APIServerKubeletClient, k.CA.Cert, client, nil, nil, "system:masters", ""},
		{"admin", k.Admin, k.CA.Cert, client, nil, nil, "system:masters", ""},
		{"front-proxy-client", k.FrontProxyClient, k.FrontProxyCA.Cert, client, nil, nil, "", ""},
		{"apiserver-etcd-client", k.APIServerEtcdClient, k.EtcdCA.Cert, client, nil, nil, "", ""},
		{"etcd-1 server", k.Etcd[0].Server, k.EtcdCA.Cert, server, sorted("192.168.10.21", "127.0.0.1"), sorted("prod-k8s-etcd-1", "localhost"), "", "192.168.10.21"},
		{"etcd-2 peer as server", k.Etcd[1].Peer, k.EtcdCA.Cert, server, sorted("192.168.10.22", "127.0.0.1"), sorted("prod-k8s-etcd-2", "localhost"), "", "192.168.10.22"},
		{"etcd-3 peer as client", k.Etcd[2].Peer, k.EtcdCA.Cert, client, sorted("192.168.10.23", "127.0.0.1"), sorted("prod-k8s-etcd-3", "localhost"), "", ""},
		{"harbor", h.Harbor, h.CA.Cert, server, []string{"192.168.10.30"}, []string{"registry-harbor-1"}, "", "192.168.10.30"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kp, err := tls.X509KeyPair([]byte(tt.pair.Cert), []byte(tt.pair.Key))
			if err != nil {
				t.Fatalf("key does not match certificate: %v", err)
			}
			cert := kp.Leaf
			_, err = cert.Verify(x509.VerifyOptions{Roots: pool(t, tt.ca), DNSName: tt.checkAt,
				KeyUsages: []x509.ExtKeyUsage{tt.usage}, CurrentTime: now.Add(time.Hour)})
			if err != nil {
				t.Fatalf("does not verify against its CA: %v", err)
			}
			if got := ipStrings(cert.IPAddresses); !slices.Equal(got, tt.ips) {
				t.Errorf("IP SANs %v, want %v", got, tt.ips)
			}
			if got := sorted(cert.DNSNames...); !slices.Equal(got, tt.dns) {
				t.Errorf("DNS SANs %v, want %v", got, tt.dns)
			}
			if tt.org != "" && !slices.Equal(cert.Subject.Organization, []string{tt.org}) {
				t.Errorf("O=%v, want %s", cert.Subject.Organization, tt.org)
			}
			if want := now.Add(LeafValidity); !cert.NotAfter.Equal(want) {
				t.Errorf("expires %v, want %v", cert.NotAfter, want)
			}
		})
	}

	t.Run("CAs", func(t *testing.T) {
		for _, ca := range []string{k.CA.Cert, k.EtcdCA.Cert, k.FrontProxyCA.Cert, h.CA.Cert} {
			c, err := parseCert(ca)
			if err != nil {
				t.Fatal(err)
			}
			if !c.IsCA || !c.NotAfter.Equal(now.Add(CAValidity)) {
				t.Errorf("%s: IsCA=%v NotAfter=%v", c.Subject.CommonName, c.IsCA, c.NotAfter)
			}
		}
		// The etcd and front-proxy CAs are their own: the cluster CA must not vouch for etcd.
		if _, err := mustLeaf(t, k.Etcd[0].Server).Verify(x509.VerifyOptions{Roots: pool(t, k.CA.Cert), CurrentTime: now}); err == nil {
			t.Error("an etcd certificate verifies against the cluster CA")
		}
		if k.CAPEM() != k.CA.Cert || h.CAPEM() != h.CA.Cert {
			t.Error("CAPEM is not the service's CA")
		}
	})

	t.Run("service account and token", func(t *testing.T) {
		if !strings.Contains(k.ServiceAccount.Cert, "BEGIN PUBLIC KEY") || !strings.Contains(k.ServiceAccount.Key, "BEGIN EC PRIVATE KEY") {
			t.Errorf("sa.pub/sa.key are not PEM keys: %q", k.ServiceAccount.Cert)
		}
		if !regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`).MatchString(k.BootstrapToken) {
			t.Errorf("bootstrap token %q is not kubeadm's format", k.BootstrapToken)
		}
		if other := mustPKI(t, kubeSpec()); other.BootstrapToken == k.BootstrapToken {
			t.Error("two services got the same bootstrap token")
		}
		if len(h.HarborDBPW) < 20 {
			t.Errorf("harbor database password %q is short", h.HarborDBPW)
		}
	})

	t.Run("JSON round trip", func(t *testing.T) {
		b, err := json.Marshal(k)
		if err != nil {
			t.Fatal(err)
		}
		var back PKI
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.APIServer != k.APIServer || len(back.Etcd) != 3 || back.BootstrapToken != k.BootstrapToken {
			t.Error("PKI does not survive JSON")
		}
	})
}

func mustLeaf(t *testing.T, kp KeyPair) *x509.Certificate {
	t.Helper()
	c, err := parseCert(kp.Cert)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIssuePKIRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Spec)
	}{
		{"unknown type", func(s *Spec) { s.Type = "SWARM" }},
		{"no load balancer", func(s *Spec) { s.LoadBalancerIP = "" }},
		{"bad master IP", func(s *Spec) { s.MasterIPs = []string{"10.0.0.300"} }},
		{"no etcd", func(s *Spec) { s.EtcdIPs = nil }},
		{"bad service CIDR", func(s *Spec) { s.ServiceCIDR = "10.0.0.0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := kubeSpec()
			tt.edit(&s)
			if _, err := IssuePKI(s, now); err == nil {
				t.Error("IssuePKI accepted the spec")
			}
		})
	}
}

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	plain := []byte(`{"ca":{"cert":"..."}}`)
	sealed, err := Seal(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Seal(key, plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed, again) {
		t.Error("two seals of the same data are equal: the nonce is not random")
	}
	flip := func(i int) []byte { b := slices.Clone(sealed); b[i] ^= 1; return b }
	tests := []struct {
		name   string
		key    []byte
		sealed []byte
		ok     bool
	}{
		{"round trip", key, sealed, true},
		{"nonce altered", key, flip(0), false},
		{"ciphertext altered", key, flip(len(sealed) / 2), false},
		{"tag altered", key, flip(len(sealed) - 1), false},
		{"truncated", key, sealed[:10], false},
		{"wrong key", bytes.Repeat([]byte{8}, 32), sealed, false},
		{"short key", key[:16], sealed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Open(tt.key, tt.sealed)
			if tt.ok && (err != nil || !bytes.Equal(got, plain)) {
				t.Fatalf("Open = %q, %v; want the plaintext", got, err)
			}
			if !tt.ok && err == nil {
				t.Fatal("Open accepted altered data")
			}
		})
	}
}

func TestKubeconfig(t *testing.T) {
	spec := kubeSpec()
	p := mustPKI(t, spec)
	b, err := Kubeconfig(spec, p)
	if err != nil {
		t.Fatal(err)
	}
	var kc struct {
		Clusters []struct {
			Cluster struct {
				Server string `yaml:"server"`
				CA     string `yaml:"certificate-authority-data"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
		CurrentContext string `yaml:"current-context"`
		Contexts       []struct {
			Name string `yaml:"name"`
		} `yaml:"contexts"`
		Users []struct {
			User struct {
				Cert string `yaml:"client-certificate-data"`
				Key  string `yaml:"client-key-data"`
			} `yaml:"user"`
		} `yaml:"users"`
	}
	if err := yaml.Unmarshal(b, &kc); err != nil {
		t.Fatalf("kubeconfig is not YAML: %v\n%s", err, b)
	}
	if len(kc.Clusters) != 1 || len(kc.Users) != 1 || len(kc.Contexts) != 1 || kc.CurrentContext != kc.Contexts[0].Name {
		t.Fatalf("kubeconfig shape:\n%s", b)
	}
	if got := kc.Clusters[0].Cluster.Server; got != "https://192.168.10.5:6443" {
		t.Errorf("server %q", got)
	}
	dec := func(s string) []byte {
		d, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	kp, err := tls.X509KeyPair(dec(kc.Users[0].User.Cert), dec(kc.Users[0].User.Key))
	if err != nil {
		t.Fatalf("embedded client cert/key: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(dec(kc.Clusters[0].Cluster.CA)) {
		t.Fatal("embedded CA does not parse")
	}
	if _, err := kp.Leaf.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, CurrentTime: now}); err != nil {
		t.Errorf("admin cert does not verify against the embedded CA: %v", err)
	}
	if !slices.Equal(kp.Leaf.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("admin O=%v", kp.Leaf.Subject.Organization)
	}
	if _, err := Kubeconfig(harborSpec(), mustPKI(t, harborSpec())); err == nil {
		t.Error("a HARBOR service got a kubeconfig")
	}
}

func TestHostname(t *testing.T) {
	tests := []struct {
		spec  Spec
		role  string
		index int
		want  string
	}{
		{Spec{Name: "prod"}, RoleWorker, 3, "prod-worker-3"},
		{Spec{Name: "Prod K8s!"}, RoleMaster, 1, "prod-k8s-master-1"},
		{Spec{Name: "--", ServiceID: "ABC-123"}, RoleEtcd, 2, "abc-123-etcd-2"},
		{Spec{}, RoleHarbor, 1, "service-harbor-1"},
		{Spec{Name: strings.Repeat("a", 50) + "-" + strings.Repeat("b", 30)}, RoleWorker, 12, strings.Repeat("a", 50) + "-bb-worker-12"},
		{Spec{Name: strings.Repeat("a", 52) + "-b"}, RoleWorker, 12, strings.Repeat("a", 52) + "-worker-12"},
	}
	valid := regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	for _, tt := range tests {
		got := Hostname(tt.spec, tt.role, tt.index)
		if got != tt.want || !valid.MatchString(got) {
			t.Errorf("Hostname(%q, %s, %d) = %q, want %q", tt.spec.Name, tt.role, tt.index, got, tt.want)
		}
	}
}
