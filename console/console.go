// Package console is Photon's web console: a page and its ES modules, embedded in the
// binary and served by the gateway at / (the page) and under AssetsPath (its assets). It
// holds no logic of the control plane's: every call it makes is to the public REST API,
// with the token of the user logged in, so it shows what the API lets that user see and
// nothing else. Live tables read the gateway's event stream (GET /v1/events/stream).
//
// There is no build step: the files under assets/ are served as they are, each with a
// strong ETag (a hash of its content), gzip-compressed once at start for clients that
// accept it, under a Content-Security-Policy that admits scripts, styles and connections
// of the gateway's own origin only (no inline script or style).
package console

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
)

// AssetsPath is the path prefix of the console's assets; the page is at /, and its icon
// also at FaviconPath, where browsers look for one on any page of the gateway (the
// issuer's login page too).
const (
	AssetsPath  = "/console/"
	FaviconPath = "/favicon.ico"
)

// CSP is the console's Content-Security-Policy when it calls its own origin only.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// csp is CSP with connections also to the origins of connect (an external login
// provider's token and revocation endpoints), those that parse as http(s) URLs.
func csp(connect []string) string {
	src := []string{"'self'"}
	for _, c := range connect {
		u, err := url.Parse(c)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			continue
		}
		if o := u.Scheme + "://" + u.Host; !slices.Contains(src, o) {
			src = append(src, o)
		}
	}
	return strings.Replace(CSP, "connect-src 'self'", "connect-src "+strings.Join(src, " "), 1)
}

//go:embed assets
var assets embed.FS

type asset struct {
	body, gz    []byte
	etag, ctype string
}

var (
	loadOnce sync.Once
	files    map[string]*asset // by path under assets/
)

func load() {
	files = map[string]*asset{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		a := &asset{body: body, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			ctype: mime.TypeByExtension(path.Ext(p))}
		if a.ctype == "" {
			a.ctype = "application/octet-stream"
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if b.Len() < len(body) {
			a.gz = b.Bytes()
		}
		files[strings.TrimPrefix(p, "assets/")] = a
		return nil
	})
	if err != nil {
		panic(err) // the embedded tree: cannot fail
	}
}

// Handler serves the page at / and the assets under AssetsPath; any other path is not
// its to answer (the gateway's own NotFound). The page may also call the origins of
// connect: an external login provider's endpoints, which its login calls from the browser.
func Handler(connect ...string) http.Handler {
	loadOnce.Do(load)
	policy := csp(connect)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { serve(w, r, policy) })
}

func serve(w http.ResponseWriter, r *http.Request, policy string) {
	name := "index.html"
	switch r.URL.Path {
	case "/":
	case FaviconPath:
		name = "favicon.svg"
	default:
		name = strings.TrimPrefix(r.URL.Path, AssetsPath)
	}
	a, ok := files[name]
	if !ok || name == "index.html" && r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", policy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Type", a.ctype)
	// Revalidated at each load (the ETag makes that a 304): a new binary's console is
	// picked up at once, without names that change with the content.
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	h.Add("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// Weight is the bytes of the console's first load as served to a client that accepts
// gzip: the page and every asset (a load fetches them all).
func Weight() (raw, gzipped int) {
	loadOnce.Do(load)
	for _, a := range files {
		raw += len(a.body)
		if a.gz != nil {
			gzipped += len(a.gz)
		} else {
			gzipped += len(a.body)
		}
	}
	return raw, gzipped
}
