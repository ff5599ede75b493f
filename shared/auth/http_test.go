package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestTokenHandler(t *testing.T) {
	t.Parallel()
	rdb, prefix := newRedis(t)
	users := NewUsers(rdb, prefix)
	users.cost = bcrypt.MinCost // fast; Check reads the cost from the hash
	if err := users.Put(t.Context(), "administrator@photon.local", "Passw0rd!", []string{SystemAdminsGroup}); err != nil {
		t.Fatal(err)
	}
	iss := NewIssuer(newKey(t), "https://photon.test", 30*time.Minute)
	srv := httptest.NewServer(iss.TokenHandler(users))
	t.Cleanup(srv.Close)

	tests := []struct {
		name   string
		method string
		body   string
		status int
		err    string // OAuth2 error code; "" for success
	}{
		// The body is built the way the SDK builds it: fmt.Sprintf without escaping.
		{"password grant", "POST", "grant_type=password&username=administrator@photon.local&password=Passw0rd!&scope=openid offline_access", 200, ""},
		{"escaped form", "POST", url.Values{"grant_type": {"password"}, "username": {"administrator@photon.local"}, "password": {"Passw0rd!"}}.Encode(), 200, ""},
		{"wrong password", "POST", "grant_type=password&username=administrator@photon.local&password=nope&scope=openid", 400, "invalid_grant"},
		{"unknown user", "POST", "grant_type=password&username=nobody&password=Passw0rd!", 400, "invalid_grant"},
		{"no username", "POST", "grant_type=password&password=Passw0rd!", 400, "invalid_request"},
		{"unknown refresh token", "POST", "grant_type=refresh_token&refresh_token=abc", 400, "invalid_grant"},
		{"no refresh token", "POST", "grant_type=refresh_token", 400, "invalid_request"},
		{"client credentials grant", "POST", "grant_type=client_credentials", 400, "unsupported_grant_type"},
		{"no grant type", "POST", "username=a&password=b", 400, "unsupported_grant_type"},
		{"GET", "GET", "", 405, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := postToken(t, srv, tt.method, tt.body)
			if status != tt.status {
				t.Fatalf("status = %d, want %d", status, tt.status)
			}
			if body.Error != tt.err {
				t.Fatalf("error = %q (%s), want %q", body.Error, body.Description, tt.err)
			}
			if tt.err != "" {
				return
			}
			if body.TokenType != "Bearer" || body.ExpiresIn != 1800 || body.IDToken == "" || body.RefreshToken == "" {
				t.Errorf("response = %+v", body)
			}
			p, err := iss.Verify(body.AccessToken)
			if err != nil {
				t.Fatalf("access token does not verify: %v", err)
			}
			if p.Subject != "administrator@photon.local" || !p.IsSystemAdmin() {
				t.Errorf("token principal = %+v", p)
			}
		})
	}
}

// tokenReply is a token endpoint's answer, success or error, as a client decodes it.
type tokenReply struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Error        string `json:"error"`
	Description  string `json:"error_description"`
}

// postToken sends body to the token endpoint of srv the way the SDK does and returns the
// status and the decoded answer. Every answer must be JSON and must not be cached.
func postToken(t testing.TB, srv *httptest.Server, method, body string) (int, tokenReply) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+TokenPath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	var r tokenReply
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

