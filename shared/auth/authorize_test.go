package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// loginEnv is the embedded issuer's endpoints over real Redis, on one test server,
// with a clock the test moves, and a client that follows no redirect and keeps no
// cookie: each answer is looked at as a browser would get it.
type loginEnv struct {
	iss   *Issuer
	users *Users
	srv   *httptest.Server
	clock *fakeClock
	cb    string // the console's redirect URI, at the server's own origin
}

const (
	loginUser     = "alice@photon.local"
	loginPassword = "correct horse"
	registeredCB  = "https://console.example.com/callback"
)

func newLoginEnv(t *testing.T) *loginEnv {
	t.Helper()
	rdb, prefix := newRedis(t)
	e := &loginEnv{users: NewUsers(rdb, prefix).WithCost(bcrypt.MinCost), clock: &fakeClock{}}
	e.clock.t.Store(time.Now().UnixNano())
	e.iss = NewIssuer(newKey(t), "https://photon.test", 30*time.Minute)
	e.iss.now = e.clock.now
	if err := e.users.Put(t.Context(), loginUser, loginPassword, []string{SystemAdminsGroup}); err != nil {
		t.Fatal(err)
	}
	o := LoginOptions{BaseURL: "https://photon.example.com", RedirectURIs: []string{registeredCB}}
	mux := http.NewServeMux()
	mux.Handle(AuthorizePath, e.iss.AuthorizeHandler(e.users, o))
	mux.Handle(TokenPath, e.iss.TokenHandler(e.users))
	mux.Handle(LogoutPath, e.iss.LogoutHandler(e.users, o))
	mux.Handle(RevokePath, e.iss.RevokeHandler(e.users))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.cb = e.srv.URL + "/console/callback"
	return e
}

// answer is an HTTP answer, read whole.
type answer struct {
	status int
	header http.Header
	body   string
}

