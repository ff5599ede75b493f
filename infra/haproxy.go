package infra

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// HAProxyAddrs are the four ports of a gateway, or the four fronts of HAProxy, as
// host:port (":9000" listens on every address). An empty one is left out: a gateway
// without it is no server of that backend, and HAProxy without it has no such front.
type HAProxyAddrs struct {
	HTTP  string // REST over plain HTTP (photon gateway --http)
	GRPC  string // gRPC over plain HTTP/2, h2c (--grpc)
	HTTPS string // REST, the token endpoint and gRPC over TLS, on one port (--https)
	Join  string // the hostds' join, renew and registrar endpoints over mutual TLS (--join-listen)
}

// A HAProxyGateway is one gateway behind HAProxy: its name in HAProxy's logs and stats
// page, and its addresses. HTTP is needed: every backend checks the gateway's health
// there (GET /v1/available), since one process serves all four ports.
type HAProxyGateway struct {
	Name string // default gw1, gw2, ... by position
	HAProxyAddrs
}

// HAProxyOptions say what HAProxy balances and where it listens.
type HAProxyOptions struct {
	// Gateways are the gateways to balance over: at least one.
	Gateways []HAProxyGateway
	// Listen are HAProxy's fronts. The zero value is DefaultHAProxyListen, the gateway's
	// own default ports on every address.
	Listen HAProxyAddrs
	// Stats is where HAProxy serves its own stats page (/stats; /stats;csv), its
	// Prometheus metrics (/metrics) and its liveness (/healthz). Default 127.0.0.1:8404.
	Stats string
	// User is the user and group HAProxy runs as once it has bound its ports, when it
	// starts as root ("": the user that starts it).
	User string
	// CheckInterval is how often each gateway's health is checked; a gateway is taken
	// out after two failed checks (the second comes a quarter interval after the first)
	// and put back after two good ones. Default 2s.
	CheckInterval time.Duration
}

// DefaultHAProxyListen are the gateway's default ports, on every address: clients and
// hostds use HAProxy's address as they would one gateway's.
var DefaultHAProxyListen = HAProxyAddrs{HTTP: ":9000", GRPC: ":9001", HTTPS: ":9443", Join: ":9002"}

// ExampleHAProxy is the deployment infra/haproxy/haproxy.cfg is rendered for: two
// gateways on the default ports of two machines.
var ExampleHAProxy = HAProxyOptions{Gateways: []HAProxyGateway{
	{Name: "gw1", HAProxyAddrs: HAProxyAddrs{HTTP: "10.0.0.11:9000", GRPC: "10.0.0.11:9001", HTTPS: "10.0.0.11:9443", Join: "10.0.0.11:9002"}},
	{Name: "gw2", HAProxyAddrs: HAProxyAddrs{HTTP: "10.0.0.12:9000", GRPC: "10.0.0.12:9001", HTTPS: "10.0.0.12:9443", Join: "10.0.0.12:9002"}},
}, User: "haproxy"}

// HAProxyFiles renders the generated files under infra/haproxy.
func HAProxyFiles() map[string]string {
	cfg, err := HAProxy(ExampleHAProxy)
	if err != nil {
		panic(err) // ExampleHAProxy is valid
	}
	return map[string]string{"haproxy.cfg": cfg}
}

