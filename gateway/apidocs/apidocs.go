// Package apidocs serves the REST API's reference at /api: Swagger UI over the
// gateway's OpenAPI document (/openapi.json), from files embedded in the binary, so it
// works with no network beyond the gateway.
//
// swagger-ui/ holds swagger-ui-dist as npm packs it, at the version its VERSION file
// names, with its licence; static/ holds the page and the script that starts it. The
// script is a file of its own, so the pages' Content-Security-Policy allows no inline
// script. To update Swagger UI, `npm pack swagger-ui-dist@<version>` and copy the same
// files over, and the version and checksum into VERSION.
package apidocs

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// Path is where the reference is served: the page at Path and Path+"/", its files
// under Path+"/".
const Path = "/api"

// CSP is the pages' Content-Security-Policy: scripts, styles, images and the OpenAPI
// document from the gateway only. Swagger UI sets style attributes, and its syntax
// highlighter and icons use data: URIs.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static swagger-ui
var files embed.FS

// asset is one file served.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets are the files served, by their name under Path+"/"; "" is the page.
var assets = func() map[string]asset {
	m := map[string]asset{}
	for name, f := range map[string]struct{ file, contentType string }{
		"":                     {"static/index.html", "text/html; charset=utf-8"},
		"init.js":              {"static/init.js", "text/javascript; charset=utf-8"},
		"swagger-ui-bundle.js": {"swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
		"swagger-ui.css":       {"swagger-ui/swagger-ui.css", "text/css; charset=utf-8"},
		"favicon-16x16.png":    {"swagger-ui/favicon-16x16.png", "image/png"},
		"favicon-32x32.png":    {"swagger-ui/favicon-32x32.png", "image/png"},
		"LICENSE":              {"swagger-ui/LICENSE", "text/plain; charset=utf-8"},
		"NOTICE":               {"swagger-ui/NOTICE", "text/plain; charset=utf-8"},
		"THIRD-PARTY-NOTICES":  {"swagger-ui/swagger-ui-bundle.js.LICENSE.txt", "text/plain; charset=utf-8"},
	} {
		b, err := files.ReadFile(f.file)
		if err != nil {
			panic(err) // embedded
		}
		h := sha256.Sum256(b)
		m[name] = asset{b, f.contentType, `"` + base64.RawURLEncoding.EncodeToString(h[:12]) + `"`}
	}
	return m
}()

// Handler serves the page at Path and Path+"/" and its files under Path+"/" to GET and
// HEAD (the gateway mounts it for GET). A file it does not have is 404.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, under := strings.CutPrefix(r.URL.Path, Path+"/")
		a, ok := assets[name]
		if r.URL.Path == Path {
			a, ok = assets[""], true
		} else if !under || !ok {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("ETag", a.etag)
		// The page is small and names the files; the files change only with the binary.
		if name == "" {
			h.Set("Cache-Control", "no-cache")
		} else {
			h.Set("Cache-Control", "public, max-age=3600")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
