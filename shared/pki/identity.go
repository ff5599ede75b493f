package pki

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// The kinds of identity a certificate carries in its URI SAN.
const (
	kindHost    = "host"
	kindService = "service"
)

// HostURI is the identity of host id: spiffe://photon/host/<id>.
func HostURI(id string) *url.URL { return identityURI(kindHost, id) }

// ServiceURI is the identity of a service: spiffe://photon/service/<name>.
func ServiceURI(name string) *url.URL { return identityURI(kindService, name) }

func identityURI(kind, name string) *url.URL {
	return &url.URL{Scheme: "spiffe", Host: "photon", Path: "/" + kind + "/" + name}
}

// identity is the kind and name of c's Photon identity.
func identity(c *x509.Certificate) (kind, name string, ok bool) {
	for _, u := range c.URIs {
		if u.Scheme != "spiffe" || u.Host != "photon" {
			continue
		}
		if kind, name, ok = strings.Cut(strings.TrimPrefix(u.Path, "/"), "/"); ok && name != "" {
			return kind, name, true
		}
	}
	return "", "", false
}

// HostID is the host id c was issued to, if c is a host's certificate.
func HostID(c *x509.Certificate) (string, bool) { return identityOf(c, kindHost) }

// ServiceName is the service c was issued to, if c is a service's certificate.
func ServiceName(c *x509.Certificate) (string, bool) { return identityOf(c, kindService) }

func identityOf(c *x509.Certificate, want string) (string, bool) {
	kind, name, ok := identity(c)
	return name, ok && kind == want
}

// checkName refuses ids that would not make a clean identity URI: they are UUIDs or
// names of letters, digits, '-', '_' and '.'.
func checkName(kind, name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("a %s name of 1 to 128 characters is required", kind)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%s name %q: only letters, digits, '-', '_' and '.'", kind, name)
		}
	}
	return nil
}

// Peer accepts or refuses the verified certificate of the other end of a connection.
type Peer func(leaf *x509.Certificate) error

// Hosts accepts any host of the platform.
func Hosts() Peer { return kindPeer(kindHost, "") }

// HostNamed accepts host id only.
func HostNamed(id string) Peer { return kindPeer(kindHost, id) }

// Services accepts any service of the platform (the gateway, the functions).
func Services() Peer { return kindPeer(kindService, "") }

func kindPeer(kind, name string) Peer {
	return func(c *x509.Certificate) error {
		k, n, ok := identity(c)
		switch {
		case !ok || k != kind:
			return fmt.Errorf("peer %q is not a Photon %s", c.Subject.CommonName, kind)
		case name != "" && n != name:
			return fmt.Errorf("peer is %s %s, not %s", kind, n, name)
		}
		return nil
	}
}

// errNoPeerCertificate is a connection whose peer showed no certificate where one is due.
var errNoPeerCertificate = errors.New("the peer presented no certificate")