// HAProxy renders the configuration of an HAProxy (Debian's haproxy, 2.6 or later) in
// front of o.Gateways: REST and gRPC balanced request by request, the TLS ports passed
// through to the gateways unterminated. Run it with `haproxy -f FILE` (-db to stay in
// the foreground); it logs to its standard output.
func HAProxy(o HAProxyOptions) (string, error) {
	if len(o.Gateways) == 0 {
		return "", errors.New("haproxy: no gateway to balance over")
	}
	if o.Listen == (HAProxyAddrs{}) {
		o.Listen = DefaultHAProxyListen
	}
	if o.Stats == "" {
		o.Stats = "127.0.0.1:8404"
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = 2 * time.Second
	}
	if o.CheckInterval < 4*time.Millisecond {
		return "", fmt.Errorf("haproxy: check interval %s: want 4ms or more", o.CheckInterval)
	}
	if strings.ContainsAny(o.User, " \t#") {
		return "", fmt.Errorf("haproxy: user %q: want a name without spaces", o.User)
	}
	for _, a := range []string{o.Listen.HTTP, o.Listen.GRPC, o.Listen.HTTPS, o.Listen.Join, o.Stats} {
		if _, err := splitAddr(a, true); a != "" && err != nil {
			return "", fmt.Errorf("haproxy: listen: %w", err)
		}
	}
	gws := make([]HAProxyGateway, len(o.Gateways))
	names := map[string]bool{}
	for i, g := range o.Gateways {
		if g.Name == "" {
			g.Name = "gw" + strconv.Itoa(i+1)
		}
		if names[g.Name] || strings.ContainsAny(g.Name, " \t#") {
			return "", fmt.Errorf("haproxy: gateway name %q: want a unique name without spaces", g.Name)
		}
		names[g.Name] = true
		if g.HTTP == "" {
			return "", fmt.Errorf("haproxy: gateway %s has no HTTP address, where its health is checked", g.Name)
		}
		for _, a := range []string{g.HTTP, g.GRPC, g.HTTPS, g.Join} {
			if _, err := splitAddr(a, false); a != "" && err != nil {
				return "", fmt.Errorf("haproxy: gateway %s: %w", g.Name, err)
			}
		}
		gws[i] = g
	}

	var b strings.Builder
	b.WriteString(header("HAProxy in front of several Photon gateways (infra.HAProxy renders it for other addresses)."))
	b.WriteString(`
global
    # No maxconn: HAProxy takes as many connections as its file descriptor limit allows
    # (LimitNOFILE under systemd).
    log stdout format raw local0 info
`)
	if o.User != "" {
		fmt.Fprintf(&b, "    user %[1]s\n    group %[1]s\n", o.User)
	}
	fmt.Fprintf(&b, haproxyDefaults, o.CheckInterval.Milliseconds(), (o.CheckInterval / 4).Milliseconds())
	for _, f := range haproxyFronts {
		if bind := f.addr(o.Listen); bind != "" {
			f.write(&b, bind, gws)
		}
	}
	fmt.Fprintf(&b, `
# HAProxy's own page: which gateways are up, and the calls each took (/stats, or
# /stats;csv), Prometheus metrics (/metrics) and HAProxy's liveness (/healthz, for
# whatever balances over several HAProxies). It lists the gateways' addresses: keep it
# on a private address.
frontend stats
    bind %s
    mode http
    monitor-uri /healthz
    http-request use-service prometheus-exporter if { path /metrics }
    stats enable
    stats uri /stats
    stats refresh 10s
`, o.Stats)
	return b.String(), nil
}

const haproxyDefaults = `
defaults
    log global
    option dontlognull
    # Connecting to a gateway takes milliseconds; one that does not answer in 3s is
    # treated as down for this request, which is retried (three times), each retry on
    # another gateway (redispatch), since any gateway serves any request. Only a request
    # that never reached a gateway is retried: a POST that reached one may have started
    # a task.
    timeout connect 3s
    retries 3
    option redispatch 1
    # Inactivity, not duration: a call may take as long as it keeps moving.
    timeout client 1m
    timeout server 1m
    timeout http-request 10s
    timeout http-keep-alive 15s
    timeout queue 10s
    # The TLS pass-through fronts carry long-lived connections (HTTP/2, gRPC, event
    # streams, a hostd's registrar): HAProxy cannot see inside them, so they are only
    # cut after an hour with nothing in either direction.
    timeout tunnel 1h
    timeout client-fin 10s
    timeout server-fin 10s
    timeout check 2s
    # Each gateway is checked every %[1]dms; after a failed check the next comes %[2]dms
    # later. Two failures take it out, and end the connections it had, so that
    # long-lived ones reconnect to a live gateway; two successes put it back.
    default-server inter %[1]d fastinter %[2]d downinter %[1]d fall 2 rise 2 on-marked-down shutdown-sessions
    # Every backend checks a gateway on its REST port, GET /v1/available, which answers
    # 200 {} without a token while the gateway serves: one process serves all four ports.
    option httpchk
    http-check send meth GET uri /v1/available ver HTTP/1.1 hdr Host photon-gateway
    http-check expect status 200
`