func TestJWKSHandler(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	iss := NewIssuer(key, "https://photon.test", time.Hour)
	rec := httptest.NewRecorder()
	iss.JWKSHandler().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", "/jwks", nil))
	if rec.Code != 200 {
		t.Fatalf("status = %d", rec.Code)
	}
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("keys = %v", set.Keys)
	}
	k := set.Keys[0]
	if k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["alg"] != "EdDSA" || k["kid"] == "" {
		t.Errorf("key = %v", k)
	}
	x, err := base64.RawURLEncoding.DecodeString(k["x"])
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.PublicKey(x).Equal(key.Public()) {
		t.Error("x is not the issuer's public key")
	}

	// A token verifies with the published key alone.
	tok, _, err := iss.Sign(Principal{Subject: "a"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if !ed25519.Verify(x, []byte(parts[0]+"."+parts[1]), sig) {
		t.Error("token signature does not verify with the JWKS key")
	}
}

func TestDiscoveryHandler(t *testing.T) {
	t.Parallel()
	get := func(t *testing.T, h http.Handler) map[string]any {
		t.Helper()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "GET", DiscoveryPath, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("status = %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		var doc map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	has := func(doc map[string]any, field string, want ...string) bool {
		list, _ := doc[field].([]any)
		for _, w := range want {
			if !slices.Contains(list, any(w)) {
				return false
			}
		}
		return true
	}

	t.Run("issuer named by URL", func(t *testing.T) {
		t.Parallel()
		iss := NewIssuer(newKey(t), "https://photon.example.com", time.Hour)
		doc := get(t, iss.DiscoveryHandler(""))
		for field, want := range map[string]string{
			"issuer":                 "https://photon.example.com",
			"token_endpoint":         "https://photon.example.com/openidconnect/token",
			"jwks_uri":               "https://photon.example.com/openidconnect/jwks",
			"authorization_endpoint": "https://photon.example.com/openidconnect/authorize",
			"end_session_endpoint":   "https://photon.example.com/openidconnect/logout",
			"revocation_endpoint":    "https://photon.example.com/openidconnect/revoke",
		} {
			if doc[field] != want {
				t.Errorf("%s = %v, want %s", field, doc[field], want)
			}
		}
		for field, want := range map[string][]string{
			"grant_types_supported":                 {"authorization_code", "password", "refresh_token"},
			"code_challenge_methods_supported":      {"S256"},
			"id_token_signing_alg_values_supported": {"EdDSA"},
			"claims_supported":                      {"sub", "groups"},
			"scopes_supported":                      {"openid", "offline_access"},
			"response_types_supported":              {"code"},
			"subject_types_supported":               {"public"},
			"token_endpoint_auth_methods_supported": {"none"},
		} {
			if !has(doc, field, want...) {
				t.Errorf("%s = %v, want %q among them", field, doc[field], want)
			}
		}
	})

	t.Run("issuer named otherwise", func(t *testing.T) {
		t.Parallel()
		doc := get(t, NewIssuer(newKey(t), "photon", time.Hour).DiscoveryHandler("https://gw.test:9000/"))
		if doc["issuer"] != "photon" || doc["token_endpoint"] != "https://gw.test:9000/openidconnect/token" {
			t.Errorf("document = %v", doc)
		}
	})

	t.Run("no URL at all", func(t *testing.T) {
		t.Parallel()
		// The endpoints are at the origin the request came to.
		doc := get(t, NewIssuer(newKey(t), "photon", time.Hour).DiscoveryHandler(""))
		if doc["issuer"] != "photon" || doc["token_endpoint"] != "http://example.com/openidconnect/token" ||
			doc["authorization_endpoint"] != "http://example.com/openidconnect/authorize" {
			t.Errorf("document = %v", doc)
		}
	})

	// Served under its issuer URL, the embedded issuer is an OIDC provider another
	// Photon can trust: the discovery document's issuer is its tokens' iss.
	t.Run("OIDCVerifier trusts it", func(t *testing.T) {
		t.Parallel()
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		iss := NewIssuer(newKey(t), srv.URL, time.Hour)
		mux.Handle("GET "+DiscoveryPath, iss.DiscoveryHandler(""))
		mux.Handle("GET "+JWKSPath, iss.JWKSHandler())
		v, err := NewOIDCVerifier(t.Context(), OIDCConfig{Issuer: srv.URL, HTTPClient: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := iss.Sign(Principal{Subject: "alice", Groups: []string{"g"}})
		if err != nil {
			t.Fatal(err)
		}
		p, err := v.Verify(tok)
		if err != nil || p.Subject != "alice" || !slices.Equal(p.Groups, []string{"g"}) {
			t.Errorf("Verify = %+v, %v", p, err)
		}
	})

	t.Run("GET only", func(t *testing.T) {
		t.Parallel()
		rec := httptest.NewRecorder()
		NewIssuer(newKey(t), "https://p.test", time.Hour).DiscoveryHandler("").ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), "POST", DiscoveryPath, nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST: status %d", rec.Code)
		}
	})
}
