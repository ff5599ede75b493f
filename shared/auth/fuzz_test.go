package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/photon-cloud/photon/shared/errs"
)

// The fuzz tests run their seed corpus with every `go test`. To fuzz, one target at a
// time, for as long as you like:
//
//	go test -run '^$' -fuzz '^FuzzVerify$' -fuzztime 10m ./shared/auth/
//	go test -run '^$' -fuzz '^FuzzBearerToken$' -fuzztime 10m ./shared/auth/
//	go test -run '^$' -fuzz '^FuzzTokenRequest$' -fuzztime 10m ./shared/auth/
//
// Inputs that fail are written to testdata/fuzz/<target>/ and, committed, replayed by
// every later `go test`. FuzzTokenRequest needs redis-server on the PATH (TestMain
// starts one per fuzz worker).

// FuzzVerify feeds arbitrary tokens to the embedded issuer, an OIDCVerifier and
// Verifiers over both. None may panic; a token one of them accepts, or calls expired,
// must carry a signature that one of its keys made, checked here with the crypto
// packages alone.
func FuzzVerify(f *testing.F) {
	seed := make([]byte, ed25519.SeedSize)
	copy(seed, "photon fuzz")
	local := NewIssuer(ed25519.NewKeyFromSeed(seed), "photon", time.Hour)
	k := testKeys()
	p := newProvider(f, jwkOf("rsa1", "RS256", &k.rsa1.PublicKey), jwkOf("ec256", "ES256", &k.ec256.PublicKey))
	// No key set fetches while fuzzing: an unknown kid is just refused.
	oidc, clock := p.verifier(f, OIDCConfig{RefetchInterval: time.Hour})
	verifiers := []struct {
		name string
		v    Verifier
		keys []any
	}{
		{"issuer", local, []any{local.pub}},
		{"oidc", oidc, []any{&k.rsa1.PublicKey, &k.ec256.PublicKey}},
		{"verifiers", Verifiers{local.Name(): local, oidc.Name(): oidc}, []any{local.pub, &k.rsa1.PublicKey, &k.ec256.PublicKey}},
	}

	good, _, err := local.Sign(Principal{Subject: "alice", Groups: []string{SystemAdminsGroup}})
	if err != nil {
		f.Fatal(err)
	}
	past := NewIssuer(local.key, "photon", time.Hour)
	past.now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	expired, _, err := past.Sign(Principal{Subject: "alice"})
	if err != nil {
		f.Fatal(err)
	}
	ext := jwt.MapClaims{"iss": p.srv.URL, "sub": "bob", "exp": clock.at(time.Hour), "groups": []string{"g"}}
	for _, s := range []string{
		good, expired,
		signed(f, jwt.SigningMethodRS256, k.rsa1, "rsa1", ext),
		signed(f, jwt.SigningMethodES256, k.ec256, "ec256", ext),
		signed(f, jwt.SigningMethodRS256, k.rsa1, "", ext),
		signed(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "rsa1", ext),
		signed(f, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", jwt.MapClaims{"iss": "photon", "sub": "x", "exp": clock.at(time.Hour)}),
		signed(f, jwt.SigningMethodHS256, []byte(local.pub), "", jwt.MapClaims{"iss": "photon", "sub": "x", "exp": clock.at(time.Hour)}),
		good[:len(good)-10], good[:strings.LastIndex(good, ".")], good[:strings.Index(good, ".")],
		good + "=", "", ".", "..", "a.b.c", "e30.e30.",
	} {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, token string) {
		for _, v := range verifiers {
			got, err := v.v.Verify(token)
			switch code := codeOf(err); {
			case err == nil && got.Subject == "":
				t.Errorf("%s accepted a token without a subject: %q", v.name, token)
			case code != "" && code != errs.CodeInvalidAuthToken && code != errs.CodeExpiredAuthToken:
				t.Errorf("%s: error code %q: %v", v.name, code, err)
			case err != nil && code == "":
				t.Errorf("%s: error %v is not an *errs.Error", v.name, err)
			case err == nil || code == errs.CodeExpiredAuthToken:
				if !signedByOneOf(token, v.keys) {
					t.Errorf("%s: %v for a token none of its keys signed: %q", v.name, err, token)
				}
			}
		}
	})
}

// signedByOneOf reports whether the signature of token was made over its first two
// segments by one of keys: Ed25519, RSA PKCS#1 v1.5 with SHA-256 (RS256) or ECDSA P-256
// with SHA-256 (ES256), the algorithms FuzzVerify's keys are for.
func signedByOneOf(token string, keys []any) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	msg := []byte(parts[0] + "." + parts[1])
	digest := sha256.Sum256(msg)
	for _, key := range keys {
		switch k := key.(type) {
		case ed25519.PublicKey:
			if ed25519.Verify(k, msg, sig) {
				return true
			}
		case *rsa.PublicKey:
			if rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], sig) == nil {
				return true
			}
		case *ecdsa.PublicKey:
			if len(sig) == 64 && ecdsa.Verify(k, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
				return true
			}
		}
	}
	return false
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer abc", "  Bearer   abc  ", "", "Bearer", "Bearer ",
		"Basic dXNlcjpwdw==", "abc", "Bearer\tabc", "BEARER a b", "Bearer \u00a0x\u00a0", "Bearerabc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		tok, err := BearerToken(header)
		if err != nil {
			if codeOf(err) != errs.CodeMissingAuthToken || tok != "" {
				t.Errorf("BearerToken(%q) = %q, %v; want MissingAuthToken", header, tok, err)
			}
			return
		}
		scheme, rest, ok := strings.Cut(strings.TrimSpace(header), " ")
		if tok == "" || tok != strings.TrimSpace(tok) || !ok || !strings.EqualFold(scheme, "Bearer") || !strings.Contains(rest, tok) {
			t.Errorf("BearerToken(%q) = %q", header, tok)
		}
	})
}

