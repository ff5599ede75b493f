package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/photon-cloud/photon/console"
)

// TestHandler serves the page and its assets with the console's CSP, an ETag that a
// revalidation answers 304, gzip to who accepts it, and nothing else.
func TestHandler(t *testing.T) {
	h := console.Handler()
	get := func(path string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	cases := []struct {
		path, accept string
		status       int
		ctype, enc   string
		contains     string
	}{
		{"/", "", 200, "text/html; charset=utf-8", "", `<script type="module" src="/console/app.js">`},
		{"/", "gzip, deflate", 200, "text/html; charset=utf-8", "gzip", ""},
		{"/console/app.js", "", 200, "text/javascript; charset=utf-8", "", "import"},
		{"/console/app.css", "gzip;q=0", 200, "text/css; charset=utf-8", "", ":root"},
		{"/favicon.ico", "", 200, "image/svg+xml", "", "<svg"},
		{"/console/index.html", "", 404, "", "", ""},
		{"/console/nothing.js", "", 404, "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.path+" "+tc.accept, func(t *testing.T) {
			w := get(tc.path, map[string]string{"Accept-Encoding": tc.accept})
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if tc.status != 200 {
				return
			}
			if got := w.Header().Get("Content-Type"); got != tc.ctype {
				t.Fatalf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := w.Header().Get("Content-Encoding"); got != tc.enc {
				t.Fatalf("Content-Encoding %q, want %q", got, tc.enc)
			}
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Fatalf("CSP %q", csp)
			}
			if !strings.Contains(w.Body.String(), tc.contains) {
				t.Fatalf("body lacks %q", tc.contains)
			}
			etag := w.Header().Get("ETag")
			if again := get(tc.path, map[string]string{"If-None-Match": etag}); etag == "" || again.Code != http.StatusNotModified {
				t.Fatalf("revalidation with ETag %q: %d", etag, again.Code)
			}
		})
	}
	raw, gz := console.Weight()
	if raw == 0 || gz >= raw {
		t.Fatalf("weight %d raw, %d compressed", raw, gz)
	}
	t.Logf("the console's first load: %d bytes, %d compressed", raw, gz)
}

// TestConnectSources: the page may call its own origin and, with an external login
// provider, the origins of its endpoints, and nothing that is not an http(s) URL.
func TestConnectSources(t *testing.T) {
	for _, tc := range []struct {
		name    string
		connect []string
		want    string
	}{
		{"own origin only", nil, "connect-src 'self';"},
		{"a provider", []string{"https://idp.example/oauth/token", "https://idp.example/oauth/revoke"}, "connect-src 'self' https://idp.example;"},
		{"two origins", []string{"https://idp.example:8443/token", "http://127.0.0.1:5556/revoke"}, "connect-src 'self' https://idp.example:8443 http://127.0.0.1:5556;"},
		{"no endpoint or not a URL", []string{"", "javascript:alert(1)", "idp.example/token"}, "connect-src 'self';"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			console.Handler(tc.connect...).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, tc.want) {
				t.Fatalf("CSP %q, want %q in it", csp, tc.want)
			}
		})
	}
}
