package infra_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/csv"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/infra"
	"github.com/photon-cloud/photon/loadtest"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

func TestHAProxyOptions(t *testing.T) {
	gw := func(name, http string) infra.HAProxyGateway {
		return infra.HAProxyGateway{Name: name, HAProxyAddrs: infra.HAProxyAddrs{HTTP: http, GRPC: "127.0.0.1:9001"}}
	}
	for _, tc := range []struct {
		name string
		o    infra.HAProxyOptions
		want string // in the error; "" for none
	}{
		{"example", infra.ExampleHAProxy, ""},
		{"names by default", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("", "127.0.0.1:9000"), gw("", "127.0.0.1:9010")}}, ""},
		{"no gateway", infra.HAProxyOptions{}, "no gateway"},
		{"no HTTP address", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("a", "")}}, "no HTTP address"},
		{"same name twice", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("a", "127.0.0.1:9000"), gw("a", "127.0.0.1:9010")}}, "unique name"},
		{"name with a space", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("a b", "127.0.0.1:9000")}}, "unique name"},
		{"gateway without a host", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("a", ":9000")}}, "want a host"},
		{"no port", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("a", "10.0.0.1")}}, "missing port"},
		{"port out of range", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("a", "10.0.0.1:70000")}}, "want a port number"},
		{"bad listen address", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("a", "10.0.0.1:9000")},
			Listen: infra.HAProxyAddrs{HTTP: "9000"}}, "listen"},
		{"user with a space", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("a", "10.0.0.1:9000")}, User: "ha proxy"}, "user"},
		{"check interval too short", infra.HAProxyOptions{Gateways: []infra.HAProxyGateway{gw("a", "10.0.0.1:9000")},
			CheckInterval: time.Millisecond}, "check interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := infra.HAProxy(tc.o)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			case tc.want == "" && !strings.Contains(cfg, "server gw1 ") && !strings.Contains(cfg, "server a "):
				t.Fatalf("no server in\n%s", cfg)
			}
		})
	}
}

// haproxyBin finds Debian's haproxy (make deps installs it). Without it the tests that
// run it skip, unless they run in CI, where they must run.
func haproxyBin(t *testing.T) string {
	p, err := exec.LookPath("haproxy")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("haproxy is not installed (make deps installs it)")
	}
	t.Skip("haproxy is not installed: make deps installs it")
	return ""
}

