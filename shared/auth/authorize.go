package auth

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
)

// The browser login: the authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636).
//
// A browser client (the web console) sends the user to AuthorizePath with its
// client_id, redirect_uri, state and an S256 code_challenge. The issuer answers a login
// page; its form posts the same parameters back with the user name and password, which
// are checked as the password grant checks them (the LoginLimit included). A good
// password is answered 303 to redirect_uri with a one-minute, one-time code (code.go)
// and the state; the client trades the code and its code_verifier at TokenPath for the
// same tokens the password grant gives. There is no session at the issuer, no cookie:
// each authorization asks for the password.
//
// A redirect goes only to the origin the issuer is served at (LoginOptions.BaseURL or
// the request's own) or to a URI registered in LoginOptions.RedirectURIs, never to
// another: a bad client_id or redirect_uri is answered with an error page, and only once
// both are good are the other errors sent to the client as RFC 6749 §4.1.2.1 says.

// Paths of the browser login's endpoints under the gateway's base URL.
const (
	AuthorizePath = "/openidconnect/authorize"
	LogoutPath    = "/openidconnect/logout"
	RevokePath    = "/openidconnect/revoke"
)

// ConsoleClientID is the client id of Photon's web console: a public client (no secret)
// that proves itself with PKCE.
const ConsoleClientID = "photon-console"

// LoginOptions configure the browser login's endpoints.
type LoginOptions struct {
	// BaseURL is the URL the gateway is reached at (e.g. "https://photon.example.com");
	// redirects to its origin are allowed, as are redirects to the origin a request came
	// to.
	BaseURL string
	// RedirectURIs are further redirect_uri and post_logout_redirect_uri values allowed,
	// compared exactly: a console served from another origin.
	RedirectURIs []string
	// ClientIDs are the client ids that may ask for a code; nil is [ConsoleClientID].
	ClientIDs []string
}

func (o LoginOptions) client(id string) bool {
	if o.ClientIDs == nil {
		return id == ConsoleClientID
	}
	return slices.Contains(o.ClientIDs, id)
}

// redirectAllowed reports whether the client may be sent to raw: an absolute http(s) URI
// without user or fragment, at the base URL's origin or r's, or one registered exactly.
func (o LoginOptions) redirectAllowed(raw string, r *http.Request) bool {
	if raw == "" {
		return false
	}
	if slices.Contains(o.RedirectURIs, raw) {
		return true
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
		return false
	}
	origin := originOf(u.Scheme, u.Host)
	if b, err := url.Parse(o.BaseURL); err == nil && b.Host != "" && origin == originOf(b.Scheme, b.Host) {
		return true
	}
	return origin == requestOrigin(r)
}

// originOf is scheme://host[:port] in lower case, without the scheme's default port.
func originOf(scheme, host string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	host = strings.TrimSuffix(host, map[string]string{"https": ":443", "http": ":80"}[scheme])
	return scheme + "://" + host
}

// requestOrigin is the origin r was sent to: https when it came over TLS.
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return originOf(scheme, r.Host)
}

// authRequest is an authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID
// Connect Core §3.1.2.1), as the query of the GET and the form of the POST carry it.
type authRequest struct {
	responseType, clientID, redirectURI, state, challenge, method, scope, nonce string
}

// authParams are the request's parameters, in the order the login form carries them.
var authParams = []string{"response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope", "nonce"}

func (a authRequest) values() []string {
	return []string{a.responseType, a.clientID, a.redirectURI, a.state, a.challenge, a.method, a.scope, a.nonce}
}

// maxParamBytes bounds each parameter of an authorization request.
const maxParamBytes = 2048