// FuzzTokenRequest posts arbitrary bodies, of arbitrary content types, to the token
// endpoint: with Redis up it must answer 200 or 400 (429 to a password grant past the
// login limit), and 200 only to the right password, a refresh token it issued or a code
// it issued with its verifier; with Redis down, 400 or 500 server_error. Every answer is
// JSON.
func FuzzTokenRequest(f *testing.F) {
	rdb, prefix := newRedis(f)
	users := NewUsers(rdb, prefix)
	users.cost = bcrypt.MinCost
	if err := users.Put(f.Context(), "alice", "pw", []string{"g"}); err != nil {
		f.Fatal(err)
	}
	iss := NewIssuer(newKey(f), "https://photon.test", time.Hour)
	up := iss.TokenHandler(users)
	downRDB := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	f.Cleanup(func() { _ = downRDB.Close() })
	down := iss.TokenHandler(NewUsers(downRDB, prefix))

	// issued holds every refresh token the endpoint gave out: only those may refresh.
	issued := map[string]bool{}
	_, first, err := users.login(f.Context(), "alice", "pw")
	if err != nil {
		f.Fatal(err)
	}
	issued[first] = true
	// codes holds the authorization codes issued, for the verifier below: only those may
	// be redeemed.
	const verifier = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
	code, err := users.issueCode(f.Context(), "alice", fingerprintOf(f, users, "alice"),
		codeGrant{ClientID: ConsoleClientID, RedirectURI: "https://photon.test/cb", Challenge: s256(verifier)}, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	codes := map[string]bool{code: true}

	const form = "application/x-www-form-urlencoded"
	for _, s := range []struct{ ct, body string }{
		{form, "grant_type=password&username=alice&password=pw&scope=openid offline_access"},
		{form, "grant_type=password&username=alice&password=nope"},
		{form, "grant_type=password&username=alice&username=bob&password=pw"},
		{form, "grant_type=password&password=pw"},
		{form, "grant_type=refresh_token&refresh_token=" + first},
		{form, "grant_type=refresh_token&refresh_token=" + first[:len(first)-1] + "A"},
		{form, "grant_type=refresh_token&refresh_token=A.B"},
		{form, "grant_type=client_credentials"},
		{form, "grant_type=password&username=alice&password=%zz"},
		{form, "grant_type=password;username=alice"},
		{form, ""},
		{"", "grant_type=password&username=alice&password=pw"},
		{"multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\npassword\r\n--x--"},
		{form + "; charset=utf-8", "grant_type=password&username=alice&password=pw"},
		{"text/plain", strings.Repeat("a=b&", 1000)},
		{form, "grant_type=authorization_code&code=" + code + "&redirect_uri=https://photon.test/cb&client_id=" + ConsoleClientID + "&code_verifier=" + verifier},
		{form, "grant_type=authorization_code&code=" + code + "&redirect_uri=https://photon.test/cb&client_id=" + ConsoleClientID + "&code_verifier=x" + verifier},
		{form, "grant_type=authorization_code&code=A&redirect_uri=https://photon.test/cb&client_id=c&code_verifier=" + verifier},
	} {
		f.Add(s.ct, s.body)
	}

	f.Fuzz(func(t *testing.T, ct, body string) {
		post := func(h http.Handler) (int, tokenReply) {
			req := httptest.NewRequestWithContext(t.Context(), "POST", TokenPath, strings.NewReader(body))
			req.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var r tokenReply
			if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("answer %d is not JSON: %v: %q", rec.Code, err, rec.Body.String())
			}
			return rec.Code, r
		}

		status, r := post(up)
		switch status {
		case 200:
			v, _ := url.ParseQuery(body)
			switch v.Get("grant_type") {
			case "password":
				if v.Get("username") != "alice" || v.Get("password") != "pw" {
					t.Fatalf("token issued for %q", body)
				}
			case "refresh_token":
				if !issued[v.Get("refresh_token")] {
					t.Fatalf("token issued for a refresh token never given out: %q", body)
				}
			case "authorization_code":
				if !codes[v.Get("code")] || v.Get("code_verifier") != verifier {
					t.Fatalf("token issued for a code never given out or the wrong verifier: %q", body)
				}
			default:
				t.Fatalf("token issued for %q", body)
			}
			if p, err := iss.Verify(r.AccessToken); err != nil || p.Subject != "alice" {
				t.Fatalf("issued access token: %+v, %v", p, err)
			}
			issued[r.RefreshToken] = true
		case 400:
			if r.Error == "" || r.AccessToken != "" {
				t.Fatalf("400 answer %+v", r)
			}
		case 429: // a user name past the login limit: the fuzzer tries many wrong passwords
			if v, _ := url.ParseQuery(body); r.Error == "" || r.AccessToken != "" || v.Get("grant_type") != "password" {
				t.Fatalf("429 answer %+v for %q", r, body)
			}
		default:
			t.Fatalf("status %d (%+v) for %q", status, r, body)
		}

		switch status, r := post(down); {
		case status == 500 && r.Error == "server_error":
		case status == 400 && r.Error != "":
		default:
			t.Fatalf("with Redis down: status %d (%+v) for %q", status, r, body)
		}
	})
}

// fingerprintOf is the fingerprint of the user's password hash, as a login records it.
func fingerprintOf(t testing.TB, u *Users, name string) string {
	t.Helper()
	_, hash, err := u.get(t.Context(), name)
	if err != nil || hash == "" {
		t.Fatalf("read %s: %v", name, err)
	}
	return fingerprint(hash)
}
