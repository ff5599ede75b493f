package gateway_test

import (
	"strings"
	"testing"

	"github.com/photon-cloud/photon/gateway/apidocs"
)

// TestAPIDocs: the gateway serves the API reference at /api, without a token, beside the
// OpenAPI document its script loads.
func TestAPIDocs(t *testing.T) {
	h := newHarness(t)
	base := "http://" + h.gw.HTTPAddr()
	c := &browser{t: t}
	for _, tt := range []struct {
		path, contentType, has string
	}{
		{"/api", "text/html; charset=utf-8", `<script src="/api/init.js">`},
		{"/api/init.js", "text/javascript; charset=utf-8", `"/openapi.json"`},
		{"/api/swagger-ui-bundle.js", "text/javascript; charset=utf-8", "SwaggerUIBundle"},
		{"/api/swagger-ui.css", "text/css; charset=utf-8", ".swagger-ui"},
		{"/openapi.json", "application/json", `"swagger": "2.0"`},
	} {
		t.Run(tt.path, func(t *testing.T) {
			a := c.do("GET", base+tt.path, nil)
			if a.status != 200 || a.header.Get("Content-Type") != tt.contentType || !strings.Contains(a.body, tt.has) {
				t.Errorf("%d %q, want 200 %q with %q", a.status, a.header.Get("Content-Type"), tt.contentType, tt.has)
			}
			if strings.HasPrefix(tt.path, apidocs.Path) && a.header.Get("Content-Security-Policy") != apidocs.CSP {
				t.Errorf("CSP %q", a.header.Get("Content-Security-Policy"))
			}
		})
	}
	if a := c.do("POST", base+"/api", nil); a.status != 405 {
		t.Errorf("POST /api: %d", a.status)
	}
}
