package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/photon-cloud/photon/shared/errs"
)

// Verifier checks a bearer token and returns its Principal. Errors are *errs.Error with
// code ExpiredAuthToken for an expired but otherwise good token and InvalidAuthToken for
// anything else. *Issuer (the embedded issuer) and *OIDCVerifier (an external one) are
// Verifiers.
type Verifier interface {
	Verify(token string) (Principal, error)
}

// Verifiers is a Verifier that hands each token to the Verifier of the issuer its iss
// claim names, so that the embedded issuer's tokens and an external identity provider's
// both work: Verifiers{local.Name(): local, oidc.Name(): oidc}. The iss claim is read
// before any signature is checked, only to choose; the chosen Verifier checks iss again.
// A token naming no issuer of the map is InvalidAuthToken.
type Verifiers map[string]Verifier

// Verify implements Verifier.
func (vs Verifiers) Verify(token string) (Principal, error) {
	iss, err := unverifiedIssuer(token)
	if err != nil {
		return Principal{}, err
	}
	v, ok := vs[iss]
	if !ok {
		return Principal{}, errs.New(errs.CodeInvalidAuthToken, "invalid auth token: unknown issuer %s", quote(iss))
	}
	return v.Verify(token)
}

// unverifiedIssuer returns the iss claim of token without checking its signature.
func unverifiedIssuer(token string) (string, error) {
	if len(token) > maxTokenBytes {
		return "", errs.New(errs.CodeInvalidAuthToken, "invalid auth token: longer than %d bytes", maxTokenBytes)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errs.New(errs.CodeInvalidAuthToken, "invalid auth token: not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Iss string `json:"iss"`
	}
	if err == nil {
		err = json.Unmarshal(payload, &c)
	}
	if err != nil || c.Iss == "" {
		return "", errs.New(errs.CodeInvalidAuthToken, "invalid auth token: no issuer")
	}
	return c.Iss, nil
}

// maxTokenBytes bounds the tokens a Verifier reads: a token with a few hundred groups is
// a few kilobytes; anything far larger is refused before it is parsed.
const maxTokenBytes = 64 << 10

// errExpired is the error of an expired token whose signature checked out.
func errExpired() error { return errs.New(errs.CodeExpiredAuthToken, "the auth token has expired") }

// tokenError turns an error of jwt's parser into the Verifier's error. A token is
// ExpiredAuthToken only when expiry is all that is wrong with it: jwt checks the
// signature before the claims and reports every failed claim, so a token that is also
// for another issuer or audience stays InvalidAuthToken.
func tokenError(err error) error {
	if errors.Is(err, jwt.ErrTokenExpired) && !slices.ContainsFunc(otherClaimErrors, func(e error) bool { return errors.Is(err, e) }) {
		return errExpired()
	}
	return errs.New(errs.CodeInvalidAuthToken, "invalid auth token: %v", err)
}

// otherClaimErrors are jwt's claim errors other than expiry.
var otherClaimErrors = []error{jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidAudience,
	jwt.ErrTokenInvalidIssuer, jwt.ErrTokenInvalidSubject, jwt.ErrTokenRequiredClaimMissing}

// verifiedCache remembers tokens whose signature checked out, until they expire: clients
// poll with one token many times a second, and a signature check is the dearest part of
// a read. It is bounded; past maxVerified entries it starts over.
type verifiedCache struct {
	mu sync.Mutex
	m  map[string]verified
}

type verified struct {
	p     Principal
	until time.Time // expiry plus the clock skew the verifier allows
}

// maxVerified bounds a verifiedCache.
const maxVerified = 10000

// verify returns the cached Principal of token, or checks token with check and caches
// the outcome when it is good. check returns the time past which the token is expired
// (its exp claim plus any skew allowed).
func (c *verifiedCache) verify(token string, now time.Time, check func(string) (Principal, time.Time, error)) (Principal, error) {
	if len(token) > maxTokenBytes {
		return Principal{}, errs.New(errs.CodeInvalidAuthToken, "invalid auth token: longer than %d bytes", maxTokenBytes)
	}
	c.mu.Lock()
	v, ok := c.m[token]
	if ok && !now.Before(v.until) {
		delete(c.m, token)
	}
	c.mu.Unlock()
	if ok {
		if now.Before(v.until) {
			return v.p, nil
		}
		return Principal{}, errExpired()
	}
	p, until, err := check(token)
	if err != nil {
		return Principal{}, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxVerified {
		c.m = map[string]verified{}
	}
	c.m[token] = verified{p, until}
	c.mu.Unlock()
	return p, nil
}
