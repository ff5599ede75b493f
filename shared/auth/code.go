package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Authorization codes, of the authorization-code flow with PKCE (RFC 6749 §4.1, RFC 7636).
//
// A code is a hash at prefix+"auth:code:"+SHA-256(code), so any gateway of the system
// can redeem it and a copy of the database gives no usable code. It holds what the code
// is bound to (the client, the redirect URI, the PKCE challenge), who logged in (the
// user and the fingerprint of their password hash, as a refresh token family does), the
// OpenID nonce, and when it expires: the expiry is checked against the issuer's clock,
// and Redis drops the hash a little later.
//
// Redemption is one script: the first one that matches the client, the redirect URI and
// the verifier's challenge marks the code used and starts the refresh-token family in
// the same step. Any later redemption, right or wrong, finds it used, deletes that family
// and fails (RFC 6749 §4.1.2: a code used twice revokes what it gave). A redemption that
// does not match burns the code, so a stolen code gives one guess at the verifier.

// CodeTTL is how long an authorization code may be redeemed.
const CodeTTL = 60 * time.Second

// ErrBadCode is the answer to an authorization code that is unknown, expired, used
// before, or presented with another client, redirect URI or code verifier than it was
// issued for.
var ErrBadCode = errors.New("auth: the authorization code is unknown, expired, used or not for this client, redirect_uri and code_verifier")

// codeGrant is what an authorization code stands for.
type codeGrant struct {
	ClientID    string
	RedirectURI string
	Challenge   string // the S256 code_challenge
	Nonce       string
}

func (u *Users) codeKey(code string) string { return u.prefix + "auth:code:" + tokenHash(code) }

// issueCode makes a code for the user, whose password hash has fingerprint fp, that
// expires CodeTTL after now.
func (u *Users) issueCode(ctx context.Context, name, fp string, g codeGrant, now time.Time) (string, error) {
	code := rand.Text()
	k := u.codeKey(code)
	_, err := u.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, k, "client", g.ClientID, "redirect", g.RedirectURI, "challenge", g.Challenge, "nonce", g.Nonce,
			fieldSubject, name, fieldFingerprint, fp, "exp", now.Add(CodeTTL).UnixMilli())
		// Redis forgets the code after the issuer's clock has; the slack covers the clocks
		// of several gateways, and a used code is remembered that long to catch replays.
		pipe.PExpire(ctx, k, 2*CodeTTL)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store authorization code of %s: %w", name, err)
	}
	return code, nil
}

// redeem consumes a code and starts a token family for its user.
// KEYS[1] the code, KEYS[2] the new family. ARGV[1] the client, ARGV[2] the redirect
// URI, ARGV[3] the verifier's challenge, ARGV[4] now in Unix milliseconds, ARGV[5] the
// hash of the family's first refresh token, ARGV[6] the family's TTL in milliseconds.
// Returns {1, subject, nonce, fingerprint}; {0} for an unknown or expired code; {-1} for one used
// before (whose family is deleted); {-2} for one that does not match (now burnt).
var redeem = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'client', 'redirect', 'challenge', 'exp', 'sub', 'pw', 'used', 'nonce')
if not f[1] then return {0} end
if f[7] then
	redis.call('DEL', f[7])
	return {-1}
end
if tonumber(f[4]) <= tonumber(ARGV[4]) then
	redis.call('DEL', KEYS[1])
	return {0}
end
if f[1] ~= ARGV[1] or f[2] ~= ARGV[2] or f[3] ~= ARGV[3] then
	redis.call('DEL', KEYS[1])
	return {-2}
end
redis.call('HSET', KEYS[1], 'used', KEYS[2])
redis.call('HSET', KEYS[2], 'sub', f[5], 'pw', f[6], 'live', ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return {1, f[5], f[8], f[6]}
`)

// redeemCode trades a code for the Principal of its user as the user is now, the first
// refresh token of a new family, and the nonce the code was asked with. verifier is the
// PKCE code_verifier; the others must be what the code was issued for. The error is
// ErrBadCode when the code cannot be used (its user deleted or given a new password
// since included), or a wrapped Redis error.
func (u *Users) redeemCode(ctx context.Context, code, clientID, redirectURI, verifier string, now time.Time) (Principal, string, string, error) {
	if !isBase32(code) || len(code) > 64 {
		return Principal{}, "", "", ErrBadCode
	}
	family := rand.Text()
	token := family + "." + rand.Text()
	fk := u.familyKey(family)
	res, err := redeem.Run(ctx, u.rdb, []string{u.codeKey(code), fk}, clientID, redirectURI, s256(verifier), now.UnixMilli(),
		tokenHash(token), u.refreshTTL.Milliseconds()).Slice()
	if err != nil {
		return Principal{}, "", "", fmt.Errorf("redeem authorization code: %w", err)
	}
	if st, _ := res[0].(int64); st != 1 || len(res) != 4 {
		return Principal{}, "", "", ErrBadCode
	}
	name, _ := res[1].(string)
	nonce, _ := res[2].(string)
	fp, _ := res[3].(string)
	// The user is read as it is now, as a refresh reads it: one deleted or given a new
	// password in the code's minute gets nothing.
	p, hash, err := u.get(ctx, name)
	if err != nil {
		return Principal{}, "", "", err
	}
	if hash == "" || fingerprint(hash) != fp {
		if err := u.rdb.Del(ctx, fk).Err(); err != nil {
			return Principal{}, "", "", fmt.Errorf("revoke refresh tokens of %s: %w", name, err)
		}
		return Principal{}, "", "", ErrBadCode
	}
	return p, token, nonce, nil
}

// s256 is the PKCE S256 transformation of a code verifier (RFC 7636 §4.2).
func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}
