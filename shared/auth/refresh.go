package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Refresh tokens.
//
// A login starts a token family: one Redis hash at prefix+"auth:refresh:"+family holding
// the user's name, the fingerprint of the user's password hash at login, and the SHA-256
// of the family's one live refresh token. A token is family+"."+secret, both random
// base32 (letters and digits only, because the SDK puts it in a form body unescaped).
//
// A refresh swaps the live token for a new one in one script, so a token works once.
// Presenting any other token of the family (a used one, replayed by whoever stole it, or
// by the client whose request was retried) deletes the family: the thief and the user
// both have to log in again, as the OAuth 2.0 Security BCP (RFC 9700 §4.14.2) asks.
// Then the user is read again: a deleted user, or one whose password changed, cannot
// refresh, and the new access token carries the user's groups as they are now.
//
// Each refresh gives the family another RefreshTTL: a client that keeps refreshing
// stays logged in; one that stops for RefreshTTL must log in again.

// DefaultRefreshTTL is how long a refresh token stays good unused.
const DefaultRefreshTTL = 30 * 24 * time.Hour

// ErrBadRefreshToken is the answer to a refresh token that is unknown, expired, used
// before, or whose user was deleted or changed password since.
var ErrBadRefreshToken = errors.New("auth: the refresh token is unknown, expired or revoked")

// Fields of a token family's hash.
const (
	fieldSubject     = "sub"
	fieldFingerprint = "pw"
	fieldLive        = "live" // hex SHA-256 of the live token
)

func (u *Users) familyKey(family string) string { return u.prefix + "auth:refresh:" + family }

// login checks the password and starts a token family for the user.
func (u *Users) login(ctx context.Context, name, password string) (Principal, string, error) {
	p, fp, err := u.check(ctx, name, password)
	if err != nil {
		return Principal{}, "", err
	}
	family := rand.Text()
	token := family + "." + rand.Text()
	k := u.familyKey(family)
	_, err = u.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, k, fieldSubject, name, fieldFingerprint, fp, fieldLive, tokenHash(token))
		pipe.PExpire(ctx, k, u.refreshTTL)
		return nil
	})
	if err != nil {
		return Principal{}, "", fmt.Errorf("store refresh token of %s: %w", name, err)
	}
	return p, token, nil
}

// rotate consumes the live token of a family and makes its successor live.
// KEYS[1] the family; ARGV[1] the hash of the presented token, ARGV[2] the hash of its
// successor, ARGV[3] the family's new TTL in milliseconds.
// Returns {1, subject, fingerprint}, {0} for no such family, {-1} for a token that is
// not the live one (the family is gone then).
var rotate = redis.NewScript(`
local f = redis.call('HMGET', KEYS[1], 'live', 'sub', 'pw')
if not f[1] then return {0} end
if f[1] ~= ARGV[1] then
	redis.call('DEL', KEYS[1])
	return {-1}
end
redis.call('HSET', KEYS[1], 'live', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, f[2], f[3]}
`)

// refresh consumes token and returns the user's Principal as it is now and the token's
// successor. The error is ErrBadRefreshToken when the token cannot be used, or a
// wrapped Redis error.
func (u *Users) refresh(ctx context.Context, token string) (Principal, string, error) {
	family, _, ok := strings.Cut(token, ".")
	if !ok || len(token) > 256 || !isBase32(family) {
		return Principal{}, "", ErrBadRefreshToken
	}
	next := family + "." + rand.Text()
	k := u.familyKey(family)
	res, err := rotate.Run(ctx, u.rdb, []string{k}, tokenHash(token), tokenHash(next), u.refreshTTL.Milliseconds()).Slice()
	if err != nil {
		return Principal{}, "", fmt.Errorf("rotate refresh token: %w", err)
	}
	if st, _ := res[0].(int64); st != 1 || len(res) != 3 {
		return Principal{}, "", ErrBadRefreshToken
	}
	name, _ := res[1].(string)
	fp, _ := res[2].(string)
	p, hash, err := u.get(ctx, name)
	if err != nil {
		return Principal{}, "", err
	}
	if hash == "" || fingerprint(hash) != fp {
		// The family is of no use any more; drop it now rather than at its TTL.
		if err := u.rdb.Del(ctx, k).Err(); err != nil {
			return Principal{}, "", fmt.Errorf("revoke refresh tokens of %s: %w", name, err)
		}
		return Principal{}, "", ErrBadRefreshToken
	}
	return p, next, nil
}

// tokenHash is what Redis holds of a refresh token: its SHA-256, so that a copy of the
// database gives no usable token.
func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// isBase32 reports whether s is a non-empty string of rand.Text's alphabet.
func isBase32(s string) bool {
	return s != "" && strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == ""
}

// revoke ends the family of a refresh token (RFC 7009): neither the token nor any of its
// family works after. Any token of the family will do, as in a refresh, where presenting
// one that is not live ends the family too. A token that names no family is no error:
// there is nothing left to revoke.
func (u *Users) revoke(ctx context.Context, token string) error {
	family, _, ok := strings.Cut(token, ".")
	if !ok || len(token) > 256 || !isBase32(family) {
		return nil
	}
	if err := u.rdb.Del(ctx, u.familyKey(family)).Err(); err != nil {
		return fmt.Errorf("revoke refresh token: %w", err)
	}
	return nil
}
