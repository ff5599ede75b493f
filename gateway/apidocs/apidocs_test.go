package apidocs

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

// TestHandler: the page, every file it names, and the licences are served with their
// content types and the CSP; the script starts Swagger UI on /openapi.json; anything
// else is 404.
func TestHandler(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, Handler())
	mux.Handle("GET "+Path+"/", Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	get := func(t *testing.T, path string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	_, page := get(t, Path)
	if strings.Contains(regexp.MustCompile(`<script src="[^"]+"></script>`).ReplaceAllString(page, ""), "<script") {
		t.Errorf("the page has an inline script:\n%s", page)
	}
	// Every file the page names is served.
	named := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?:src|href)="(/api/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		named[m[1]] = true
	}
	tests := []struct {
		path, contentType, has string
	}{
		{"/api", "text/html; charset=utf-8", `<div id="swagger-ui">`},
		{"/api/", "text/html; charset=utf-8", `<script src="/api/init.js"></script>`},
		{"/api/init.js", "text/javascript; charset=utf-8", `url: "/openapi.json"`},
		{"/api/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"},
		{"/api/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"},
		{"/api/favicon-32x32.png", "image/png", "\x89PNG"},
		{"/api/favicon-16x16.png", "image/png", "\x89PNG"},
		{"/api/LICENSE", "text/plain; charset=utf-8", "Apache License"},
		{"/api/NOTICE", "text/plain; charset=utf-8", "SmartBear"},
		{"/api/THIRD-PARTY-NOTICES", "text/plain; charset=utf-8", "@license"},
	}
	for _, tt := range tests {
		delete(named, tt.path)
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			resp, body := get(t, tt.path)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tt.contentType {
				t.Fatalf("%d %q, want 200 %q", resp.StatusCode, resp.Header.Get("Content-Type"), tt.contentType)
			}
			if !strings.Contains(body, tt.has) {
				t.Errorf("body lacks %q", tt.has)
			}
			if resp.Header.Get("Content-Security-Policy") != CSP || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", resp.Header)
			}
		})
	}
	for p := range named {
		t.Errorf("the page names %s, which the test does not fetch", p)
	}

	for _, path := range []string{"/api/index.html", "/api/static/init.js", "/api/swagger-ui/LICENSE", "/api/init.js/"} {
		t.Run("404 "+path, func(t *testing.T) {
			t.Parallel()
			if resp, _ := get(t, path); resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}

	t.Run("cached by ETag", func(t *testing.T) {
		t.Parallel()
		resp, _ := get(t, "/api/swagger-ui.css")
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/api/swagger-ui.css", nil)
		req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
		again, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		again.Body.Close()
		if again.StatusCode != http.StatusNotModified {
			t.Errorf("status %d", again.StatusCode)
		}
	})
}