// parseAuthRequest reads v. It returns the name of a parameter given twice or too long,
// which RFC 6749 §3.1 makes an invalid request.
func parseAuthRequest(v url.Values) (authRequest, string) {
	bad := ""
	get := func(k string) string {
		if len(v[k]) > 1 || len(v.Get(k)) > maxParamBytes {
			bad = k
		}
		return v.Get(k)
	}
	a := authRequest{get("response_type"), get("client_id"), get("redirect_uri"), get("state"),
		get("code_challenge"), get("code_challenge_method"), get("scope"), get("nonce")}
	return a, bad
}

// isVerifier reports whether s is 43 to 128 of RFC 7636's unreserved characters, as a
// code_verifier is and an S256 code_challenge (43) is.
func isVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for _, c := range []byte(s) {
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// AuthorizeHandler serves AuthorizePath: GET answers the login page for an
// authorization request, POST checks the user's password and sends the browser back to
// redirect_uri with a code (see the comment at the top of this file). Users holds the
// users and the codes.
func (i *Issuer) AuthorizeHandler(users *Users, o LoginOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !pageRequest(w, r) {
			return
		}
		params := r.URL.Query()
		if r.Method == http.MethodPost {
			params = r.PostForm
		}
		a, dup := parseAuthRequest(params)
		switch {
		case dup == "client_id" || dup == "redirect_uri":
			pageError(w, r, http.StatusBadRequest, "The request gives "+dup+" more than once, or too long.")
			return
		case a.clientID == "":
			pageError(w, r, http.StatusBadRequest, "The request names no client_id.")
			return
		case !o.client(a.clientID):
			pageError(w, r, http.StatusBadRequest, "The client "+strconv.Quote(a.clientID)+" is unknown to this issuer.")
			return
		case a.redirectURI == "":
			pageError(w, r, http.StatusBadRequest, "The request names no redirect_uri.")
			return
		case !o.redirectAllowed(a.redirectURI, r):
			pageError(w, r, http.StatusBadRequest, "The redirect_uri "+strconv.Quote(a.redirectURI)+" is not one this issuer sends users back to.")
			return
		}
		// From here on the client is known and may be told what is wrong.
		fail := func(code, desc string) { redirectError(w, r, i, a, code, desc) }
		switch {
		case dup != "":
			fail("invalid_request", dup+" is given more than once, or is too long")
		case a.responseType != "code":
			fail("unsupported_response_type", "response_type must be code")
		case a.challenge == "":
			fail("invalid_request", "code_challenge is required: this issuer requires PKCE")
		case a.method != "S256":
			fail("invalid_request", "code_challenge_method must be S256")
		case !isVerifier(a.challenge) || len(a.challenge) != 43:
			fail("invalid_request", "code_challenge must be the 43-character base64url SHA-256 of the code_verifier")
		case r.Method != http.MethodPost:
			loginPage(w, r, http.StatusOK, a, "", "")
		default:
			i.login(w, r, users, a)
		}
	})
}

// login checks the form's user name and password and answers the code, or the login
// page again with what was wrong.
func (i *Issuer) login(w http.ResponseWriter, r *http.Request, users *Users, a authRequest) {
	name, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if name == "" {
		loginPage(w, r, http.StatusBadRequest, a, "", "Enter your user name.")
		return
	}
	p, fp, err := users.check(r.Context(), name, password)
	var tooMany *errs.Error
	switch {
	case errors.As(err, &tooMany) && tooMany.Code == errs.CodeTooManyRequests:
		if d, ok := tooMany.RetryAfter(); ok {
			w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
		}
		loginPage(w, r, http.StatusTooManyRequests, a, name, "Too many wrong passwords for this user: "+tooMany.Message+".")
		return
	case errors.Is(err, ErrBadCredentials):
		loginPage(w, r, http.StatusBadRequest, a, name, "Wrong user name or password.")
		return
	case err != nil:
		loginPage(w, r, http.StatusInternalServerError, a, name, "The password cannot be checked now. Try again in a moment.")
		return
	}
	code, err := users.issueCode(r.Context(), p.Subject, fp, codeGrant{ClientID: a.clientID, RedirectURI: a.redirectURI, Challenge: a.challenge, Nonce: a.nonce}, i.now())
	if err != nil {
		loginPage(w, r, http.StatusInternalServerError, a, name, "The sign-in cannot be completed now. Try again in a moment.")
		return
	}
	redirect(w, r, a.redirectURI, url.Values{"code": {code}, "state": {a.state}, "iss": {i.issuer}})
}

