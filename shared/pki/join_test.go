package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
)

func TestJoinEndpoint(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	j, base, tok := serveJoiner(t)
	if _, _, err := Join(ctx, base+JoinPath, tok, newKey(t), PinnedClient(testCA(t).Pin()), "127.0.0.1"); err == nil {
		t.Fatal("joined an endpoint of another CA than the pinned one")
	}
	key := newKey(t)
	cert, roots, err := Join(ctx, base+JoinPath, tok, key, PinnedClient(j.CA().Pin()), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := HostID(cert.Leaf); id != "h1" || !cert.Leaf.IPAddresses[0].Equal([]byte{127, 0, 0, 1}) || !roots.Equal(j.CA().Pool()) {
		t.Fatalf("joined as %q at %v", id, cert.Leaf.IPAddresses)
	}
	if _, _, err := Join(ctx, base+JoinPath, tok, key, PinnedClient(j.CA().Pin())); errs.As(err).Code != errs.CodeInvalidAuthToken {
		t.Fatalf("second join: %v, want InvalidAuthToken", err)
	}
	if _, _, err := Join(ctx, strings.Replace(base, "https", "http", 1)+JoinPath, tok, key, http.DefaultClient); err == nil {
		t.Fatal("sent a token over plain HTTP")
	}

	hc := PinnedClient(j.CA().Pin())
	cases := []struct {
		name   string
		method string
		body   string
		status int
		code   string
	}{
		{"not JSON", http.MethodPost, "{", http.StatusBadRequest, errs.CodeInvalidJSON},
		{"no request", http.MethodPost, `{"token":"x"}`, http.StatusBadRequest, errs.CodeInvalidEntity},
		{"not a request", http.MethodPost, `{"token":"x","csr":"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}`, http.StatusBadRequest, errs.CodeInvalidEntity},
		{"too large", http.MethodPost, `{"token":"` + strings.Repeat("x", maxRequestBytes) + `"}`, http.StatusRequestEntityTooLarge, errs.CodeInvalidJSON},
		{"unknown token", http.MethodPost, mustJSON(t, CertRequest{Token: "nope", CSR: string(pemBlock("CERTIFICATE REQUEST", csrOf(t)))}),
			http.StatusUnauthorized, errs.CodeInvalidAuthToken},
		{"GET", http.MethodGet, "", http.StatusMethodNotAllowed, errs.CodeInvalidEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(ctx, tc.method, base+JoinPath, strings.NewReader(tc.body))
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e errs.Error
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || resp.StatusCode != tc.status || e.Code != tc.code {
				t.Fatalf("%s %v (%v), want %d %s", resp.Status, e, err, tc.status, tc.code)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func csrOf(t *testing.T) []byte { return csr(t, newKey(t), &x509.CertificateRequest{}) }

// TestRenewEndpoint: a host renews with its current certificate; nothing else does.
func TestRenewEndpoint(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	j, base, tok := serveJoiner(t)
	h, err := Enroll(ctx, EnrollOptions{JoinURL: base, Token: tok, Pin: j.CA().Pin(), Names: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := h.Certificate()
	if err := h.Renew(ctx, base); err != nil {
		t.Fatal(err)
	}
	after, _ := h.Certificate()
	if after.Leaf.SerialNumber.Cmp(before.Leaf.SerialNumber) == 0 || h.ID() != "h1" {
		t.Fatal("renew kept the old certificate")
	}
	if id, _ := HostID(after.Leaf); id != "h1" || len(after.Leaf.IPAddresses) != 1 {
		t.Fatalf("renewed as %q %v", id, after.Leaf.IPAddresses)
	}

	svc, _ := j.CA().ServiceCredentials("gateway")
	stranger, _ := testCA(t).HostCredentials("h1", "127.0.0.1")
	cases := []struct {
		name string
		cert *tls.Certificate // the client certificate, or nil
		code string           // the refusal's code; "" for one at the TLS handshake
	}{
		{"no certificate", nil, errs.CodeMissingAuthToken},
		{"a service's certificate", &svc, errs.CodeAccessForbidden},
		{"a host certificate of another CA", &stranger, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: j.CA().Pool(), MinVersion: tls.VersionTLS13}
			if tc.cert != nil {
				cfg.Certificates = []tls.Certificate{*tc.cert}
			}
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			body := mustJSON(t, CertRequest{CSR: string(pemBlock("CERTIFICATE REQUEST", csrOf(t)))})
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+RenewPath, strings.NewReader(body))
			resp, err := hc.Do(req)
			if tc.code == "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("renewed: %s", resp.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			var e errs.Error
			if json.Unmarshal(raw, &e); e.Code != tc.code {
				t.Fatalf("%s %s, want %s", resp.Status, raw, tc.code)
			}
		})
	}
}

// TestEnrollKeepsCredentials: a restarted host reuses what it saved, needs no token, and
// needs one once the certificate expired.
func TestEnrollKeepsCredentials(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	j, base, tok := serveJoiner(t)
	dir := filepath.Join(t.TempDir(), "hostd")
	o := EnrollOptions{JoinURL: base, Token: tok, Pin: j.CA().Pin(), Names: []string{"127.0.0.1"}, Dir: dir}
	first, err := Enroll(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, hostKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	c1, _ := first.Certificate()

	o.Token = "" // spent
	again, err := Enroll(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if c2, _ := again.Certificate(); !c2.Leaf.Equal(c1.Leaf) || again.ID() != "h1" {
		t.Fatal("a restart did not reuse the saved certificate")
	}

	o.Names = []string{"127.0.0.1", "localhost"} // the host moved: renewed for its new names
	moved, err := Enroll(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if c3, _ := moved.Certificate(); c3.Leaf.Equal(c1.Leaf) || len(c3.Leaf.DNSNames) != 1 {
		t.Fatalf("names %v after a move", certNames(c3.Leaf))
	}
	if saved, err := LoadHost(dir); err != nil || !saved.NotAfter().Equal(moved.NotAfter()) {
		t.Fatalf("the renewed certificate was not saved: %v", err)
	}

	late := newFakeClock()
	late.Advance(2 * HostValidity)
	o.Clock = late
	if _, err := Enroll(ctx, o); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("enrolled with an expired certificate: %v", err)
	}
	o.Token, _ = j.CreateJoinToken(ctx, "h1", time.Hour)
	if h, err := Enroll(ctx, o); err != nil || h.ID() != "h1" {
		t.Fatalf("rejoin after expiry: %v", err)
	}
	if _, err := LoadHost(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadHost of an empty directory: %v", err)
	}
	if _, err := Enroll(ctx, EnrollOptions{JoinURL: base, Dir: t.TempDir(), Pin: j.CA().Pin()}); err == nil {
		t.Fatal("enrolled with no certificate and no token")
	}
}

// TestKeepRenewed: the host renews in the background once its certificate has lived two
// thirds of its life.
func TestKeepRenewed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	j, base, tok := serveJoiner(t)
	clock := newFakeClock()
	h, err := Enroll(ctx, EnrollOptions{JoinURL: base, Token: tok, Pin: j.CA().Pin(), Names: []string{"127.0.0.1"}, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := h.Certificate()
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.KeepRenewed(ctx, base, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	wait := func() {
		t.Helper()
		select {
		case <-clock.waiting:
		case <-time.After(30 * time.Second):
			t.Fatal("KeepRenewed does not wait")
		}
	}
	wait()
	clock.Advance(HostValidity / 2)
	if c, _ := h.Certificate(); !c.Leaf.Equal(first.Leaf) {
		t.Fatal("renewed at half its life")
	}
	clock.Advance(HostValidity / 4)
	wait() // renewed, and waiting for the next time
	if c, _ := h.Certificate(); c.Leaf.Equal(first.Leaf) {
		t.Fatal("not renewed at three quarters of its life")
	}
}
