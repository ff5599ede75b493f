package gateway_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestBrowserLogin walks what the web console does, knowing nothing but the gateway's
// URL: read GET /v1/system/auth, send the user to the authorization endpoint it names,
// post the login form, trade the code and the PKCE verifier for tokens, call the API,
// refresh, log out. It does so against the embedded issuer and against an external
// provider (another Photon's issuer, on a server of its own), the same steps for both.
// The client follows no redirect and keeps no cookie.
func TestBrowserLogin(t *testing.T) {
	const user, password = "alice@photon.local", "correct horse"
	tests := []struct {
		name string
		// setup makes the issuer the console is to use, and tunes the gateway for it.
		setup func(t *testing.T) func(o *gateway.Options)
		// callback is the console's redirect URI, given the gateway's base URL.
		callback func(base string) string
	}{
		{"embedded issuer", func(t *testing.T) func(o *gateway.Options) {
			return func(o *gateway.Options) {
				if err := o.Users.Put(t.Context(), user, password, nil); err != nil {
					t.Fatal(err)
				}
			}
		}, func(base string) string { return base + "/console/callback" }},
		{"external provider", func(t *testing.T) func(o *gateway.Options) {
			return func(o *gateway.Options) {
				ext := externalProvider(t, user, password)
				o.Verifier = auth.Verifiers{o.Issuer.Name(): o.Issuer, ext.Name(): ext}
				b, ok := ext.BrowserLogin()
				if !ok {
					t.Fatal("the provider has no browser login")
				}
				o.ExternalLogin = &b
			}
		}, func(string) string { return externalCallback }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, tt.setup(t))
			base := "http://" + h.gw.HTTPAddr()
			cb := tt.callback(base)
			c := &browser{t: t}

			var info struct {
				Endpoint, TokenPath, Issuer, ClientID, Scope string
				AuthorizationEndpoint, TokenEndpoint         string
				EndSessionEndpoint, RevocationEndpoint       string
			}
			if a := c.do("GET", base+"/v1/system/auth", nil); a.status != 200 || json.Unmarshal([]byte(a.body), &info) != nil {
				t.Fatalf("GET /v1/system/auth: %d %s", a.status, a.body)
			}
			if info.ClientID == "" || info.AuthorizationEndpoint == "" || info.TokenEndpoint == "" || info.EndSessionEndpoint == "" ||
				info.Scope != "openid offline_access" || info.TokenPath != auth.TokenPath {
				t.Fatalf("auth info %+v", info)
			}
			if tt.name == "embedded issuer" && (info.ClientID != auth.ConsoleClientID || info.AuthorizationEndpoint != base+auth.AuthorizePath ||
				info.TokenEndpoint != base+auth.TokenPath || info.Issuer != "photon") {
				t.Errorf("auth info %+v, want the embedded issuer at %s", info, base)
			}

			request := func(challenge, redirect string) url.Values {
				return url.Values{"response_type": {"code"}, "client_id": {info.ClientID}, "redirect_uri": {redirect}, "state": {"s1"},
					"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "scope": {info.Scope}}
			}
			login := func(challenge, pw string) answer {
				if a := c.do("GET", info.AuthorizationEndpoint+"?"+request(challenge, cb).Encode(), nil); a.status != 200 ||
					!strings.Contains(a.body, `<label for="password">`) {
					t.Fatalf("login page: %d %s", a.status, a.body)
				}
				form := request(challenge, cb)
				form.Set("username", user)
				form.Set("password", pw)
				return c.do("POST", info.AuthorizationEndpoint, form)
			}
			code := func(challenge string) string {
				a := login(challenge, password)
				loc, err := url.Parse(a.header.Get("Location"))
				if a.status != 303 || err != nil || !strings.HasPrefix(a.header.Get("Location"), cb+"?") || loc.Query().Get("state") != "s1" {
					t.Fatalf("login: %d %s", a.status, a.header.Get("Location"))
				}
				return loc.Query().Get("code")
			}
			token := func(form url.Values) (int, tokenReply) {
				a := c.do("POST", info.TokenEndpoint, form)
				var tk tokenReply
				_ = json.Unmarshal([]byte(a.body), &tk)
				return a.status, tk
			}
			exchange := func(code, verifier string) url.Values {
				return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {cb},
					"client_id": {info.ClientID}, "code_verifier": {verifier}}
			}

			if a := c.do("GET", info.AuthorizationEndpoint+"?"+request("x", cb).Encode(), nil); a.status != 303 ||
				!strings.HasPrefix(a.header.Get("Location"), cb+"?error=invalid_request") {
				t.Errorf("a malformed challenge: %d %s", a.status, a.header.Get("Location"))
			}
			verifier, challenge := pkce()
			if a := login(challenge, "wrong"); a.status != 400 || !strings.Contains(a.body, "Wrong user name or password.") {
				t.Errorf("wrong password: %d %s", a.status, a.body)
			}
			if a := c.do("GET", info.AuthorizationEndpoint+"?"+request(challenge, "https://evil.example/cb").Encode(), nil); a.status != 400 ||
				a.header.Get("Location") != "" {
				t.Errorf("foreign redirect_uri: %d %s", a.status, a.header.Get("Location"))
			}
			if st, tk := token(exchange(code(challenge), "wrong-"+verifier)); st != 400 || tk.Error != "invalid_grant" {
				t.Errorf("wrong verifier: %d %+v", st, tk)
			}
			first := code(challenge)
			st, tk := token(exchange(first, verifier))
			if st != 200 || tk.Access == "" || tk.Refresh == "" {
				t.Fatalf("code grant: %d %+v", st, tk)
			}
			if st, again := token(exchange(first, verifier)); st != 400 || again.Error != "invalid_grant" {
				t.Errorf("code used twice: %d %+v", st, again)
			}
			// The code's replay revoked what it gave: log in again.
			st, tk = token(exchange(code(challenge), verifier))
			if st != 200 {
				t.Fatalf("code grant: %d %+v", st, tk)
			}
			c.bearer = tk.Access
			var me struct{ Name string }
			if a := c.do("GET", base+"/v1/user", nil); a.status != 200 || json.Unmarshal([]byte(a.body), &me) != nil || me.Name != user {
				t.Fatalf("GET /v1/user with the console's token: %d %s", a.status, a.body)
			}
			c.bearer = ""
			st, next := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tk.Refresh}})
			if st != 200 || next.Refresh == "" {
				t.Fatalf("refresh: %d %+v", st, next)
			}
			a := c.do("POST", info.EndSessionEndpoint, url.Values{"refresh_token": {next.Refresh}, "post_logout_redirect_uri": {cb}, "state": {"bye"}})
			if a.status != 303 || a.header.Get("Location") != cb+"?state=bye" {
				t.Errorf("logout: %d %s", a.status, a.header.Get("Location"))
			}
			if st, r := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {next.Refresh}}); st != 400 || r.Error != "invalid_grant" {
				t.Errorf("refresh after logout: %d %+v", st, r)
			}
		})
	}
}