// TestHAProxyConfigValid has haproxy check the example file and a config with only some
// fronts, and wants no warning: the generator writes what this HAProxy takes as it is.
// (haproxy -c parses; it connects to nothing.)
func TestHAProxyConfigValid(t *testing.T) {
	bin := haproxyBin(t)
	partial, err := infra.HAProxy(infra.HAProxyOptions{
		Gateways: []infra.HAProxyGateway{{HAProxyAddrs: infra.HAProxyAddrs{HTTP: "127.0.0.1:9000", GRPC: "127.0.0.2:9001"}}},
		Listen:   infra.HAProxyAddrs{HTTP: "127.0.0.1:19000", GRPC: "127.0.0.1:19001"}, CheckInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(partial, "frontend https") || strings.Contains(partial, "frontend join") || !strings.Contains(partial, "addr 127.0.0.1 port 9000") {
		t.Errorf("a config without HTTPS and join fronts, checking gRPC on another host:\n%s", partial)
	}
	partialFile := filepath.Join(t.TempDir(), "partial.cfg")
	if err := os.WriteFile(partialFile, []byte(partial), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join("haproxy", "haproxy.cfg"), partialFile} {
		out, err := exec.CommandContext(t.Context(), bin, "-c", "-f", f).CombinedOutput()
		if err != nil || bytes.Contains(out, []byte("WARNING")) || bytes.Contains(out, []byte("ALERT")) {
			t.Errorf("haproxy -c -f %s: %v\n%s", f, err, out)
		}
	}
}

// haproxyTestDB is the database of the test Redis the gateways of TestHAProxyGateways
// keep their state in: a gateway's keys have the default prefix, which tests of other
// packages may use too on database 0.
const haproxyTestDB = 1

// TestHAProxyGateways runs two gateways (photon gateway, as processes) on one Redis
// behind a real HAProxy with the config infra.HAProxy renders, and calls them through it
// as clients and hostds would: REST, gRPC, the HTTPS port (REST and gRPC on it, the
// gateways' own certificates) and the join endpoint (a join, then a renewal over mutual
// TLS on each gateway). Calls are spread over both gateways; after one is killed (SIGKILL), the health
// check takes it out and every call goes on succeeding.
func TestHAProxyGateways(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two gateways and HAProxy as processes")
	}
	hap := haproxyBin(t)
	ctx := t.Context()
	dir := t.TempDir()
	photon := os.Getenv("PHOTON_BIN") // make test builds it once for every test that runs it
	if photon == "" {
		photon = filepath.Join(dir, "photon")
		build := exec.CommandContext(ctx, "go", "build", "-o", photon, "github.com/photon-cloud/photon/cmd/photon")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build photon: %v\n%s", err, out)
		}
	}
	redisURL, rdb := haproxyRedis(t)
	ports := freePorts(t, 13)
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	const password = "haproxy-admin"

	// The gateways, one after the other (the first makes the platform CA).
	var gws []infra.HAProxyGateway
	var procs []*process
	for i := range 2 {
		g := infra.HAProxyGateway{Name: fmt.Sprintf("gw%d", i+1), HAProxyAddrs: infra.HAProxyAddrs{
			HTTP: addr(4 * i), GRPC: addr(4*i + 1), HTTPS: addr(4*i + 2), Join: addr(4*i + 3)}}
		procs = append(procs, startProcess(t, g.Name, "gateway: join endpoint on", photon, "gateway", "--redis", redisURL,
			"--admin-password", password, "--http", g.HTTP, "--grpc", g.GRPC, "--https", g.HTTPS, "--join-listen", g.Join))
		gws = append(gws, g)
	}
	front := infra.HAProxyAddrs{HTTP: addr(8), GRPC: addr(9), HTTPS: addr(10), Join: addr(11)}
	cfg, err := infra.HAProxy(infra.HAProxyOptions{Gateways: gws, Listen: front, Stats: addr(12), CheckInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	stats := haproxyStats{t: t, url: "http://" + addr(12) + "/stats;csv",
		proc: startProcess(t, "haproxy", "", hap, "-f", cfgFile, "-db")}
	backends := []string{"photon-rest", "photon-grpc", "photon-https", "photon-join"}
	// Up means checked: GET /v1/available answered 200 on each gateway's REST port.
	stats.waitFor(ctx, "every gateway checked and up", func(s map[string]map[string]serverStats) bool {
		for _, b := range backends {
			for _, g := range gws {
				if st := s[b][g.Name]; st.Status != "UP" || st.Check != "L7OK" {
					return false
				}
			}
		}
		return true
	})

	ca, err := pki.LoadOrCreateCA(ctx, rdb, store.DefaultPrefix)
	if err != nil {
		t.Fatal(err)
	}
	c := newHAProxyClient(t, front, ca)
	if err := c.login(ctx, password); err != nil {
		t.Fatal(err)
	}
	t.Run("event stream", func(t *testing.T) { c.eventStream(t) })

	// Each gateway presents its own certificate through the HTTPS front: HAProxy ends no
	// TLS. Fresh connections go to the least busy gateway, both in turn.
	t.Run("HTTPS passed through", func(t *testing.T) {
		own := map[string]string{}
		for _, g := range gws {
			own[string(leaf(t, g.HTTPS, ca))] = g.Name
		}
		if len(own) != 2 {
			t.Fatal("the two gateways present the same certificate: the test cannot tell them apart")
		}
		seen := map[string]bool{}
		for range 4 {
			name, ok := own[string(leaf(t, front.HTTPS, ca))]
			if !ok {
				t.Fatal("the HTTPS front presents a certificate of neither gateway")
			}
			seen[name] = true
		}
		if len(seen) != 2 {
			t.Errorf("four connections to the HTTPS front reached %v, want both gateways", seen)
		}
	})

	// A hostd joins through the join front, then renews over mutual TLS: the gateway
	// behind HAProxy must see its client certificate.
	t.Run("join and renew over mutual TLS", func(t *testing.T) {
		id := uuid.NewString()
		token, err := pki.NewJoiner(ca, rdb, store.DefaultPrefix).CreateJoinToken(ctx, id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		joinURL := "https://" + front.Join
		h, err := pki.Enroll(ctx, pki.EnrollOptions{JoinURL: joinURL, Token: token, Pin: ca.Pin(), Names: []string{"127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		first := h.NotAfter()
		before := stats.read(ctx)["photon-join"]
		for range 2 { // a fresh connection each: one to each gateway (leastconn)
			if err := h.Renew(ctx, joinURL); err != nil {
				t.Fatal(err)
			}
		}
		if h.ID() != id || h.NotAfter().Before(first) {
			t.Errorf("renewed host %s until %s, want %s until after %s", h.ID(), h.NotAfter(), id, first)
		}
		after := stats.read(ctx)["photon-join"]
		for _, g := range gws {
			if after[g.Name].Sessions-before[g.Name].Sessions != 1 {
				t.Errorf("%s took %d of the two renewals, want one", g.Name, after[g.Name].Sessions-before[g.Name].Sessions)
			}
		}
	})

	// Calls are balanced one by one: a run of each kind reaches both gateways (the gRPC
	// ones all on one client connection).
	before := stats.read(ctx)
	for range 6 {
		if err := c.round(ctx); err != nil {
			t.Fatal(err)
		}
	}
	after := stats.read(ctx)
	for _, b := range []string{"photon-rest", "photon-grpc"} {
		for _, g := range gws {
			if n := after[b][g.Name].OK - before[b][g.Name].OK; n < 3 {
				t.Errorf("%s answered %d calls of %s through HAProxy, want 3 or more (balanced)", g.Name, n, b)
			}
		}
	}

	// gw1 dies. Calls go on while HAProxy's checks find out; once it is out, none fails.
	procs[0].kill()
	var failed []error
	tried := 0
	stats.waitFor(ctx, "gw1 out of every backend", func(s map[string]map[string]serverStats) bool {
		tried++
		if err := c.round(ctx); err != nil {
			failed = append(failed, err)
		}
		for _, b := range backends {
			if !strings.HasPrefix(s[b]["gw1"].Status, "DOWN") {
				return false
			}
		}
		return true
	})
	t.Logf("%d of %d rounds of calls failed while gw1 was going down: %v", len(failed), tried, failed)
	before = stats.read(ctx)
	const rounds = 20
	for i := range rounds {
		if err := c.round(ctx); err != nil {
			t.Fatalf("round %d after gw1 was taken out: %v", i, err)
		}
	}
	after = stats.read(ctx)
	for _, b := range []string{"photon-rest", "photon-grpc"} {
		if n := after[b]["gw2"].OK - before[b]["gw2"].OK; n < rounds {
			t.Errorf("gw2 answered %d calls of %s in %d rounds, want every one", n, b, rounds)
		}
	}
}

// haproxyRedis is the URL of the test Redis's database haproxyTestDB, emptied, and a
// client of it; the database is emptied again when the test ends.
func haproxyRedis(t *testing.T) (string, *redis.Client) {
	u, err := url.Parse(storetest.SingleURL(t)) // a database of its own: one server's
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + strconv.Itoa(haproxyTestDB)
	opt, err := keyspace.ParseURL(u.String())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	flush := func() {
		if err := rdb.FlushDB(context.Background()).Err(); err != nil {
			t.Error(err)
		}
	}
	flush()
	t.Cleanup(func() { flush(); rdb.Close() })
	return u.String(), rdb
}

// freePorts are n free loopback ports.
func freePorts(t *testing.T, n int) []int {
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out
}

// A process is a part the test runs; its output is logged if the test fails.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	out  *watchBuffer
}

// startProcess runs path with args until the test ends, and waits for ready in its
// output ("": for nothing).
func startProcess(t *testing.T, name, ready, path string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(path, args...), done: make(chan struct{}),
		out: &watchBuffer{marker: []byte(ready), seen: make(chan struct{})}}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, p.out.String())
		}
	})
	if ready == "" {
		return p
	}
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case <-p.out.seen:
		return p
	case <-p.done:
		t.Fatalf("%s exited (%s) before it was ready:\n%s", name, p.cmd.ProcessState, p.out.String())
	case <-timer.C:
		t.Fatalf("%s not ready in 30s:\n%s", name, p.out.String())
	}
	return nil
}