// location is the query of the answer's redirect, nil when it is not a 303.
func (a answer) location(t *testing.T) (*url.URL, url.Values) {
	t.Helper()
	if a.status != http.StatusSeeOther {
		return nil, nil
	}
	u, err := url.Parse(a.header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u, u.Query()
}

func (e *loginEnv) do(t *testing.T, method, path string, form url.Values) answer {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	} else if form != nil {
		path += "?" + form.Encode()
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// pkce is a code verifier and its S256 challenge, computed here as a client would.
func pkce() (verifier, challenge string) {
	verifier = strings.ToLower(rand.Text() + rand.Text())
	h := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(h[:])
}

// request is a good authorization request of the console.
func (e *loginEnv) request(challenge string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {ConsoleClientID}, "redirect_uri": {e.cb}, "state": {"st-1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "scope": {"openid offline_access"}, "nonce": {"n-1"}}
}

// login posts the login form of req with a password and returns the answer.
func (e *loginEnv) login(t *testing.T, req url.Values, password string) answer {
	t.Helper()
	form := url.Values{"username": {loginUser}, "password": {password}}
	for k, v := range req {
		form[k] = v
	}
	return e.do(t, http.MethodPost, AuthorizePath, form)
}

// code runs the login with the right password and returns the code it redirects with.
func (e *loginEnv) code(t *testing.T, challenge string) string {
	t.Helper()
	a := e.login(t, e.request(challenge), loginPassword)
	u, q := a.location(t)
	if u == nil || q.Get("code") == "" || q.Get("state") != "st-1" || q.Get("iss") != e.iss.Name() {
		t.Fatalf("login: %d %s %v", a.status, a.header.Get("Location"), a.body)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != e.cb {
		t.Fatalf("redirected to %s, want %s", got, e.cb)
	}
	return q.Get("code")
}

func (e *loginEnv) token(t *testing.T, form url.Values) (int, tokenReply) {
	t.Helper()
	return postToken(t, e.srv, http.MethodPost, form.Encode())
}

func (e *loginEnv) exchange(code, redirectURI, verifier string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {ConsoleClientID}, "code_verifier": {verifier}}
}

// TestAuthorizeRequest: the login page for a good request, an error page for a client
// or redirect URI the issuer does not know (never a redirect), and an OAuth error sent
// back to a known client for anything else.
func TestAuthorizeRequest(t *testing.T) {
	t.Parallel()
	e := newLoginEnv(t)
	_, challenge := pkce()
	with := func(k, v string) url.Values {
		q := e.request(challenge)
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	tests := []struct {
		name   string
		query  url.Values
		status int
		error  string // the error redirected with; "" for a page
		page   string // in the page
	}{
		{"good", e.request(challenge), 200, "", `<form method="post" action="/openidconnect/authorize">`},
		{"registered redirect URI", with("redirect_uri", registeredCB), 200, "", "https://console.example.com"},
		{"the public URL's origin", with("redirect_uri", "https://photon.example.com:443/console/"), 200, "", "https://photon.example.com"},
		{"no client_id", with("client_id", ""), 400, "", "names no client_id"},
		{"unknown client_id", with("client_id", "mallory"), 400, "", "is unknown to this issuer"},
		{"no redirect_uri", with("redirect_uri", ""), 400, "", "names no redirect_uri"},
		{"foreign redirect_uri", with("redirect_uri", "https://evil.example/cb"), 400, "", "is not one this issuer sends users back to"},
		{"registered one with another path", with("redirect_uri", registeredCB+"/x"), 400, "", "is not one this issuer sends users back to"},
		{"own origin over another scheme", with("redirect_uri", strings.Replace(e.cb, "http:", "https:", 1)), 400, "", "is not one"},
		{"redirect_uri with a fragment", with("redirect_uri", e.cb+"#x"), 400, "", "is not one"},
		{"redirect_uri with a user", with("redirect_uri", strings.Replace(e.cb, "//", "//u@", 1)), 400, "", "is not one"},
		{"javascript redirect_uri", with("redirect_uri", "javascript:alert(1)"), 400, "", "is not one"},
		{"no PKCE", with("code_challenge", ""), 303, "invalid_request", ""},
		{"plain PKCE", with("code_challenge_method", "plain"), 303, "invalid_request", ""},
		{"no PKCE method", with("code_challenge_method", ""), 303, "invalid_request", ""},
		{"short challenge", with("code_challenge", "abc"), 303, "invalid_request", ""},
		{"implicit flow", with("response_type", "token"), 303, "unsupported_response_type", ""},
		{"no response_type", with("response_type", ""), 303, "unsupported_response_type", ""},
		{"state twice", func() url.Values { q := e.request(challenge); q.Add("state", "b"); return q }(), 303, "invalid_request", ""},
		{"redirect_uri twice", func() url.Values { q := e.request(challenge); q.Add("redirect_uri", e.cb); return q }(), 400, "", "more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := e.do(t, http.MethodGet, AuthorizePath, tt.query)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s %s", a.status, tt.status, a.header.Get("Location"), a.body)
			}
			if cc := a.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
			if tt.error != "" {
				_, q := a.location(t)
				if q.Get("error") != tt.error || q.Get("error_description") == "" || q.Get("state") != tt.query.Get("state") || q.Get("code") != "" {
					t.Errorf("redirect %s, want error %s", a.header.Get("Location"), tt.error)
				}
				return
			}
			if loc := a.header.Get("Location"); loc != "" {
				t.Fatalf("redirected to %s", loc)
			}
			if !strings.Contains(a.body, tt.page) {
				t.Errorf("page lacks %q:\n%s", tt.page, a.body)
			}
			checkPage(t, a)
		})
	}

	t.Run("the login page", func(t *testing.T) {
		t.Parallel()
		a := e.do(t, http.MethodGet, AuthorizePath, e.request(challenge))
		for _, want := range []string{
			`<html lang="en">`, `name="viewport"`,
			`<label for="username">User name</label>`, `<label for="password">Password</label>`,
			`id="username" name="username" type="text" value="" autocomplete="username"`, ` required autofocus>`,
			`type="password" autocomplete="current-password" required>`,
			`<button type="submit">Sign in</button>`,
			`<input type="hidden" name="state" value="st-1">`,
			`<input type="hidden" name="code_challenge" value="` + challenge + `">`,
			`<input type="hidden" name="redirect_uri" value="` + e.cb + `">`,
		} {
			if !strings.Contains(a.body, want) {
				t.Errorf("page lacks %s:\n%s", want, a.body)
			}
		}
		if strings.Contains(a.body, "<script") {
			t.Error("the page has a script")
		}
		if csp := a.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' "+e.srv.URL) {
			t.Errorf("CSP %q does not let the form go back to the client", csp)
		}
	})

	t.Run("markup in a parameter is escaped", func(t *testing.T) {
		t.Parallel()
		q := e.request(challenge)
		q.Set("state", `"><script>alert(1)</script>`)
		a := e.do(t, http.MethodGet, AuthorizePath, q)
		if a.status != 200 || strings.Contains(a.body, "<script>") {
			t.Errorf("%d %s", a.status, a.body)
		}
	})
}

