package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"

	"github.com/photon-cloud/photon/shared/pki"
)

// TLS is how the gateway serves HTTPS (Options.HTTPSAddr): REST, the token endpoint and
// gRPC on one port.
type TLS struct {
	// Config is the server's config: its certificate. The gateway sets the protocols.
	Config *tls.Config
	// Roots are the CA certificates a client trusts the gateway's certificate by:
	// GET /afd/vecs/ssl answers them, as Lightwave answered its own to Photon's clients.
	Roots []*x509.Certificate
}

// apiServerName is the service identity of the API's certificate from the platform CA.
const apiServerName = "gateway"

// PlatformTLS serves with a server certificate from the platform CA for names (IP
// addresses and DNS names: ServingNames), renewed in memory before it expires; clients
// trust the CA.
func PlatformTLS(ca *pki.CA, names ...string) (*TLS, error) {
	cert, err := ca.ServerCertificate(apiServerName, names...)
	if err != nil {
		return nil, fmt.Errorf("the API's certificate: %w", err)
	}
	return &TLS{
		Config: &tls.Config{MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert() }},
		Roots: []*x509.Certificate{ca.Certificate()},
	}, nil
}

// FileTLS serves with the certificate (and its chain) and key of two PEM files, read once.
// Clients trust it by the CA certificates the chain carries, or, when it carries none,
// by the certificate itself.
func FileTLS(certFile, keyFile string) (*TLS, error) {
	kp, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load the API's certificate: %w", err)
	}
	t := &TLS{Config: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{kp}}}
	for i, der := range kp.Certificate {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", certFile, i+1, err)
		}
		if i > 0 && c.IsCA {
			t.Roots = append(t.Roots, c)
		}
	}
	if len(t.Roots) == 0 {
		t.Roots = []*x509.Certificate{kp.Leaf}
	}
	return t, nil
}

// NewTLS is FileTLS of certFile and keyFile when certFile is given, else PlatformTLS
// for the ServingNames of httpsAddr and publicURL: the choice of photon gateway and
// photon up (--tls-cert, --tls-key).
func NewTLS(ca *pki.CA, certFile, keyFile, httpsAddr, publicURL string) (*TLS, error) {
	if certFile != "" || keyFile != "" {
		return FileTLS(certFile, keyFile)
	}
	return PlatformTLS(ca, ServingNames(httpsAddr, publicURL)...)
}

// Pool holds the Roots.
func (t *TLS) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range t.Roots {
		p.AddCert(c)
	}
	return p
}

// Pin is the pin (pki.Pin) of the first of the Roots: what `photon up` prints.
func (t *TLS) Pin() string { return pki.Pin(t.Roots[0]) }

// PEM is the Roots in PEM, for a client's --cacert.
func (t *TLS) PEM() []byte {
	var out []byte
	for _, c := range t.Roots {
		out = append(out, pemCertificate(c)...)
	}
	return out
}

// ServingNames are the names a certificate from the platform CA gives the API: the
// loopback addresses, localhost, this machine's host name, the host the HTTPS address
// names (unless it is a wildcard), and the host of publicURL.
func ServingNames(httpsAddr, publicURL string) []string {
	names := []string{"127.0.0.1", "::1", "localhost"}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
	}
	if h, _, err := net.SplitHostPort(httpsAddr); err == nil && h != "" {
		if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
			names = append(names, h)
		}
	}
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		names = append(names, u.Hostname())
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// serverTLS is t's config with the protocols of one port that serves HTTP/1.1 and HTTP/2,
// gRPC included.
func (t *TLS) serverTLS() (*tls.Config, error) {
	if t == nil || t.Config == nil || len(t.Roots) == 0 {
		return nil, errors.New("serving HTTPS needs Options.TLS: a certificate and the roots it is trusted by (PlatformTLS, FileTLS)")
	}
	c := t.Config.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	return c, nil
}