// kill SIGKILLs the process and waits for it to be gone.
func (p *process) kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// watchBuffer keeps a process's output and closes seen once marker has appeared in it.
type watchBuffer struct {
	marker []byte
	seen   chan struct{}

	mu  sync.Mutex
	buf bytes.Buffer
	hit bool
}

func (w *watchBuffer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(b)
	if !w.hit && len(w.marker) > 0 && bytes.Contains(w.buf.Bytes(), w.marker) {
		w.hit = true
		close(w.seen)
	}
	return len(b), nil
}

func (w *watchBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// serverStats is what HAProxy's stats page says of one server of one backend.
type serverStats struct {
	Status, Check string // UP, DOWN, ...; L7OK when its last check passed
	Sessions      int    // connections (mode tcp) or requests (mode http) it took
	OK            int    // responses 2xx (mode http)
}

type haproxyStats struct {
	t    *testing.T
	url  string
	proc *process // HAProxy
}

// read answers the stats by backend and server.
func (h haproxyStats) read(ctx context.Context) map[string]map[string]serverStats {
	h.t.Helper()
	s, err := h.get(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

func (h haproxyStats) get(ctx context.Context) (map[string]map[string]serverStats, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("# ")))).ReadAll()
	if err != nil || len(rows) < 2 {
		return nil, fmt.Errorf("stats %s: %v: %q", h.url, err, body)
	}
	col := func(name string) int { return slices.Index(rows[0], name) }
	px, sv, status, check, sessions, ok := col("pxname"), col("svname"), col("status"), col("check_status"), col("stot"), col("hrsp_2xx")
	if min(px, sv, status, check, sessions, ok) < 0 {
		return nil, fmt.Errorf("stats %s: columns %v", h.url, rows[0])
	}
	out := map[string]map[string]serverStats{}
	for _, r := range rows[1:] {
		if out[r[px]] == nil {
			out[r[px]] = map[string]serverStats{}
		}
		n, _ := strconv.Atoi(r[ok])
		m, _ := strconv.Atoi(r[sessions])
		out[r[px]][r[sv]] = serverStats{Status: r[status], Check: r[check], Sessions: m, OK: n}
	}
	return out, nil
}