// redirectError sends the client an error of RFC 6749 §4.1.2.1, with the issuer as
// RFC 9207 asks.
func redirectError(w http.ResponseWriter, r *http.Request, i *Issuer, a authRequest, code, desc string) {
	redirect(w, r, a.redirectURI, url.Values{"error": {code}, "error_description": {desc}, "state": {a.state}, "iss": {i.issuer}})
}

// redirect answers 303 to uri with add joined to its query; empty values are left out.
func redirect(w http.ResponseWriter, r *http.Request, uri string, add url.Values) {
	u, _ := url.Parse(uri) // checked by redirectAllowed
	q := u.Query()
	for k, vs := range add {
		if vs[0] != "" {
			q[k] = vs
		}
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// pageRequest takes a GET or HEAD, or a POST whose form it reads into r.PostForm, of a
// page of the issuer; it answers any other with an error page and returns false.
func pageRequest(w http.ResponseWriter, r *http.Request) bool {
	noStore(w)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			pageError(w, r, http.StatusBadRequest, "The form could not be read: "+err.Error())
			return false
		}
		return true
	}
	w.Header().Set("Allow", "GET, HEAD, POST")
	pageError(w, r, http.StatusMethodNotAllowed, "Use GET or POST.")
	return false
}

// noStore keeps the answer out of caches: it carries codes and tokens.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

//go:embed pages
var pageFiles embed.FS

var (
	pageTmpl = template.Must(template.ParseFS(pageFiles, "pages/page.html"))
	pageCSS  = func() template.CSS {
		b, err := pageFiles.ReadFile("pages/page.css")
		if err != nil {
			panic(err) // embedded
		}
		return template.CSS(b)
	}()
	// pageCSP lets the pages load nothing but their own style: no script at all.
	pageCSP = func() string {
		h := sha256.Sum256([]byte(pageCSS))
		return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'"
	}()
)

// page is what the page template shows: a login form, or a message.
type page struct {
	Title    string
	CSS      template.CSS
	Form     bool
	Action   string
	Hidden   []hidden
	Username string
	Origin   string
	Error    string // the form's
	Message  string // a page without a form says it
	Alert    bool   // and it is an error
}

type hidden struct{ Name, Value string }

// loginPage answers the login form for a, with the user name typed before and an error.
// The form may post to this page and be redirected to the client's origin only.
func loginPage(w http.ResponseWriter, r *http.Request, status int, a authRequest, username, errMsg string) {
	p := page{Title: "Sign in", Form: true, Action: r.URL.Path, Username: username, Error: errMsg}
	for k, v := range a.values() {
		if v != "" {
			p.Hidden = append(p.Hidden, hidden{authParams[k], v})
		}
	}
	u, _ := url.Parse(a.redirectURI) // checked by redirectAllowed
	p.Origin = originOf(u.Scheme, u.Host)
	if u.Host == "" {
		p.Origin = u.Scheme + ":" // a registered URI of an app's own scheme
	}
	// Browsers hold a form's redirect to form-action too.
	writePage(w, status, p, "form-action 'self' "+p.Origin)
}

// pageError answers a page that says what is wrong, for errors that cannot be sent to
// the client.
func pageError(w http.ResponseWriter, _ *http.Request, status int, msg string) {
	writePage(w, status, page{Title: "Cannot sign in", Message: msg, Alert: true}, "form-action 'none'")
}

func writePage(w http.ResponseWriter, status int, p page, formAction string) {
	p.CSS = pageCSS
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP+"; "+formAction)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_ = pageTmpl.ExecuteTemplate(w, "page", p)
}
