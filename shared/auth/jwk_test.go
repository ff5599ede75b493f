package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"math/big"
	"testing"
)

func TestParseJWK(t *testing.T) {
	t.Parallel()
	k := testKeys()
	enc := base64.RawURLEncoding.EncodeToString
	rsa1 := jwkOf("r", "", &k.rsa1.PublicKey)
	ec := jwkOf("e", "", &k.ec256.PublicKey)
	ed := jwkOf("o", "", k.ed.Public())
	edit := func(k jwk, f func(*jwk)) jwk { f(&k); return k }
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		key  jwk
		ok   bool
		algs []string // algorithms the key must fit, when ok
		not  []string // and must not
	}{
		{"RSA", rsa1, true, rsaAlgs, []string{"ES256", "EdDSA", "HS256", "none"}},
		{"RSA pinned to RS256", edit(rsa1, func(k *jwk) { k.Alg = "RS256" }), true, []string{"RS256"}, []string{"PS256", "RS384"}},
		{"EC P-256", ec, true, []string{"ES256"}, []string{"ES384", "ES512", "RS256", "EdDSA"}},
		{"EC P-521", jwkOf("p", "ES512", &p521.PublicKey), true, []string{"ES512"}, []string{"ES256"}},
		{"Ed25519", ed, true, []string{"EdDSA"}, []string{"ES256", "RS256"}},
		{"use sig", edit(ed, func(k *jwk) { k.Use = "sig" }), true, []string{"EdDSA"}, nil},

		{"use enc", edit(rsa1, func(k *jwk) { k.Use = "enc" }), false, nil, nil},
		{"HMAC key", jwk{Kty: "oct", Kid: "h", Alg: "HS256"}, false, nil, nil},
		{"RSA pinned to HS256", edit(rsa1, func(k *jwk) { k.Alg = "HS256" }), false, nil, nil},
		{"RSA pinned to none", edit(rsa1, func(k *jwk) { k.Alg = "none" }), false, nil, nil},
		{"RSA pinned to an EC alg", edit(rsa1, func(k *jwk) { k.Alg = "ES256" }), false, nil, nil},
		{"EC pinned to another curve's alg", edit(ec, func(k *jwk) { k.Alg = "ES384" }), false, nil, nil},
		{"RSA of 1024 bits", jwkOf("s", "", &small.PublicKey), false, nil, nil},
		{"RSA exponent 1", edit(rsa1, func(k *jwk) { k.E = enc([]byte{1}) }), false, nil, nil},
		{"RSA exponent even", edit(rsa1, func(k *jwk) { k.E = enc([]byte{1, 0, 0}) }), false, nil, nil},
		{"RSA exponent of 5 bytes", edit(rsa1, func(k *jwk) { k.E = enc([]byte{1, 0, 0, 0, 1}) }), false, nil, nil},
		{"RSA modulus even", edit(rsa1, func(k *jwk) {
			k.N = enc(new(big.Int).Lsh(big.NewInt(1), 2048).Bytes())
		}), false, nil, nil},
		{"RSA without n", edit(rsa1, func(k *jwk) { k.N = "" }), false, nil, nil},
		{"padded base64", edit(rsa1, func(k *jwk) { k.E = "AQAB=" }), false, nil, nil},
		{"standard base64", edit(rsa1, func(k *jwk) { k.N = k.N[:len(k.N)-4] + "+/+/" }), false, nil, nil},
		{"EC point off the curve", edit(ec, func(k *jwk) {
			y, _ := base64.RawURLEncoding.DecodeString(k.Y)
			y[len(y)-1] ^= 1
			k.Y = enc(y)
		}), false, nil, nil},
		{"EC coordinate short", edit(ec, func(k *jwk) {
			x, _ := base64.RawURLEncoding.DecodeString(k.X)
			k.X = enc(x[1:])
		}), false, nil, nil},
		{"EC unknown curve", edit(ec, func(k *jwk) { k.Crv = "secp256k1" }), false, nil, nil},
		{"OKP X25519", edit(ed, func(k *jwk) { k.Crv = "X25519" }), false, nil, nil},
		{"OKP short", edit(ed, func(k *jwk) { k.X = enc(make([]byte, 31)) }), false, nil, nil},
		{"unknown kty", jwk{Kty: "XYZ"}, false, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pk, err := parseJWK(tt.key)
			if (err == nil) != tt.ok {
				t.Fatalf("parseJWK = %v, want ok %v", err, tt.ok)
			}
			for _, alg := range tt.algs {
				if !pk.fits(alg) {
					t.Errorf("key does not fit %s", alg)
				}
			}
			for _, alg := range tt.not {
				if pk.fits(alg) {
					t.Errorf("key fits %s", alg)
				}
			}
		})
	}
}