// checkPage checks the headers every page of the issuer has.
func checkPage(t *testing.T, a answer) {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	csp := a.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if a.header.Get("X-Frame-Options") != "DENY" {
		t.Error("no X-Frame-Options")
	}
	// The inline style is the one the policy's hash allows.
	start, end := strings.Index(a.body, "<style>")+len("<style>"), strings.Index(a.body, "</style>")
	h := sha256.Sum256([]byte(a.body[start:end]))
	if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(h[:])+"'") {
		t.Error("the CSP's style hash is not the page's style")
	}
}

// TestAuthorizeLogin: a wrong password shows the page again with the error; the right
// one redirects with a code and the state; past the LoginLimit even the right one is
// refused.
func TestAuthorizeLogin(t *testing.T) {
	t.Parallel()
	e := newLoginEnv(t)
	_, challenge := pkce()

	a := e.login(t, e.request(challenge), "wrong")
	if a.status != 400 || a.header.Get("Location") != "" {
		t.Fatalf("wrong password: %d %s", a.status, a.header.Get("Location"))
	}
	for _, want := range []string{`<p class="error" id="login-error" role="alert">Wrong user name or password.</p>`,
		`value="` + loginUser + `"`, `aria-describedby="login-error"`, `current-password" required autofocus`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("wrong password page lacks %s:\n%s", want, a.body)
		}
	}
	checkPage(t, a)

	if a := e.do(t, http.MethodPost, AuthorizePath, e.request(challenge)); a.status != 400 || !strings.Contains(a.body, "Enter your user name.") {
		t.Errorf("no user name: %d %s", a.status, a.body)
	}
	// The form's parameters are checked again on the POST.
	bad := e.request(challenge)
	bad.Set("redirect_uri", "https://evil.example/cb")
	if a := e.login(t, bad, loginPassword); a.status != 400 || a.header.Get("Location") != "" {
		t.Errorf("foreign redirect_uri posted: %d %s", a.status, a.header.Get("Location"))
	}

	e.code(t, challenge)

	e.users.SetLoginLimit(LoginLimit{Failures: 2, Window: time.Minute})
	e.login(t, e.request(challenge), "wrong")
	e.login(t, e.request(challenge), "wrong")
	a = e.login(t, e.request(challenge), loginPassword)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" || !strings.Contains(a.body, "Too many wrong passwords") {
		t.Errorf("past the limit: %d %v %s", a.status, a.header, a.body)
	}
}