// waitFor polls the stats until done holds of them, for 30s at most.
func (h haproxyStats) waitFor(ctx context.Context, what string, done func(map[string]map[string]serverStats) bool) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last any
	for time.Now().Before(deadline) {
		s, err := h.get(ctx)
		if err == nil && done(s) {
			return
		}
		if last = s; err != nil {
			last = err // HAProxy may not listen yet
		}
		select {
		case <-ctx.Done():
			h.t.Fatal(ctx.Err())
		case <-h.proc.done:
			h.t.Fatalf("%s: haproxy exited (%s)", what, h.proc.cmd.ProcessState)
		case <-tick.C:
		}
	}
	h.t.Fatalf("%s: not after 30s; stats %v", what, last)
}

// leaf is the certificate the TLS server at addr presents, which must verify against
// the platform CA for 127.0.0.1.
func leaf(t *testing.T, addr string, ca *pki.CA) []byte {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS to %s: %v", addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw
}

// haproxyClient calls the gateways through HAProxy's fronts, as a client would: one
// HTTP client for REST and one for HTTPS, one gRPC connection through the gRPC front and
// one through the HTTPS front.
type haproxyClient struct {
	http, https  *http.Client
	grpc, grpcs  pb.TenantsClient
	token        string
	rest, secure string // base URLs
}

func newHAProxyClient(t *testing.T, front infra.HAProxyAddrs, ca *pki.CA) *haproxyClient {
	c := &haproxyClient{rest: "http://" + front.HTTP, secure: "https://" + front.HTTPS}
	ht := http.DefaultTransport.(*http.Transport).Clone()
	st := http.DefaultTransport.(*http.Transport).Clone()
	st.TLSClientConfig = &tls.Config{RootCAs: ca.Pool()}
	c.http = &http.Client{Transport: ht, Timeout: 10 * time.Second}
	c.https = &http.Client{Transport: st, Timeout: 10 * time.Second}
	cc, err := grpc.NewClient(front.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ccs, err := grpc.NewClient(front.HTTPS, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool()})))
	if err != nil {
		t.Fatal(err)
	}
	c.grpc, c.grpcs = pb.NewTenantsClient(cc), pb.NewTenantsClient(ccs)
	t.Cleanup(func() { cc.Close(); ccs.Close(); ht.CloseIdleConnections(); st.CloseIdleConnections() })
	return c
}

func (c *haproxyClient) login(ctx context.Context, password string) (err error) {
	c.token, err = loadtest.Login(ctx, c.http, c.rest, "admin", password)
	return err
}

// get answers an error unless GET base+path answers 200 with a body that has want.
func (c *haproxyClient) get(ctx context.Context, hc *http.Client, base, path, want string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("GET %s%s: %s %q", base, path, res.Status, body)
	}
	return nil
}

// round makes one call of each kind: GET /v1/available and GET /v1/tenants over REST,
// ListTenants over gRPC, GET /v1/tenants and ListTenants over the HTTPS front.
func (c *haproxyClient) round(ctx context.Context) error {
	if err := c.get(ctx, c.http, c.rest, "/v1/available", "{}"); err != nil {
		return err
	}
	if err := c.get(ctx, c.http, c.rest, "/v1/tenants", "items"); err != nil {
		return err
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token)
	if _, err := c.grpc.ListTenants(authed, &pb.ListTenantsRequest{}); err != nil {
		return fmt.Errorf("gRPC ListTenants: %w", err)
	}
	if err := c.get(ctx, c.https, c.secure, "/v1/tenants", "items"); err != nil {
		return err
	}
	if _, err := c.grpcs.ListTenants(authed, &pb.ListTenantsRequest{}); err != nil {
		return fmt.Errorf("gRPC over TLS ListTenants: %w", err)
	}
	return nil
}

// eventStream reads the start of GET /v1/events/stream through the REST front: HAProxy
// passes it on as it comes, without waiting for the response to end.
func (c *haproxyClient) eventStream(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.rest+"/v1/events/stream", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := (&http.Client{Transport: c.http.Transport}).Do(req) // no timeout: it streams
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" || line != "retry: 2000\n" {
		t.Fatalf("event stream: %s %s, first line %q, %v", res.Status, res.Header.Get("Content-Type"), line, err)
	}
}
