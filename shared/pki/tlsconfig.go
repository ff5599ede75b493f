package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Clock tells the time and waits; tests give a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                         { return time.Now() }
func (systemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func orSystem(c Clock) Clock {
	if c == nil {
		return systemClock{}
	}
	return c
}

// renewAt is when a certificate has lived two thirds of its life: the time to replace it,
// leaving a third for retries.
func renewAt(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

// Source hands out the certificate to present now.
type Source func() (*tls.Certificate, error)

// Static is a Source of one certificate.
func Static(c tls.Certificate) Source { return func() (*tls.Certificate, error) { return &c, nil } }

// Renewing hands out a certificate and issues a fresh one, when asked for it, once the
// current one has lived two thirds of its life. Issuing is local (the CA is in memory),
// so a TLS handshake may do it. Should issuing fail, the current certificate serves while
// it is valid.
type Renewing struct {
	issue func() (tls.Certificate, error)
	clock Clock
	mu    sync.Mutex
	cur   tls.Certificate
}

// NewRenewing issues the first certificate at once. issue must set the Leaf.
func NewRenewing(issue func() (tls.Certificate, error), clock Clock) (*Renewing, error) {
	r := &Renewing{issue: issue, clock: orSystem(clock)}
	var err error
	if r.cur, err = issue(); err != nil {
		return nil, err
	}
	return r, nil
}

// Certificate is the current certificate, renewed first if it is due.
func (r *Renewing) Certificate() (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.clock.Now()
	if now.Before(renewAt(r.cur.Leaf)) {
		c := r.cur
		return &c, nil
	}
	fresh, err := r.issue()
	if err != nil {
		if now.Before(r.cur.Leaf.NotAfter) {
			c := r.cur
			return &c, nil
		}
		return nil, fmt.Errorf("renew the certificate of %q: %w", r.cur.Leaf.Subject.CommonName, err)
	}
	r.cur = fresh
	return &fresh, nil
}

// ServerTLS is the config of a server that requires a client certificate signed by roots
// and accepted by peer, and presents cert's certificate.
func ServerTLS(roots *x509.CertPool, cert Source, peer Peer) *tls.Config {
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		ClientAuth:       tls.RequireAndVerifyClientCert,
		ClientCAs:        roots,
		GetCertificate:   func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert() },
		VerifyConnection: verifyPeer(peer),
	}
}

// ClientTLS is the config of a client that presents cert's certificate and accepts a
// server whose certificate roots sign for the name dialed and peer accepts (nil: any).
func ClientTLS(roots *x509.CertPool, cert Source, peer Peer) *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		RootCAs:              roots,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert() },
		VerifyConnection:     verifyPeer(peer),
	}
}

// ForHost returns a copy of a client config (ServiceClientTLS) that accepts host id
// alone: a call meant for one host never reaches another that took over its address.
func ForHost(c *tls.Config, id string) *tls.Config {
	c = c.Clone()
	c.VerifyConnection = verifyPeer(HostNamed(id))
	return c
}

func verifyPeer(p Peer) func(tls.ConnectionState) error {
	if p == nil {
		return nil
	}
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errNoPeerCertificate
		}
		return p(cs.PeerCertificates[0])
	}
}

// ServiceClientTLS is the config with which the service name calls hosts: a client
// certificate issued at once and renewed in memory, and any host of the platform as the
// server (ForHost narrows it to one).
func (ca *CA) ServiceClientTLS(name string) (*tls.Config, error) {
	r, err := NewRenewing(func() (tls.Certificate, error) { return ca.ServiceCredentials(name) }, ca.clock)
	if err != nil {
		return nil, err
	}
	return ClientTLS(ca.pool, r.Certificate, Hosts()), nil
}

// endpointName is the service identity of the join and renew endpoints.
const endpointName = "pki"

// EndpointTLS is the server config of the join and renew endpoints (Handler) at names
// (IP addresses or DNS names): a server certificate renewed in memory, sent with the CA's
// own so that a host that has only the CA's pin can check it (PinnedClient); a client
// certificate is optional, and verified when given (renewals).
func (ca *CA) EndpointTLS(names ...string) (*tls.Config, error) {
	cert, err := ca.ServerCertificate(endpointName, names...)
	if err != nil {
		return nil, fmt.Errorf("the join endpoint: %w", err)
	}
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      ca.pool,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert() },
	}, nil
}

// ServerCertificate is a Source of server certificates of the service name at names (IP
// addresses or DNS names), each of EndpointValidity on a fresh key, renewed in memory
// once it has lived two thirds of its life, and sent with the CA's own certificate (a
// client that has the CA's pin can check it). The API's HTTPS (gateway.PlatformTLS) and
// the join endpoint serve with one.
func (ca *CA) ServerCertificate(name string, names ...string) (Source, error) {
	if err := checkName("service", name); err != nil {
		return nil, err
	}
	dns, ips := splitNames(names)
	if len(dns)+len(ips) == 0 {
		return nil, fmt.Errorf("a server certificate for %s needs a name to serve at", name)
	}
	r, err := NewRenewing(func() (tls.Certificate, error) {
		c, err := ca.keyPair(Leaf{CommonName: name, URIs: []*url.URL{ServiceURI(name)}, DNSNames: dns,
			IPAddresses: ips, Usage: ServerAuth, Validity: EndpointValidity})
		c.Certificate = append(c.Certificate, ca.cert.Raw)
		return c, err
	}, ca.clock)
	if err != nil {
		return nil, err
	}
	return r.Certificate, nil
}

// PinnedClient is an HTTP client for the join endpoint that trusts the server only if its
// certificate is signed by the CA that it sends along and whose Pin is pin: how a host
// that has no CA yet knows it talks to its platform.
func PinnedClient(pin string) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The chain is verified in VerifyConnection, against the pinned CA instead of
		// the system's roots.
		InsecureSkipVerify: true,
		VerifyConnection:   func(cs tls.ConnectionState) error { return verifyPinned(cs, pin) },
	}
	return &http.Client{Transport: t, Timeout: time.Minute}
}

func verifyPinned(cs tls.ConnectionState, pin string) error {
	if len(cs.PeerCertificates) == 0 {
		return errNoPeerCertificate
	}
	roots := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		if c.IsCA && Pin(c) == pin {
			roots.AddCert(c)
		}
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: cs.ServerName,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		return fmt.Errorf("the join endpoint is not of the platform CA %s: %w", pin, err)
	}
	return nil
}