// TestAuthorizationCodeGrant: a code and its verifier give the password grant's tokens,
// once, within a minute, to the client and redirect URI it was issued for.
func TestAuthorizationCodeGrant(t *testing.T) {
	t.Parallel()
	e := newLoginEnv(t)
	type redeem struct {
		code, redirect, verifier string
	}
	tests := []struct {
		name   string
		change func(r *redeem, form url.Values)
		status int
		err    string
	}{
		{"right verifier", nil, 200, ""},
		{"wrong verifier", func(r *redeem, f url.Values) { other, _ := pkce(); f.Set("code_verifier", other) }, 400, "invalid_grant"},
		{"the challenge as verifier", func(r *redeem, f url.Values) { f.Set("code_verifier", s256(r.verifier)) }, 400, "invalid_grant"},
		{"another redirect_uri", func(r *redeem, f url.Values) { f.Set("redirect_uri", registeredCB) }, 400, "invalid_grant"},
		{"another client_id", func(r *redeem, f url.Values) { f.Set("client_id", "other") }, 400, "invalid_grant"},
		{"expired", func(*redeem, url.Values) { e.clock.add(CodeTTL) }, 400, "invalid_grant"},
		{"unknown code", func(r *redeem, f url.Values) { f.Set("code", rand.Text()) }, 400, "invalid_grant"},
		{"no verifier", func(r *redeem, f url.Values) { f.Del("code_verifier") }, 400, "invalid_request"},
		{"malformed verifier", func(r *redeem, f url.Values) { f.Set("code_verifier", "short") }, 400, "invalid_request"},
		{"no redirect_uri", func(r *redeem, f url.Values) { f.Del("redirect_uri") }, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Not parallel: "expired" moves the clock all share.
			verifier, challenge := pkce()
			r := &redeem{e.code(t, challenge), e.cb, verifier}
			form := e.exchange(r.code, r.redirect, r.verifier)
			if tt.change != nil {
				tt.change(r, form)
			}
			status, tok := e.token(t, form)
			if status != tt.status || tok.Error != tt.err {
				t.Fatalf("token: %d %+v, want %d %q", status, tok, tt.status, tt.err)
			}
			if tt.err == "invalid_grant" && tt.name != "unknown code" {
				// A code that did not match is burnt: the right redemption fails too.
				if status, tok := e.token(t, e.exchange(r.code, r.redirect, r.verifier)); status != 400 || tok.Error != "invalid_grant" {
					t.Errorf("the right redemption after it: %d %+v", status, tok)
				}
			}
			if tt.err != "" {
				return
			}
			p, err := e.iss.Verify(tok.AccessToken)
			if err != nil || p.Subject != loginUser || !p.IsSystemAdmin() {
				t.Fatalf("access token: %+v %v", p, err)
			}
			if tok.TokenType != "Bearer" || tok.ExpiresIn != 1800 || tok.RefreshToken == "" {
				t.Errorf("answer %+v", tok)
			}
			var id idClaims
			if _, err := jwt.ParseWithClaims(tok.IDToken, &id, func(*jwt.Token) (any, error) { return e.iss.pub, nil },
				jwt.WithTimeFunc(e.clock.now)); err != nil {
				t.Fatalf("id_token: %v", err)
			}
			if id.Nonce != "n-1" || !slices.Equal(id.Audience, jwt.ClaimStrings{ConsoleClientID}) || id.Subject != loginUser || id.Issuer != e.iss.Name() {
				t.Errorf("id_token claims %+v", id)
			}
			// The refresh token works as the password grant's does.
			status, next := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
			if status != 200 || next.RefreshToken == "" {
				t.Fatalf("refresh: %d %+v", status, next)
			}
			// A code used again is refused, and what it gave is revoked.
			if status, again := e.token(t, form); status != 400 || again.Error != "invalid_grant" {
				t.Errorf("code used twice: %d %+v", status, again)
			}
			if status, r := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next.RefreshToken}}); status != 400 || r.Error != "invalid_grant" {
				t.Errorf("refresh after the code's replay: %d %+v", status, r)
			}
		})
	}

	t.Run("a new password since the code", func(t *testing.T) {
		verifier, challenge := pkce()
		code := e.code(t, challenge)
		if err := e.users.ResetPassword(t.Context(), loginUser, "battery staple"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.users.ResetPassword(t.Context(), loginUser, loginPassword) })
		if status, tok := e.token(t, e.exchange(code, e.cb, verifier)); status != 400 || tok.Error != "invalid_grant" {
			t.Errorf("%d %+v", status, tok)
		}
	})
}