// TestLoginAudited: a login at the login page is in the audit log as the token
// endpoint's are, a wrong password as DENIED.
func TestLoginAudited(t *testing.T) {
	h := newHarness(t)
	start := time.Now()
	base := "http://" + h.gw.HTTPAddr()
	_, challenge := pkce()
	form := url.Values{"response_type": {"code"}, "client_id": {auth.ConsoleClientID}, "redirect_uri": {base + "/"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "username": {"pat"}, "password": {"wrong"}}
	c := &browser{t: t}
	if a := c.do("POST", base+auth.AuthorizePath, form); a.status != 400 {
		t.Fatalf("wrong password: %d", a.status)
	}
	deadline := time.Now().Add(10 * time.Second) // the log is written in batches
	for time.Now().Before(deadline) {
		out, err := h.invoke(t, sys, m("Audit", "ListAuditEvents"), &pb.ListAuditEventsRequest{Since: start.UnixMilli(), Subject: "pat"})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range out.(*pb.AuditEventList).GetItems() {
			if e.GetMethod() == "POST "+auth.AuthorizePath && e.GetOutcome() == store.AuditDenied {
				return
			}
		}
	}
	t.Error("the failed login is not in the audit log")
}

// The console's client id and redirect URI, registered at the external provider.
const (
	externalClient   = "console-at-idp"
	externalCallback = "https://photon.example.com/console/callback"
)

// externalProvider serves another embedded issuer, with its own users (user among
// them) and the gateway's console callback registered, on a server of its own, and
// returns the gateway's verifier of it, with the console's client id there.
func externalProvider(t *testing.T, user, password string) *auth.OIDCVerifier {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := auth.NewIssuer(key, srv.URL, time.Hour)
	users := auth.NewUsers(storetest.Client(t), storetest.Prefix(t)+"idp:").WithCost(bcrypt.MinCost)
	if err := users.Put(t.Context(), user, password, nil); err != nil {
		t.Fatal(err)
	}
	lo := auth.LoginOptions{RedirectURIs: []string{externalCallback}, ClientIDs: []string{externalClient}}
	mux.Handle(auth.AuthorizePath, iss.AuthorizeHandler(users, lo))
	mux.Handle(auth.TokenPath, iss.TokenHandler(users))
	mux.Handle(auth.LogoutPath, iss.LogoutHandler(users, lo))
	mux.Handle(auth.RevokePath, iss.RevokeHandler(users))
	mux.Handle(auth.DiscoveryPath, iss.DiscoveryHandler(""))
	mux.Handle(auth.JWKSPath, iss.JWKSHandler())
	v, err := auth.NewOIDCVerifier(t.Context(), auth.OIDCConfig{Issuer: srv.URL, HTTPClient: srv.Client(), ClientID: externalClient})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// browser is an HTTP client as a browser's script or address bar is: it follows no
// redirect and keeps no cookie; bearer, when set, is sent as the Authorization.
type browser struct {
	t      *testing.T
	bearer string
}

type answer struct {
	status int
	header http.Header
	body   string
}

// do sends a GET, or a POST of form.
func (b *browser) do(method, u string, form url.Values) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+b.bearer)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return answer{resp.StatusCode, resp.Header, string(data)}
}

// pkce is a code verifier and its S256 challenge.
func pkce() (verifier, challenge string) {
	verifier = strings.ToLower(rand.Text() + rand.Text())
	h := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(h[:])
}