// A haproxyFront is one of HAProxy's fronts and its backend of gateways.
type haproxyFront struct {
	name, comment string
	addr          func(HAProxyAddrs) string // the front's address, or a gateway's
	http          bool                      // mode http, balanced by request; else mode tcp, by connection
	bind, backend string                    // more options of the bind line, more lines of the backend
	server        string                    // more options of each server
}

var haproxyFronts = []haproxyFront{{
	name: "rest", addr: func(a HAProxyAddrs) string { return a.HTTP }, http: true, backend: "    option forwardfor\n",
	comment: `REST over plain HTTP, balanced request by request. A gateway keeps nothing of a client
between requests (tokens are checked anywhere, state is in Redis), so there is no
stickiness. GET /v1/events/stream, a server-sent event stream, gets a comment from the
gateway every 15s and ends itself after 10 minutes: the 1m inactivity timeouts outlast
the first and the client reconnects after the second. The gateway's audit log names the
client by X-Forwarded-For.`,
}, {
	name: "grpc", addr: func(a HAProxyAddrs) string { return a.GRPC }, http: true, bind: " proto h2", server: " proto h2 check-proto h1",
	comment: `gRPC over h2c, HTTP/2 end to end (proto h2 on both sides). HAProxy reads the HTTP/2
streams, so each call is balanced on its own: a gRPC client keeps one connection for all
its calls, which in mode tcp would pin it to one gateway until it reconnects. A call
whose connection to a gateway cannot be made is retried on another. The health check
speaks HTTP/1.1 (check-proto h1), the REST port's protocol.`,
}, {
	name: "https", addr: func(a HAProxyAddrs) string { return a.HTTPS },
	comment: `REST, the token endpoint and gRPC over TLS, passed through: the client's TLS session
ends at a gateway, which presents its own certificate. That certificate must name the
address clients dial, this HAProxy's: give every gateway --public-url with it (the
platform CA's certificate names that host) or the same --tls-cert. HAProxy holds no key
and balances connections, the least busy gateway first: an HTTP/2 or gRPC connection
carries many calls and may last long.`,
}, {
	name: "join", addr: func(a HAProxyAddrs) string { return a.Join },
	comment: `The hostds' join, renew and registrar endpoints, passed through: mutual TLS, where the
gateway checks each hostd's client certificate, which HAProxy could not forward if it
ended TLS. Each gateway's join certificate must name the address hostds dial, this
HAProxy's: give every gateway --join-name with it.`,
}}

// write writes the front, listening on bind, and its backend: a server for each of gws
// that has an address for it, checked on its REST port.
func (f haproxyFront) write(b *strings.Builder, bind string, gws []HAProxyGateway) {
	mode, log, balance := "tcp", "tcplog", "leastconn"
	if f.http {
		mode, log, balance = "http", "httplog", "roundrobin"
	}
	fmt.Fprintf(b, "\n# %s\nfrontend %s\n    bind %s%s\n    mode %s\n    option %s\n    default_backend photon-%[2]s\n",
		strings.ReplaceAll(f.comment, "\n", "\n# "), f.name, bind, f.bind, mode, log)
	fmt.Fprintf(b, "\nbackend photon-%s\n    mode %s\n    balance %s\n%s", f.name, mode, balance, f.backend)
	for _, g := range gws {
		if a := f.addr(g.HAProxyAddrs); a != "" {
			fmt.Fprintf(b, "    server %s %s%s check%s\n", g.Name, a, f.server, checkAt(a, g.HTTP))
		}
	}
}

// checkAt is the server options that send a server's health check to the gateway's
// REST address http: its port, and its host when that differs from the server's.
func checkAt(server, http string) string {
	if server == http {
		return ""
	}
	sh, _ := splitAddr(server, false)
	hh, _ := splitAddr(http, false)
	_, port, _ := net.SplitHostPort(http)
	if sh != hh {
		return " addr " + hh + " port " + port
	}
	return " port " + port
}

// splitAddr checks that a is host:port and answers its host; only a listen address
// (listen) may leave the host out.
func splitAddr(a string, listen bool) (string, error) {
	h, p, err := net.SplitHostPort(a)
	if err != nil {
		return "", fmt.Errorf("address %q: %w", a, err)
	}
	if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("address %q: want a port number", a)
	}
	if h == "" && !listen {
		return "", fmt.Errorf("address %q: want a host", a)
	}
	return h, nil
}