// TestLogout: the end-session endpoint and the revocation endpoint end a refresh
// token's family, and the end-session endpoint redirects under the redirect_uri rules.
func TestLogout(t *testing.T) {
	t.Parallel()
	e := newLoginEnv(t)
	session := func(t *testing.T) tokenReply {
		verifier, challenge := pkce()
		status, tok := e.token(t, e.exchange(e.code(t, challenge), e.cb, verifier))
		if status != 200 {
			t.Fatalf("login: %d %+v", status, tok)
		}
		return tok
	}
	refreshes := func(t *testing.T, rt string) bool {
		status, _ := e.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		return status == 200
	}
	tests := []struct {
		name   string
		method string
		path   string
		form   func(tok tokenReply) url.Values
		status int
		to     string // the redirect's URI without its query
		page   string
		ended  bool
	}{
		{"logout, back to the console", "POST", LogoutPath, func(tok tokenReply) url.Values {
			return url.Values{"refresh_token": {tok.RefreshToken}, "post_logout_redirect_uri": {e.cb}, "state": {"bye"}}
		}, 303, e.cb, "", true},
		{"logout by GET to a registered URI", "GET", LogoutPath, func(tok tokenReply) url.Values {
			return url.Values{"refresh_token": {tok.RefreshToken}, "post_logout_redirect_uri": {registeredCB}}
		}, 303, registeredCB, "", true},
		{"logout without a redirect", "POST", LogoutPath, func(tok tokenReply) url.Values {
			return url.Values{"refresh_token": {tok.RefreshToken}}
		}, 200, "", "You are signed out of Photon.", true},
		{"logout to a foreign URI", "POST", LogoutPath, func(tok tokenReply) url.Values {
			return url.Values{"refresh_token": {tok.RefreshToken}, "post_logout_redirect_uri": {"https://evil.example/"}}
		}, 400, "", "is not one this issuer sends users back to", true},
		{"logout without a token", "GET", LogoutPath, func(tokenReply) url.Values { return url.Values{} }, 200, "", "signed out", false},
		{"revoke", "POST", RevokePath, func(tok tokenReply) url.Values {
			return url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}
		}, 200, "", "", true},
		{"revoke an unknown token", "POST", RevokePath, func(tokenReply) url.Values { return url.Values{"token": {"AAAA.BBBB"}} }, 200, "", "", false},
		{"revoke an access token", "POST", RevokePath, func(tok tokenReply) url.Values { return url.Values{"token": {tok.AccessToken}} }, 400, "", "unsupported_token_type", false},
		{"revoke without a token", "POST", RevokePath, func(tokenReply) url.Values { return url.Values{} }, 400, "", "invalid_request", false},
		{"revoke by GET", "GET", RevokePath, func(tok tokenReply) url.Values { return url.Values{"token": {tok.RefreshToken}} }, 405, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := session(t)
			a := e.do(t, tt.method, tt.path, tt.form(tok))
			if a.status != tt.status {
				t.Fatalf("status %d, want %d: %s", a.status, tt.status, a.body)
			}
			if u, q := a.location(t); tt.to != "" {
				if u == nil || u.Scheme+"://"+u.Host+u.Path != tt.to || q.Get("state") != tt.form(tok).Get("state") {
					t.Errorf("redirected to %s, want %s", a.header.Get("Location"), tt.to)
				}
			} else if u != nil {
				t.Errorf("redirected to %s", u)
			}
			if !strings.Contains(a.body, tt.page) {
				t.Errorf("answer lacks %q: %s", tt.page, a.body)
			}
			if works := refreshes(t, tok.RefreshToken); works == tt.ended {
				t.Errorf("the refresh token works after it: %v, want %v", works, !tt.ended)
			}
		})
	}
}

// TestBrowserLogin: the embedded issuer and an external provider (here the embedded
// issuer of another Photon) tell a browser client the same things.
func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss := NewIssuer(newKey(t), srv.URL, time.Hour)
	mux.Handle("GET "+DiscoveryPath, iss.DiscoveryHandler(""))
	mux.Handle("GET "+JWKSPath, iss.JWKSHandler())

	want := BrowserLogin{Issuer: srv.URL, ClientID: ConsoleClientID, AuthorizationEndpoint: srv.URL + AuthorizePath,
		TokenEndpoint: srv.URL + TokenPath, EndSessionEndpoint: srv.URL + LogoutPath, RevocationEndpoint: srv.URL + RevokePath,
		Scope: "openid offline_access"}
	if got := iss.BrowserLogin(srv.URL+"/", nil); got != want {
		t.Errorf("Issuer.BrowserLogin = %+v, want %+v", got, want)
	}
	v, err := NewOIDCVerifier(t.Context(), OIDCConfig{Issuer: srv.URL, HTTPClient: srv.Client(), ClientID: "console-at-idp"})
	if err != nil {
		t.Fatal(err)
	}
	want.ClientID = "console-at-idp"
	if got, ok := v.BrowserLogin(); !ok || got != want {
		t.Errorf("OIDCVerifier.BrowserLogin = %+v %v, want %+v", got, ok, want)
	}
	v, err = NewOIDCVerifier(t.Context(), OIDCConfig{Issuer: srv.URL, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := v.BrowserLogin(); ok {
		t.Errorf("BrowserLogin without a client id = %+v", got)
	}
}
