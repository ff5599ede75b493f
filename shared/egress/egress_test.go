package egress_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/errs"
)

// names is a resolver of fixed answers; a name it does not know does not resolve.
type names map[string][]string

func (n names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range n[host] {
		out = append(out, netip.MustParseAddr(a))
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	dns := names{
		"example.com":       {"93.184.215.14"},
		"sink.example.com":  {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"loop.example.com":  {"127.0.0.1"},
		"mixed.example.com": {"93.184.215.14", "10.0.0.7"},
		"meta.example.com":  {"169.254.169.254"},
	}
	own := netip.MustParseAddr("198.51.100.7")
	cases := []struct {
		sink           string
		denied, opened string // "" when allowed; else a part of the refusal
	}{
		{"https://example.com/hook", "", ""},
		{"https://sink.example.com:8443/hook", "", ""},
		{"http://example.com/hook", "use https", "use https"},
		{"https://127.0.0.1/hook", "loopback", ""},
		{"https://127.0.0.2:9000/hook", "loopback", ""},
		{"https://10.1.2.3/hook", "private", "private"},
		{"https://192.168.1.1/hook", "private", "private"},
		{"https://169.254.169.254/latest/meta-data", "link-local", "link-local"},
		{"https://meta.example.com/", "link-local", "link-local"},
		{"https://[::1]/hook", "loopback", ""},
		{"https://[fe80::1]/hook", "link-local", "link-local"},
		{"https://[fd00::1]/hook", "private", "private"},
		{"https://[::ffff:127.0.0.1]/hook", "loopback", ""},
		{"https://0.0.0.0/hook", "unspecified", "unspecified"},
		{"https://[::]/hook", "unspecified", "unspecified"},
		{"https://224.0.0.1/hook", "multicast", "multicast"},
		{"https://100.64.0.1/hook", "reserved", "reserved"},
		{"https://localhost/hook", "loopback", ""},
		{"https://api.localhost/hook", "loopback", ""},
		{"http://localhost:8080/hook", "use https", ""},
		{"http://127.0.0.1:9/hook", "use https", ""},
		{"https://loop.example.com/hook", "loopback", ""},
		{"https://mixed.example.com/hook", "private", "private"},
		{"https://198.51.100.7/hook", "platform's own", "platform's own"},
		{"https://unknown.example.com/hook", "resolve", "resolve"},
		{"ftp://example.com/x", "only https", "only https"},
		{"https:///nohost", "no host", "no host"},
	}
	policies := map[string]*egress.Policy{
		"denied": {Resolver: dns, Own: []netip.Addr{own}},
		"opened": {Resolver: dns, Own: []netip.Addr{own}, Allow: egress.Loopback},
	}
	for _, tc := range cases {
		for name, p := range policies {
			want := tc.denied
			if name == "opened" {
				want = tc.opened
			}
			t.Run(name+" "+tc.sink, func(t *testing.T) {
				err := p.CheckURL(t.Context(), tc.sink)
				switch {
				case want == "" && err != nil:
					t.Fatalf("refused: %v", err)
				case want != "" && err == nil:
					t.Fatalf("allowed, want refused (%s)", want)
				case want != "" && (!strings.Contains(err.Error(), want) || errs.As(err).Code != errs.CodeInvalidEntity):
					t.Fatalf("%v, want an InvalidEntity saying %q", err, want)
				}
			})
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	t.Parallel()
	got, err := egress.ParsePrefixes([]string{"127.0.0.0/8", " 10.1.2.3 ", "", "fd00::/8", "10.9.9.9/16"})
	if err != nil || fmt.Sprint(got) != "[127.0.0.0/8 10.1.2.3/32 fd00::/8 10.9.0.0/16]" {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := egress.ParsePrefixes([]string{"nonsense"}); err == nil {
		t.Fatal("a bad network parsed")
	}
}

// TestClientChecksEachConnection: the client resolves a sink's name at each connection
// and connects only to an address it checked, so a name that passed the check at create
// and then resolves to loopback reaches nothing; a network an administrator opened is
// reached, by a name too.
func TestClientChecksEachConnection(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	// The name resolves to a public address at the check, to loopback after (rebinding).
	var lookups atomic.Int64
	p := &egress.Policy{Resolver: egress.ResolverFunc(func(context.Context, string, string) ([]netip.Addr, error) {
		if lookups.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})}
	sink := "https://sink.example.com:" + port + "/hook"
	if err := p.CheckURL(t.Context(), sink); err != nil {
		t.Fatalf("the check at create: %v", err)
	}
	resp, err := p.Client(5*time.Second).Post(sink, "text/plain", nil)
	if err == nil {
		resp.Body.Close()
	}
	if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("the rebound name: %v, want refused as loopback", err)
	}

	opened := &egress.Policy{Resolver: names{"sink.example.com": {"127.0.0.1"}}, Allow: egress.Loopback}
	for _, u := range []string{"http://sink.example.com:" + port + "/hook", srv.URL + "/hook"} {
		resp, err := opened.Client(5*time.Second).Post(u, "text/plain", nil)
		if err != nil {
			t.Fatalf("%s in an allowed network: %v", u, err)
		}
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	if hits != 2 {
		t.Fatalf("the sink got %d requests, want the 2 to the allowed network", hits)
	}
}

// TestClientFollowsNoRedirect: a sink's redirect is its answer, never followed.
func TestClientFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.RedirectHandler("http://10.0.0.1/inside", http.StatusTemporaryRedirect))
	t.Cleanup(srv.Close)
	resp, err := (&egress.Policy{Allow: egress.Loopback}).Client(5*time.Second).Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("status %d, want the redirect itself", resp.StatusCode)
	}
}
