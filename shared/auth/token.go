package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
)

// Issuer signs and verifies the gateway's bearer tokens: EdDSA (Ed25519) JWTs with the
// claims iss, sub, groups, iat, exp and jti.
type Issuer struct {
	key    ed25519.PrivateKey
	pub    ed25519.PublicKey
	kid    string
	issuer string
	ttl    time.Duration
	parser *jwt.Parser
	now    func() time.Time // a fake clock in tests
	cache  verifiedCache
}

// claims is the token's payload.
type claims struct {
	Groups []string `json:"groups,omitempty"`
	jwt.RegisteredClaims
}

// NewIssuer returns an Issuer that signs with key, names itself issuer in the iss claim
// and makes tokens that expire ttl after they are signed. For OpenID Connect clients
// that read DiscoveryHandler's document, issuer should be the URL the gateway is
// reached at (e.g. "https://photon.example.com").
func NewIssuer(key ed25519.PrivateKey, issuer string, ttl time.Duration) *Issuer {
	i := &Issuer{
		key:    key,
		pub:    key.Public().(ed25519.PublicKey),
		issuer: issuer,
		ttl:    ttl,
		now:    time.Now,
	}
	i.kid = thumbprint(i.pub)
	// The parser reads the clock through i.now, so a test may replace it later.
	i.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(func() time.Time { return i.now() }),
	)
	return i
}

// Sign returns a token for p and the time it expires.
func (i *Issuer) Sign(p Principal) (string, time.Time, error) { return i.sign(p, i.now()) }

func (i *Issuer) sign(p Principal, now time.Time) (string, time.Time, error) {
	iat := jwt.NewNumericDate(now)
	exp := jwt.NewNumericDate(now.Add(i.ttl))
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims{
		Groups: p.Groups,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   p.Subject,
			IssuedAt:  iat,
			ExpiresAt: exp,
			ID:        rand.Text(),
		},
	})
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token for %s: %w", p.Subject, err)
	}
	return s, exp.Time, nil
}

// idClaims is an ID token's payload for a client of the authorization-code flow: the
// access token's claims, for that client (aud), with the nonce it asked with.
type idClaims struct {
	Nonce string `json:"nonce,omitempty"`
	claims
}

// signID returns an ID token (OpenID Connect Core §2) for p, for the client clientID,
// carrying nonce. It verifies as an access token would.
func (i *Issuer) signID(p Principal, clientID, nonce string, now time.Time) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, idClaims{Nonce: nonce, claims: claims{
		Groups: p.Groups,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   p.Subject,
			Audience:  jwt.ClaimStrings{clientID},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(i.ttl)),
			ID:        rand.Text(),
		},
	}})
	t.Header["kid"] = i.kid
	s, err := t.SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("sign ID token for %s: %w", p.Subject, err)
	}
	return s, nil
}

// Name is the issuer's name: the iss claim of its tokens.
func (i *Issuer) Name() string { return i.issuer }

// Verify checks token and returns its Principal. It accepts only EdDSA tokens signed with
// this Issuer's key, naming this issuer, with a subject, and not expired. The error is an
// *errs.Error: ExpiredAuthToken for an expired but otherwise good token,
// InvalidAuthToken for anything else.
func (i *Issuer) Verify(token string) (Principal, error) {
	return i.cache.verify(token, i.now(), i.verify)
}

func (i *Issuer) verify(token string) (Principal, time.Time, error) {
	var c claims
	if _, err := i.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return i.pub, nil }); err != nil {
		return Principal{}, time.Time{}, tokenError(err)
	}
	if c.Subject == "" || c.ExpiresAt == nil {
		return Principal{}, time.Time{}, errs.New(errs.CodeInvalidAuthToken, "invalid auth token: no subject or expiry")
	}
	return Principal{Subject: c.Subject, Groups: c.Groups}, c.ExpiresAt.Time, nil
}

// BearerToken returns the token of an Authorization header "Bearer <token>". An empty
// header, another scheme or an empty token is a MissingAuthToken error.
func BearerToken(header string) (string, error) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", errs.New(errs.CodeMissingAuthToken, "an Authorization: Bearer token is required")
	}
	return token, nil
}

// LoadOrCreateKey returns the signing key stored at "auth:key" in the auth key space under prefix, creating it if
// there is none. Creation is SET NX followed by a read, so gateways that start together
// all end up with the one key that won. The key is stored as its base64 seed.
func LoadOrCreateKey(ctx context.Context, rdb redis.UniversalClient, prefix string) (ed25519.PrivateKey, error) {
	k := keyspace.Space(prefix, keyspace.Auth) + "auth:key"
	s, err := rdb.Get(ctx, k).Result()
	if errors.Is(err, redis.Nil) {
		seed := make([]byte, ed25519.SeedSize)
		_, _ = rand.Read(seed) // never fails
		if err := rdb.SetNX(ctx, k, base64.StdEncoding.EncodeToString(seed), 0).Err(); err != nil {
			return nil, fmt.Errorf("create signing key: %w", err)
		}
		s, err = rdb.Get(ctx, k).Result()
	}
	if err != nil {
		return nil, fmt.Errorf("load signing key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("load signing key: %s does not hold a %d-byte base64 seed", k, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// thumbprint is the RFC 7638 JWK thumbprint of pub, used as the key id.
func thumbprint(pub ed25519.PublicKey) string {
	h := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
