package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/photon-cloud/photon/shared/errs"
)

// provider is a test OpenID Connect provider on 127.0.0.1: a discovery document and a
// key set whose keys the test changes as it goes.
type provider struct {
	srv      *httptest.Server
	issuer   string // what the discovery document names; srv.URL unless a test lies
	mu       sync.Mutex
	keys     []jwk
	jwksHits atomic.Int32
}

func newProvider(t testing.TB, keys ...jwk) *provider {
	t.Helper()
	p := &provider{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, 200, map[string]string{"issuer": p.issuer, "jwks_uri": p.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		p.jwksHits.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		writeJSON(w, 200, map[string][]jwk{"keys": p.keys})
	})
	p.srv = httptest.NewServer(mux)
	p.issuer = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// publish replaces the key set.
func (p *provider) publish(keys ...jwk) {
	p.mu.Lock()
	p.keys = keys
	p.mu.Unlock()
}

// verifier is an OIDCVerifier of p with a fake clock the test moves.
func (p *provider) verifier(t testing.TB, cfg OIDCConfig) (*OIDCVerifier, *fakeClock) {
	t.Helper()
	cfg.Issuer = p.srv.URL
	cfg.HTTPClient = p.srv.Client()
	v, err := NewOIDCVerifier(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{}
	clock.t.Store(time.Now().UnixNano())
	v.now = clock.now
	return v, clock
}

type fakeClock struct{ t atomic.Int64 }

func (c *fakeClock) now() time.Time           { return time.Unix(0, c.t.Load()) }
func (c *fakeClock) add(d time.Duration)      { c.t.Add(int64(d)) }
func (c *fakeClock) at(d time.Duration) int64 { return c.now().Add(d).Unix() }

// Keys of the tests, made once: RSA key generation is slow.
var testKeys = sync.OnceValue(func() (k struct {
	rsa1, rsa2, rsaOther *rsa.PrivateKey
	ec256, ec384         *ecdsa.PrivateKey
	ed                   ed25519.PrivateKey
}) {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var err error
	k.rsa1, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsaOther, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return k
})

// jwkOf is the JWK of a public key.
func jwkOf(kid, alg string, pub any) jwk {
	enc := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return jwk{Kty: "RSA", Kid: kid, Alg: alg, Use: "sig", N: enc(k.N.Bytes()), E: enc(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		return jwk{Kty: "EC", Kid: kid, Alg: alg, Crv: k.Curve.Params().Name, X: enc(k.X.FillBytes(make([]byte, size))), Y: enc(k.Y.FillBytes(make([]byte, size)))}
	case ed25519.PublicKey:
		return jwk{Kty: "OKP", Kid: kid, Alg: alg, Crv: "Ed25519", X: enc(k)}
	}
	panic("unknown key type")
}

// signed returns a token of claims signed with key by method, naming kid ("" for none).
func signed(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOIDCVerifier(t *testing.T) {
	t.Parallel()
	k := testKeys()
	p := newProvider(t,
		jwkOf("rsa1", "RS256", &k.rsa1.PublicKey),
		jwkOf("ec256", "", &k.ec256.PublicKey),
		jwkOf("ec384", "", &k.ec384.PublicKey),
		jwkOf("ed", "EdDSA", k.ed.Public()),
		jwkOf("pss", "PS256", &k.rsa2.PublicKey),
	)
	v, clock := p.verifier(t, OIDCConfig{Audience: "photon", GroupPrefix: "corp\\"})
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"iss": p.srv.URL, "aud": "photon", "sub": "alice", "exp": clock.at(time.Hour),
			"iat": clock.at(0), "groups": []string{"admins", "users"}}
		if edit != nil {
			edit(c)
		}
		return c
	}
	good := claims(nil)
	set := func(key string, val any) jwt.MapClaims {
		return claims(func(c jwt.MapClaims) { c[key] = val })
	}
	drop := func(key string) jwt.MapClaims {
		return claims(func(c jwt.MapClaims) { delete(c, key) })
	}
	pemOf := func(pub any) []byte {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	none := func(kid string, c jwt.MapClaims) string {
		return signed(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, c)
	}
	admins := []string{"corp\\admins", "corp\\users"}

	tests := []struct {
		name   string
		token  string
		groups []string // for a good token
		code   string
	}{
		{"RS256", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", good), admins, ""},
		{"PS256", signed(t, jwt.SigningMethodPS256, k.rsa2, "pss", good), admins, ""},
		{"ES256", signed(t, jwt.SigningMethodES256, k.ec256, "ec256", good), admins, ""},
		{"ES384", signed(t, jwt.SigningMethodES384, k.ec384, "ec384", good), admins, ""},
		{"EdDSA", signed(t, jwt.SigningMethodEdDSA, k.ed, "ed", good), admins, ""},
		{"no kid: any key of the alg", signed(t, jwt.SigningMethodES256, k.ec256, "", good), admins, ""},
		{"groups as a string", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("groups", "ops")), []string{"corp\\ops"}, ""},
		{"groups with odd elements", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("groups", []any{"a", 7, nil, "", []string{"x"}, "b"})), []string{"corp\\a", "corp\\b"}, ""},
		{"groups as an object", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("groups", map[string]string{"a": "b"})), nil, ""},
		{"no groups", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", drop("groups")), nil, ""},
		{"aud among several", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("aud", []string{"other", "photon"})), admins, ""},
		{"expired within the skew", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("exp", clock.at(-10*time.Second))), admins, ""},

		{"expired", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("exp", clock.at(-time.Minute))), nil, errs.CodeExpiredAuthToken},
		{"expired and wrong aud", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", claims(func(c jwt.MapClaims) {
			c["exp"], c["aud"] = clock.at(-time.Minute), "other"
		})), nil, errs.CodeInvalidAuthToken},
		{"not yet valid", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("nbf", clock.at(time.Minute))), nil, errs.CodeInvalidAuthToken},
		{"wrong iss", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("iss", "https://evil.test")), nil, errs.CodeInvalidAuthToken},
		{"iss with a trailing slash", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("iss", p.srv.URL+"/")), nil, errs.CodeInvalidAuthToken},
		{"no iss", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", drop("iss")), nil, errs.CodeInvalidAuthToken},
		{"wrong aud", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("aud", "other")), nil, errs.CodeInvalidAuthToken},
		{"no aud", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", drop("aud")), nil, errs.CodeInvalidAuthToken},
		{"no sub", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", drop("sub")), nil, errs.CodeInvalidAuthToken},
		{"sub not a string", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", set("sub", 42)), nil, errs.CodeInvalidAuthToken},
		{"no exp", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", drop("exp")), nil, errs.CodeInvalidAuthToken},
		{"alg none", none("rsa1", good), nil, errs.CodeInvalidAuthToken},
		{"alg none, no kid", none("", good), nil, errs.CodeInvalidAuthToken},
		{"HS256 keyed with the RSA key's PEM", signed(t, jwt.SigningMethodHS256, pemOf(&k.rsa1.PublicKey), "rsa1", good), nil, errs.CodeInvalidAuthToken},
		{"HS256 keyed with the RSA modulus", signed(t, jwt.SigningMethodHS256, k.rsa1.N.Bytes(), "rsa1", good), nil, errs.CodeInvalidAuthToken},
		{"HS256 keyed with the Ed25519 key", signed(t, jwt.SigningMethodHS256, []byte(k.ed.Public().(ed25519.PublicKey)), "ed", good), nil, errs.CodeInvalidAuthToken},
		{"another key under a known kid", signed(t, jwt.SigningMethodRS256, k.rsaOther, "rsa1", good), nil, errs.CodeInvalidAuthToken},
		{"another key, no kid", signed(t, jwt.SigningMethodRS256, k.rsaOther, "", good), nil, errs.CodeInvalidAuthToken},
		{"PS256 with a key pinned to RS256", signed(t, jwt.SigningMethodPS256, k.rsa1, "rsa1", good), nil, errs.CodeInvalidAuthToken},
		{"RS256 with a key pinned to PS256", signed(t, jwt.SigningMethodRS256, k.rsa2, "pss", good), nil, errs.CodeInvalidAuthToken},
		{"ES256 alg over a P-384 kid", signed(t, jwt.SigningMethodES256, k.ec256, "ec384", good), nil, errs.CodeInvalidAuthToken},
		{"ES384 alg over a P-256 kid", signed(t, jwt.SigningMethodES384, k.ec384, "ec256", good), nil, errs.CodeInvalidAuthToken},
		{"RS256 alg over an EC kid", signed(t, jwt.SigningMethodRS256, k.rsa1, "ec256", good), nil, errs.CodeInvalidAuthToken},
		{"tampered payload", func() string {
			parts := strings.Split(signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", good), ".")
			b, _ := json.Marshal(set("sub", "root"))
			parts[1] = base64.RawURLEncoding.EncodeToString(b)
			return strings.Join(parts, ".")
		}(), nil, errs.CodeInvalidAuthToken},
		{"garbage", "x.y.z", nil, errs.CodeInvalidAuthToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := v.Verify(tt.token)
			if codeOf(err) != tt.code {
				t.Fatalf("Verify = %+v, %v; want code %q", got, err, tt.code)
			}
			if tt.code == "" && (got.Subject != "alice" || !slices.Equal(got.Groups, tt.groups)) {
				t.Errorf("Verify = %+v, want alice in %q", got, tt.groups)
			}
		})
	}
}

func TestOIDCVerifierConfig(t *testing.T) {
	t.Parallel()
	k := testKeys()
	p := newProvider(t, jwkOf("rsa1", "RS256", &k.rsa1.PublicKey))
	tok := func(clock *fakeClock, c jwt.MapClaims) string {
		c["iss"], c["sub"] = p.srv.URL, "bob"
		if _, ok := c["exp"]; !ok {
			c["exp"] = clock.at(time.Hour)
		}
		return signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", c)
	}

	t.Run("no audience configured: any aud", func(t *testing.T) {
		v, clock := p.verifier(t, OIDCConfig{})
		for _, aud := range []any{nil, "x", []string{"y"}} {
			c := jwt.MapClaims{"groups": "g"}
			if aud != nil {
				c["aud"] = aud
			}
			if got, err := v.Verify(tok(clock, c)); err != nil || !slices.Equal(got.Groups, []string{"g"}) {
				t.Errorf("aud %v: %+v, %v", aud, got, err)
			}
		}
	})
	t.Run("groups claim", func(t *testing.T) {
		v, clock := p.verifier(t, OIDCConfig{GroupsClaim: "roles"})
		got, err := v.Verify(tok(clock, jwt.MapClaims{"roles": []string{"r"}, "groups": []string{"g"}}))
		if err != nil || !slices.Equal(got.Groups, []string{"r"}) {
			t.Errorf("Verify = %+v, %v; want groups [r]", got, err)
		}
	})
	t.Run("clock skew", func(t *testing.T) {
		v, clock := p.verifier(t, OIDCConfig{ClockSkew: -1})
		if _, err := v.Verify(tok(clock, jwt.MapClaims{"exp": clock.at(-time.Second)})); codeOf(err) != errs.CodeExpiredAuthToken {
			t.Errorf("no skew allowed: %v", err)
		}
		v, clock = p.verifier(t, OIDCConfig{ClockSkew: 5 * time.Minute})
		good := tok(clock, jwt.MapClaims{"exp": clock.at(-4 * time.Minute)})
		if _, err := v.Verify(good); err != nil {
			t.Errorf("within 5m of skew: %v", err)
		}
		// Cached now; the cache honours exp plus the skew too.
		clock.add(2 * time.Minute)
		if _, err := v.Verify(good); codeOf(err) != errs.CodeExpiredAuthToken {
			t.Errorf("past the skew, from the cache: %v", err)
		}
	})
}

func TestOIDCVerifierKeyRotation(t *testing.T) {
	t.Parallel()
	k := testKeys()
	p := newProvider(t, jwkOf("rsa1", "RS256", &k.rsa1.PublicKey))
	v, clock := p.verifier(t, OIDCConfig{RefetchInterval: time.Minute, KeysMaxAge: time.Hour})
	tok := func(key any, method jwt.SigningMethod, kid, sub string) string {
		return signed(t, method, key, kid, jwt.MapClaims{"iss": p.srv.URL, "sub": sub, "exp": clock.at(2 * time.Hour)})
	}
	check := func(step, token, code string, hits int32) {
		t.Helper()
		if _, err := v.Verify(token); codeOf(err) != code {
			t.Errorf("%s: Verify = %v, want code %q", step, err, code)
		}
		if got := p.jwksHits.Load(); got != hits {
			t.Errorf("%s: key set fetched %d times, want %d", step, got, hits)
		}
	}

	check("old key", tok(k.rsa1, jwt.SigningMethodRS256, "rsa1", "a"), "", 1)
	// The provider starts signing with a new key before the verifier may fetch again.
	p.publish(jwkOf("rsa1", "RS256", &k.rsa1.PublicKey), jwkOf("ec", "ES256", &k.ec256.PublicKey))
	newTok := tok(k.ec256, jwt.SigningMethodES256, "ec", "b")
	check("new kid, within the refetch interval", newTok, errs.CodeInvalidAuthToken, 1)
	clock.add(61 * time.Second)
	check("new kid, after the interval", newTok, "", 2)
	check("another unknown kid at once", tok(k.rsa2, jwt.SigningMethodRS256, "rsa2", "c"), errs.CodeInvalidAuthToken, 2)
	check("old key still there", tok(k.rsa1, jwt.SigningMethodRS256, "rsa1", "d"), "", 2)

	// The provider withdraws the old key: once the set is older than KeysMaxAge, a token
	// signed with it no longer verifies.
	p.publish(jwkOf("ec", "ES256", &k.ec256.PublicKey))
	clock.add(time.Hour + time.Second)
	check("withdrawn key", tok(k.rsa1, jwt.SigningMethodRS256, "rsa1", "e"), errs.CodeInvalidAuthToken, 3)
	check("current key", tok(k.ec256, jwt.SigningMethodES256, "ec", "f"), "", 3)

	// A provider that fails keeps the keys there were.
	p.publish()
	clock.add(2 * time.Hour)
	check("empty set fetched", tok(k.ec256, jwt.SigningMethodES256, "ec", "g"), "", 4)
}

func TestNewOIDCVerifierRefuses(t *testing.T) {
	t.Parallel()
	k := testKeys()
	good := jwkOf("rsa1", "RS256", &k.rsa1.PublicKey)
	tests := []struct {
		name  string
		setup func(p *provider) OIDCConfig
	}{
		{"document names another issuer", func(p *provider) OIDCConfig {
			p.issuer = "https://evil.test"
			return OIDCConfig{Issuer: p.srv.URL}
		}},
		{"trailing slash differs", func(p *provider) OIDCConfig { return OIDCConfig{Issuer: p.srv.URL + "/"} }},
		{"no usable key", func(p *provider) OIDCConfig {
			p.publish(jwk{Kty: "oct", Kid: "h", Alg: "HS256"}, jwkOf("enc", "", &k.rsa1.PublicKey).withUse("enc"))
			return OIDCConfig{Issuer: p.srv.URL}
		}},
		{"empty key set", func(p *provider) OIDCConfig { p.publish(); return OIDCConfig{Issuer: p.srv.URL} }},
		{"plain http off loopback", func(*provider) OIDCConfig { return OIDCConfig{Issuer: "http://idp.example.com"} }},
		{"not a URL", func(*provider) OIDCConfig { return OIDCConfig{Issuer: "photon"} }},
		{"URL with a query", func(p *provider) OIDCConfig { return OIDCConfig{Issuer: p.srv.URL + "?x=1"} }},
		{"no discovery document", func(p *provider) OIDCConfig { return OIDCConfig{Issuer: p.srv.URL + "/nowhere"} }},
		{"a console client without an authorization endpoint", func(p *provider) OIDCConfig {
			return OIDCConfig{Issuer: p.srv.URL, ClientID: ConsoleClientID}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := newProvider(t, good)
			cfg := tt.setup(p)
			cfg.HTTPClient = p.srv.Client()
			if v, err := NewOIDCVerifier(t.Context(), cfg); err == nil {
				t.Errorf("NewOIDCVerifier accepted it: %+v", v)
			}
		})
	}
}

func (k jwk) withUse(use string) jwk { k.Use = use; return k }

// The embedded issuer and an external provider side by side, as a gateway configures
// both.
func TestVerifiersLocalAndOIDC(t *testing.T) {
	t.Parallel()
	k := testKeys()
	p := newProvider(t, jwkOf("rsa1", "RS256", &k.rsa1.PublicKey))
	oidc, clock := p.verifier(t, OIDCConfig{GroupPrefix: "idp\\"})
	local := NewIssuer(newKey(t), "photon", time.Hour)
	vs := Verifiers{local.Name(): local, oidc.Name(): oidc}

	localTok, _, err := local.Sign(Principal{Subject: "admin", Groups: []string{SystemAdminsGroup}})
	if err != nil {
		t.Fatal(err)
	}
	ext := jwt.MapClaims{"iss": p.srv.URL, "sub": "alice", "exp": clock.at(time.Hour), "groups": []string{SystemAdminsGroup}}
	tests := []struct {
		name, token, sub string
		groups           []string
		code             string
	}{
		{"local", localTok, "admin", []string{SystemAdminsGroup}, ""},
		{"external", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", ext), "alice", []string{"idp\\" + SystemAdminsGroup}, ""},
		{"external key, local iss", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", jwt.MapClaims{"iss": "photon", "sub": "x", "exp": clock.at(time.Hour)}), "", nil, errs.CodeInvalidAuthToken},
		{"unknown iss", signed(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", jwt.MapClaims{"iss": "https://other.test", "sub": "x", "exp": clock.at(time.Hour)}), "", nil, errs.CodeInvalidAuthToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := vs.Verify(tt.token)
			if codeOf(err) != tt.code || got.Subject != tt.sub || !slices.Equal(got.Groups, tt.groups) {
				t.Errorf("Verify = %+v, %v; want %s %q, code %q", got, err, tt.sub, tt.groups, tt.code)
			}
		})
	}
}
