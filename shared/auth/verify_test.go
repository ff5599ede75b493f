package auth

import (
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
)

func TestVerifiers(t *testing.T) {
	t.Parallel()
	a := NewIssuer(newKey(t), "https://a.test", time.Hour)
	b := NewIssuer(newKey(t), "https://b.test", time.Hour)
	vs := Verifiers{a.Name(): a, b.Name(): b}
	sign := func(i *Issuer, sub string) string {
		t.Helper()
		tok, _, err := i.Sign(Principal{Subject: sub})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// c names itself a, but signs with a key of its own.
	c := NewIssuer(newKey(t), a.Name(), time.Hour)
	stranger := NewIssuer(newKey(t), "https://c.test", time.Hour)

	tests := []struct {
		name, token, sub, code string
	}{
		{"first issuer", sign(a, "alice"), "alice", ""},
		{"second issuer", sign(b, "bob"), "bob", ""},
		{"known iss, other key", sign(c, "mallory"), "", errs.CodeInvalidAuthToken},
		{"unknown iss", sign(stranger, "carol"), "", errs.CodeInvalidAuthToken},
		{"not a JWT", "abc", "", errs.CodeInvalidAuthToken},
		{"payload not base64", "a.!!!.c", "", errs.CodeInvalidAuthToken},
		{"payload not JSON", "a.bm90IGpzb24.c", "", errs.CodeInvalidAuthToken},
		{"no iss", "a.e30.c", "", errs.CodeInvalidAuthToken},
		{"too long", "a." + string(make([]byte, maxTokenBytes)) + ".c", "", errs.CodeInvalidAuthToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := vs.Verify(tt.token)
			if codeOf(err) != tt.code || p.Subject != tt.sub {
				t.Errorf("Verify = %+v, %v; want subject %q, code %q", p, err, tt.sub, tt.code)
			}
		})
	}
}

func TestVerifiedCacheExpires(t *testing.T) {
	t.Parallel()
	now := time.Now()
	iss := NewIssuer(newKey(t), "https://a.test", time.Minute)
	iss.now = func() time.Time { return now }
	tok, _, err := iss.Sign(Principal{Subject: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(tok); err != nil {
		t.Fatal(err)
	}
	// From the cache now: it must still see the expiry.
	now = now.Add(2 * time.Minute)
	for range 2 {
		if _, err := iss.Verify(tok); codeOf(err) != errs.CodeExpiredAuthToken {
			t.Fatalf("Verify after expiry = %v, want ExpiredAuthToken", err)
		}
	}
}
