// Package egress decides where Photon may connect on a user's behalf: the sinks of
// subscriptions (shared/notify delivers to them, the gateway checks them at create).
//
// A user who names a URL must not aim the platform at its own insides: a sink must be
// https and must resolve only to public addresses, not to loopback, link-local, private,
// shared (CGNAT), unspecified, multicast or reserved ones, nor to an address of the
// machine that checks it. A system administrator opens named networks (Policy.Allow, the
// --sink-allow-cidr flag): an address inside one is allowed whatever its class, and a sink
// all of whose addresses are inside one may be plain http too (the dev cloud allows
// loopback, where tests run their sinks).
//
// The check is made twice: on the URL when a subscription is created (Policy.CheckURL),
// and on the addresses dialed at every connection (Policy.Client's dialer resolves the
// name itself, checks every address and connects to the checked address), so a name
// whose DNS answer changes after the create (DNS rebinding) still reaches nothing inside.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
)

// Resolver looks names up; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// ResolverFunc is a function that is a Resolver.
type ResolverFunc func(ctx context.Context, network, host string) ([]netip.Addr, error)

// LookupNetIP calls f.
func (f ResolverFunc) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return f(ctx, network, host)
}

// Policy says which addresses sinks may have. The zero Policy allows public addresses
// only, over https, resolving with net.DefaultResolver.
type Policy struct {
	// Allow are the networks a system administrator opened to sinks.
	Allow []netip.Prefix
	// Resolver resolves sink host names (nil: net.DefaultResolver).
	Resolver Resolver
	// Own are more addresses of the platform to refuse, beside this machine's interface
	// addresses (read once, at the first check).
	Own []netip.Addr

	once sync.Once
	own  map[netip.Addr]bool
}

// ParsePrefixes reads networks in CIDR notation (a bare address is a network of one).
func ParsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		p, err := netip.ParsePrefix(c)
		if err != nil {
			a, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return nil, fmt.Errorf("network %q: %w", c, err)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Loopback is the loopback networks, IPv4 and IPv6: what the dev cloud allows.
var Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// reserved are the special-purpose ranges netip's predicates do not name, that no sink
// on the Internet has (RFC 6890): "this network", shared address space (CGNAT), IETF
// protocol assignments, benchmarking, the reserved class E and broadcast, and the
// IPv4/IPv6 translation prefixes, whose addresses may embed private IPv4 ones.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

func (p *Policy) allowed(a netip.Addr) bool {
	for _, n := range p.Allow {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

func (p *Policy) ownAddrs() map[netip.Addr]bool {
	p.once.Do(func() {
		p.own = map[netip.Addr]bool{}
		for _, a := range p.Own {
			p.own[a.Unmap()] = true
		}
		addrs, _ := net.InterfaceAddrs() // none read: the class checks still hold
		for _, ia := range addrs {
			if n, ok := ia.(*net.IPNet); ok {
				if a, ok := netip.AddrFromSlice(n.IP); ok {
					p.own[a.Unmap()] = true
				}
			}
		}
	})
	return p.own
}

// CheckAddr says why a sink may not be at a (nil: it may): an address inside an allowed
// network always may, any other must be public and not the platform's own.
func (p *Policy) CheckAddr(a netip.Addr) error {
	a = a.Unmap()
	if p.allowed(a) {
		return nil
	}
	var what string
	switch {
	case !a.IsValid():
		what = "not an address"
	case a.IsLoopback():
		what = "a loopback address"
	case a.IsUnspecified():
		what = "the unspecified address"
	case a.IsLinkLocalUnicast():
		what = "a link-local address"
	case a.IsMulticast():
		what = "a multicast address"
	case a.IsPrivate():
		what = "a private address"
	case p.ownAddrs()[a]:
		what = "an address of the platform's own"
	default:
		for _, n := range reserved {
			if n.Contains(a) {
				what = "a reserved address (" + n.String() + ")"
			}
		}
	}
	if what == "" {
		return nil
	}
	return fmt.Errorf("%s is %s", a, what)
}

// lookup resolves host to its addresses: an IP literal is itself, and "localhost" and
// names under it are loopback (RFC 6761) without asking a resolver.
func (p *Policy) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a.WithZone("")}, nil
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return []netip.Addr{netip.IPv6Loopback(), netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	return addrs, err
}

// resolve resolves host and checks each of its addresses: with plain http every one must
// be inside an allowed network, else every one must pass CheckAddr. A name with one
// address refused is refused whole: which address a client picks is not the platform's
// to choose.
func (p *Policy) resolve(ctx context.Context, host string, plain bool) ([]netip.Addr, error) {
	addrs, err := p.lookup(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	for _, a := range addrs {
		if plain && !p.allowed(a.Unmap()) {
			return nil, fmt.Errorf("%s: plain http reaches only networks a system administrator allowed, and %s is not in one (use https)", host, a)
		}
		if err := p.CheckAddr(a); err != nil {
			return nil, fmt.Errorf("%s resolves to %w", host, err)
		}
	}
	return addrs, nil
}

// CheckURL checks a sink URL as a subscription's create does: an absolute http(s) URL
// whose host resolves only to addresses the policy allows, and https unless they all are
// in allowed networks. The error is an errs InvalidEntity saying why.
func (p *Policy) CheckURL(ctx context.Context, sink string) error {
	u, err := url.Parse(sink)
	if err != nil {
		return errs.Invalid("sink %q is not a URL: %v", sink, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return errs.Invalid("sink %q: only https sinks are supported", sink)
	}
	if u.Hostname() == "" {
		return errs.Invalid("sink %q has no host", sink)
	}
	if _, err := p.resolve(ctx, u.Hostname(), u.Scheme == "http"); err != nil {
		return errs.Invalid("sink %q refused: %v", sink, err)
	}
	return nil
}

// ErrRefused wraps the error of a connection the policy refused.
var ErrRefused = errors.New("egress refused")

// dialer connects only to addresses the policy allows, resolving names itself and
// dialing the very addresses it checked.
type dialer struct {
	p     *Policy
	plain bool
	d     net.Dialer
}

func (d *dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	addrs, err := d.p.resolve(ctx, host, d.plain)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	var errsOut []error
	for _, a := range addrs {
		c, err := d.d.DialContext(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errsOut = append(errsOut, err)
	}
	return nil, errors.Join(errsOut...)
}

// Client is an HTTP client whose every connection the policy checks: https to allowed
// or public addresses, http to allowed networks only. It follows no redirect (a sink
// could redirect anywhere) and uses no proxy (the proxy's address would be checked, not
// the sink's). timeout bounds a request.
func (p *Policy) Client(timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout:       timeout,
		Transport:     bySchemeTransport{https: p.transport(false), http: p.transport(true)},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (p *Policy) transport(plain bool) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = (&dialer{p: p, plain: plain, d: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}}).DialContext
	t.MaxIdleConnsPerHost = 16
	return t
}

// bySchemeTransport sends http requests through the transport that dials allowed
// networks only, and all others through the one that dials public addresses too.
type bySchemeTransport struct{ https, http *http.Transport }

func (t bySchemeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" {
		return t.http.RoundTrip(r)
	}
	return t.https.RoundTrip(r)
}

// CloseIdleConnections closes both transports' idle connections.
func (t bySchemeTransport) CloseIdleConnections() {
	t.https.CloseIdleConnections()
	t.http.CloseIdleConnections()
}
