package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
)

func newKey(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 500, time.UTC)
	iss := NewIssuer(newKey(t), "https://photon.test", time.Hour)
	iss.now = func() time.Time { return now }

	tests := []struct {
		name string
		p    Principal
	}{
		{"with groups", Principal{Subject: "alice@photon.local", Groups: []string{SystemAdminsGroup, "t1\\Users"}}},
		{"no groups", Principal{Subject: "bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok, exp, err := iss.Sign(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if want := now.Add(time.Hour).Truncate(time.Second); !exp.Equal(want) {
				t.Errorf("expiry = %v, want %v", exp, want)
			}
			got, err := iss.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != tt.p.Subject || !slices.Equal(got.Groups, tt.p.Groups) {
				t.Errorf("Verify = %+v, want %+v", got, tt.p)
			}

			// The token carries every documented claim.
			var c jwt.MapClaims
			if _, _, err := jwt.NewParser().ParseUnverified(tok, &c); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"iss", "sub", "iat", "exp", "jti"} {
				if _, ok := c[k]; !ok {
					t.Errorf("claim %s missing from %v", k, c)
				}
			}
		})
	}

	// Two tokens for one principal differ by their jti.
	a, _, _ := iss.Sign(tests[0].p)
	b, _, _ := iss.Sign(tests[0].p)
	if a == b {
		t.Error("two tokens are identical: jti is not unique")
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	const name = "https://photon.test"
	iss := NewIssuer(key, name, time.Hour)
	p := Principal{Subject: "alice", Groups: []string{"g"}}

	sign := func(i *Issuer) string {
		t.Helper()
		tok, _, err := i.Sign(p)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	past := func(i *Issuer) *Issuer {
		i.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
		return i
	}
	withClaims := func(m jwt.SigningMethod, key any, c jwt.Claims) string {
		t.Helper()
		tok, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := jwt.MapClaims{"iss": name, "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	tampered := func() string {
		parts := strings.Split(sign(iss), ".")
		parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + name + `","sub":"root","groups":["` + strings.ReplaceAll(SystemAdminsGroup, `\`, `\\`) + `"],"exp":4102444800}`))
		return strings.Join(parts, ".")
	}

	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"expired", sign(past(NewIssuer(key, name, time.Hour))), errs.CodeExpiredAuthToken},
		{"expired and other key", sign(past(NewIssuer(newKey(t), name, time.Hour))), errs.CodeInvalidAuthToken},
		{"expired and wrong issuer", sign(past(NewIssuer(key, "https://evil.test", time.Hour))), errs.CodeInvalidAuthToken},
		{"other key", sign(NewIssuer(newKey(t), name, time.Hour)), errs.CodeInvalidAuthToken},
		{"wrong issuer", sign(NewIssuer(key, "https://evil.test", time.Hour)), errs.CodeInvalidAuthToken},
		{"alg none", withClaims(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good), errs.CodeInvalidAuthToken},
		{"HS256 keyed with the public key", withClaims(jwt.SigningMethodHS256, []byte(key.Public().(ed25519.PublicKey)), good), errs.CodeInvalidAuthToken},
		{"no expiry", withClaims(jwt.SigningMethodEdDSA, key, jwt.MapClaims{"iss": name, "sub": "alice"}), errs.CodeInvalidAuthToken},
		{"no subject", withClaims(jwt.SigningMethodEdDSA, key, jwt.MapClaims{"iss": name, "exp": time.Now().Add(time.Hour).Unix()}), errs.CodeInvalidAuthToken},
		{"tampered payload", tampered(), errs.CodeInvalidAuthToken},
		{"garbage", "not-a-token", errs.CodeInvalidAuthToken},
		{"three garbage parts", "a.b.c", errs.CodeInvalidAuthToken},
		{"empty", "", errs.CodeInvalidAuthToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := iss.Verify(tt.token)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", got)
			}
			if c := codeOf(err); c != tt.code {
				t.Errorf("Verify error = %v (code %q), want code %q", err, c, tt.code)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		header string
		want   string
		code   string
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", ""},
		{"bearer abc", "abc", ""},
		{"  Bearer   abc  ", "abc", ""},
		{"", "", errs.CodeMissingAuthToken},
		{"Bearer", "", errs.CodeMissingAuthToken},
		{"Bearer   ", "", errs.CodeMissingAuthToken},
		{"Basic dXNlcjpwdw==", "", errs.CodeMissingAuthToken},
		{"abc.def.ghi", "", errs.CodeMissingAuthToken},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			t.Parallel()
			got, err := BearerToken(tt.header)
			if got != tt.want || codeOf(err) != tt.code {
				t.Errorf("BearerToken(%q) = %q, %v; want %q, code %q", tt.header, got, err, tt.want, tt.code)
			}
		})
	}
}

func TestLoadOrCreateKey(t *testing.T) {
	t.Parallel()
	rdb, prefix := newRedis(t)

	// Gateways starting together agree on one key.
	const n = 8
	keys := make([]ed25519.PrivateKey, n)
	errList := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errList[i] = LoadOrCreateKey(t.Context(), rdb, prefix) })
	}
	wg.Wait()
	for i := range n {
		if errList[i] != nil {
			t.Fatalf("LoadOrCreateKey #%d: %v", i, errList[i])
		}
		if !keys[i].Equal(keys[0]) {
			t.Fatalf("LoadOrCreateKey #%d returned another key", i)
		}
	}

	// A later start loads the same key, and tokens signed before still verify.
	tok, _, err := NewIssuer(keys[0], "i", time.Hour).Sign(Principal{Subject: "a"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateKey(t.Context(), rdb, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewIssuer(again, "i", time.Hour).Verify(tok); err != nil {
		t.Errorf("token signed before a restart: %v", err)
	}

	// A corrupt key is an error, not a silent new key.
	if err := rdb.Set(t.Context(), keyspace.Space(prefix+"other:", keyspace.Auth)+"auth:key", "short", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKey(t.Context(), rdb, prefix+"other:"); err == nil {
		t.Error("LoadOrCreateKey accepted a corrupt key")
	}
}
