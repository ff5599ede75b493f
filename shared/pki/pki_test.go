package pki

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// fakeClock is a clock the test moves. After's channels fire when Advance passes them;
// waiting receives each time someone starts to wait.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []fakeTimer
	waiting chan struct{}
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now(), waiting: make(chan struct{}, 64)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
	} else {
		c.timers = append(c.timers, fakeTimer{c.now.Add(d), ch})
	}
	c.mu.Unlock()
	c.waiting <- struct{}{}
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.timers = slices.DeleteFunc(c.timers, func(t fakeTimer) bool {
		if t.at.After(c.now) {
			return false
		}
		t.ch <- c.now
		return true
	})
}

func testCA(t *testing.T) *CA {
	t.Helper()
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestIssue(t *testing.T) {
	t.Parallel()
	ca := testCA(t)
	if c := ca.Certificate(); !c.IsCA || c.NotAfter.Sub(c.NotBefore) < CAValidity {
		t.Fatalf("CA certificate: CA %v, valid %v", c.IsCA, c.NotAfter.Sub(c.NotBefore))
	}
	svc, err := ca.ServiceCredentials("gateway")
	if err != nil {
		t.Fatal(err)
	}
	host, err := ca.HostCredentials("h1", "127.0.0.1", "esx1.example.com")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		cert    *x509.Certificate
		usage   x509.ExtKeyUsage
		dnsName string
		want    bool
		ident   func(*x509.Certificate) (string, bool)
		id      string
	}{
		{"service as client", svc.Leaf, x509.ExtKeyUsageClientAuth, "", true, ServiceName, "gateway"},
		{"service as server", svc.Leaf, x509.ExtKeyUsageServerAuth, "", false, ServiceName, "gateway"},
		{"host as server by IP", host.Leaf, x509.ExtKeyUsageServerAuth, "127.0.0.1", true, HostID, "h1"},
		{"host as server by name", host.Leaf, x509.ExtKeyUsageServerAuth, "esx1.example.com", true, HostID, "h1"},
		{"host at another address", host.Leaf, x509.ExtKeyUsageServerAuth, "10.0.0.9", false, HostID, "h1"},
		{"host as client", host.Leaf, x509.ExtKeyUsageClientAuth, "", true, HostID, "h1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: tc.dnsName, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
			if (err == nil) != tc.want {
				t.Fatalf("verify: %v, want ok=%v", err, tc.want)
			}
			if id, ok := tc.ident(tc.cert); !ok || id != tc.id {
				t.Fatalf("identity %q %v, want %q", id, ok, tc.id)
			}
		})
	}
	if _, err := testCA(t).ServiceCredentials("gateway"); err != nil {
		t.Fatal(err)
	} else if _, err := svc.Leaf.Verify(x509.VerifyOptions{Roots: testCA(t).Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err == nil {
		t.Fatal("a certificate verified against another CA")
	}
	for _, bad := range []Leaf{{}, {PublicKey: &newKey(t).PublicKey, Usage: ClientAuth}, {PublicKey: &newKey(t).PublicKey, Validity: time.Hour}} {
		if _, err := ca.Issue(bad); err == nil {
			t.Errorf("Issue(%+v) signed", bad)
		}
	}
	for _, name := range []string{"", "a/b", "../x", "h 1"} {
		if _, err := ca.HostCredentials(name); err == nil {
			t.Errorf("HostCredentials(%q) signed", name)
		}
	}
	if l, err := ca.Issue(Leaf{PublicKey: &newKey(t).PublicKey, Usage: ClientAuth, Validity: 2 * CAValidity}); err != nil || l.NotAfter.After(ca.Certificate().NotAfter) {
		t.Fatalf("a leaf outlives its CA: %v %v", l.NotAfter, err)
	}
}

// TestLoadOrCreateCA: processes that start together share one CA.
func TestLoadOrCreateCA(t *testing.T) {
	t.Parallel()
	rdb, prefix := storetest.Client(t), storetest.Prefix(t)
	pins := make([]string, 8)
	var wg sync.WaitGroup
	for i := range pins {
		wg.Go(func() {
			ca, err := LoadOrCreateCA(t.Context(), rdb, prefix)
			if err != nil {
				t.Error(err)
				return
			}
			pins[i] = ca.Pin()
		})
	}
	wg.Wait()
	again, err := LoadOrCreateCA(t.Context(), rdb, prefix)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pins {
		if p != again.Pin() {
			t.Fatalf("caller %d has CA %s, the store %s", i, p, again.Pin())
		}
	}
	// The loaded CA signs what the others verify.
	c, err := again.ServiceCredentials("f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: again.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatal(err)
	}
	if other, _ := LoadOrCreateCA(t.Context(), rdb, storetest.Prefix(t)); other.Pin() == again.Pin() {
		t.Fatal("another prefix has the same CA")
	}
}

func csr(t *testing.T, key *ecdsa.PrivateKey, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestRedeem(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	j := NewJoiner(testCA(t), storetest.Client(t), storetest.Prefix(t))
	key := newKey(t)
	// The request asks to be another host, and a service: the token decides.
	greedy := csr(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "h-other"},
		URIs: []*url.URL{HostURI("h-other"), ServiceURI("gateway")}, DNSNames: []string{"esx1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
	forged := slices.Clone(greedy)
	forged[len(forged)-3] ^= 0xff // the signature no longer holds

	token := func(host string) string {
		tok, err := j.CreateJoinToken(ctx, host, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	used := token("h1")
	if _, _, err := j.Redeem(ctx, used, greedy); err != nil {
		t.Fatal(err)
	}
	expired := token("h1")
	if err := j.rdb.PExpireAt(ctx, j.tokenKey(expired), time.Unix(1, 0)).Err(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		token  string
		csr    []byte
		host   string // the identity the certificate must carry
		code   string // the refusal's code, or ""
		reused bool   // the token redeems once more after the refusal
	}{
		{"host X is X whatever the request says", token("h-x"), greedy, "h-x", "", false},
		{"used", used, greedy, "", errs.CodeInvalidAuthToken, false},
		{"expired", expired, greedy, "", errs.CodeInvalidAuthToken, false},
		{"unknown", rand.Text(), greedy, "", errs.CodeInvalidAuthToken, false},
		{"empty", "", greedy, "", errs.CodeInvalidAuthToken, false},
		{"forged request keeps the token", token("h2"), forged, "h2", errs.CodeInvalidEntity, true},
		{"garbage request", token("h3"), []byte("not DER"), "h3", errs.CodeInvalidEntity, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, caPEM, err := j.Redeem(ctx, tc.token, tc.csr)
			if tc.code != "" {
				if e := errs.As(err); e.Code != tc.code {
					t.Fatalf("Redeem = %v, want %s", err, tc.code)
				}
				if !tc.reused {
					return
				}
				if certPEM, caPEM, err = j.Redeem(ctx, tc.token, greedy); err != nil {
					t.Fatalf("the token was spent by a refused request: %v", err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			leaf, _, err := checkIssued(certPEM, caPEM, key, j.CA().Pool())
			if err != nil {
				t.Fatal(err)
			}
			if id, _ := HostID(leaf); id != tc.host || leaf.Subject.CommonName != tc.host || len(leaf.URIs) != 1 {
				t.Fatalf("certificate for %q (CN %q, URIs %v), want %s", id, leaf.Subject.CommonName, leaf.URIs, tc.host)
			}
			if !slices.Equal(certNames(leaf), []string{"esx1", "127.0.0.1"}) {
				t.Fatalf("names %v, want the request's", certNames(leaf))
			}
			if _, _, err := j.Redeem(ctx, tc.token, greedy); errs.As(err).Code != errs.CodeInvalidAuthToken {
				t.Fatalf("second redeem: %v, want refused", err)
			}
		})
	}
	for _, bad := range []struct {
		host string
		ttl  time.Duration
	}{{"", time.Hour}, {"a/b", time.Hour}, {"h1", 0}} {
		if _, err := j.CreateJoinToken(ctx, bad.host, bad.ttl); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("CreateJoinToken(%q, %v) = %v, want invalid", bad.host, bad.ttl, err)
		}
	}
}

// TestRenewing: a service's certificate is replaced once it has lived two thirds of its
// life, never presented expired, and kept while renewal fails and it is still valid.
func TestRenewing(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ca := testCA(t).WithClock(clock)
	var fail bool
	r, err := NewRenewing(func() (tls.Certificate, error) {
		if fail {
			return tls.Certificate{}, errors.New("injected")
		}
		return ca.ServiceCredentials("functions")
	}, clock)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := r.Certificate()
	steps := []struct {
		advance time.Duration
		fail    bool
		fresh   bool // a new certificate
		err     bool
	}{
		{ServiceValidity / 2, false, false, false},
		{ServiceValidity / 6, false, true, false}, // past two thirds
		{ServiceValidity * 3 / 4, true, false, false},
		{ServiceValidity / 2, true, false, true}, // expired, and renewal fails
		{0, false, true, false},
	}
	prev := first
	for i, st := range steps {
		clock.Advance(st.advance)
		fail = st.fail
		c, err := r.Certificate()
		if (err != nil) != st.err {
			t.Fatalf("step %d: %v", i, err)
		}
		if err != nil {
			continue
		}
		if fresh := c.Leaf.SerialNumber.Cmp(prev.Leaf.SerialNumber) != 0; fresh != st.fresh {
			t.Fatalf("step %d: new certificate %v, want %v", i, fresh, st.fresh)
		}
		if !clock.Now().Before(c.Leaf.NotAfter) {
			t.Fatalf("step %d: presented an expired certificate", i)
		}
		prev = c
	}
	// A service's client config hands out the renewing certificate.
	cfg, err := ca.ServiceClientTLS("gateway")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.GetClientCertificate(nil)
	if err != nil || c.Leaf == nil || cfg.MinVersion != tls.VersionTLS13 {
		t.Fatalf("client certificate %v, %v", c, err)
	}
	if name, _ := ServiceName(c.Leaf); name != "gateway" {
		t.Fatalf("client certificate of %q", name)
	}
}

func TestPeers(t *testing.T) {
	t.Parallel()
	ca := testCA(t)
	h1, _ := ca.HostCredentials("h1")
	svc, _ := ca.ServiceCredentials("f")
	cases := []struct {
		peer Peer
		cert *x509.Certificate
		ok   bool
	}{
		{Hosts(), h1.Leaf, true},
		{Hosts(), svc.Leaf, false},
		{HostNamed("h1"), h1.Leaf, true},
		{HostNamed("h2"), h1.Leaf, false},
		{Services(), svc.Leaf, true},
		{Services(), h1.Leaf, false},
		{Services(), ca.Certificate(), false},
	}
	for i, tc := range cases {
		if err := tc.peer(tc.cert); (err == nil) != tc.ok {
			t.Errorf("case %d: %v, want ok=%v", i, err, tc.ok)
		}
	}
	cfg := ForHost(ClientTLS(ca.Pool(), Static(svc), Hosts()), "h2")
	if err := cfg.VerifyConnection(tls.ConnectionState{PeerCertificates: []*x509.Certificate{h1.Leaf}}); err == nil {
		t.Fatal("a config for h2 accepted h1")
	}
	if err := cfg.VerifyConnection(tls.ConnectionState{}); err == nil {
		t.Fatal("accepted no certificate")
	}
}

// serveJoiner runs a Joiner's endpoints on a loopback HTTPS listener and returns it,
// their base URL and a join token for host h1.
func serveJoiner(t *testing.T) (j *Joiner, base, token string) {
	t.Helper()
	j = NewJoiner(testCA(t), storetest.Client(t), storetest.Prefix(t))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := j.Serve(ln, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if token, err = j.CreateJoinToken(t.Context(), "h1", time.Hour); err != nil {
		t.Fatal(err)
	}
	return j, "https://" + ln.Addr().String(), token
}

// TestServerCertificate: a server certificate names the service and the addresses asked
// for, comes with the CA's own, verifies against the CA for each name, and is replaced
// once two thirds of its life have passed.
func TestServerCertificate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	ca := testCA(t).WithClock(clock)
	if _, err := ca.ServerCertificate("gateway"); err == nil {
		t.Fatal("a server certificate for no name")
	}
	src, err := ca.ServerCertificate("gateway", "127.0.0.1", "::1", "localhost", "api.example.com")
	if err != nil {
		t.Fatal(err)
	}
	first, err := src()
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Certificate) != 2 || !bytes.Equal(first.Certificate[1], ca.Certificate().Raw) {
		t.Fatal("the chain does not carry the CA's certificate")
	}
	if name, _ := ServiceName(first.Leaf); name != "gateway" {
		t.Fatalf("a certificate of %q", name)
	}
	for _, n := range []string{"127.0.0.1", "::1", "localhost", "api.example.com"} {
		if _, err := first.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: n, CurrentTime: clock.Now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	clock.Advance(EndpointValidity / 2)
	if c, _ := src(); c.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) != 0 {
		t.Fatal("renewed before two thirds of its life")
	}
	clock.Advance(EndpointValidity / 5)
	if c, _ := src(); c.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 || !clock.Now().Before(c.Leaf.NotAfter) {
		t.Fatal("not renewed past two thirds of its life")
	}
}
