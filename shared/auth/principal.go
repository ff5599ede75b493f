// Package auth authenticates callers of the gateway with bearer tokens.
//
// It holds the dev cloud's embedded OIDC issuer: a directory of users and groups in
// Redis (Users: directory.go, with passwords and the bound on wrong ones in
// password.go), Ed25519-signed JWTs (Issuer), the OAuth2 token endpoint that Photon's
// SDK and CLI call to log in and to refresh (TokenHandler: the password and refresh_token
// grants, with one-time refresh tokens kept as hashes in Redis), the browser login of the
// web console (AuthorizeHandler's login page and the authorization_code grant with PKCE,
// LogoutHandler, RevokeHandler), the public key as a JWKS (JWKSHandler) and the OpenID
// Provider Metadata (DiscoveryHandler).
//
// In production the tokens come from an external OpenID Connect provider instead, or as
// well: OIDCVerifier checks them with the keys the provider publishes and maps its
// groups claim to Photon security groups, and Verifiers sends each token to the
// Verifier of the issuer it names. The gateway turns a verified token into a Principal
// and puts it in the request context; authorization decisions on that Principal live in
// shared/policy.
//
// The token parsers and the token endpoint have fuzz tests; fuzz_test.go says how to
// run them for longer than the seed corpus every `go test` runs.
package auth

import (
	"context"
	"slices"

	"github.com/photon-cloud/photon/shared/policy"
)

// SystemAdminsGroup is the security group of system administrators, as policy names it.
const SystemAdminsGroup = policy.SystemAdminsGroup

// Principal is an authenticated caller: the token's subject and the security groups it
// belongs to. Its fields match model.Caller, so model.Caller(p) converts it.
type Principal struct {
	Subject string
	Groups  []string
}

// InGroup reports whether p belongs to at least one of groups. Names compare exactly,
// as shared/policy compares them.
func (p Principal) InGroup(groups ...string) bool {
	return slices.ContainsFunc(p.Groups, func(g string) bool { return slices.Contains(groups, g) })
}

// IsSystemAdmin reports whether p is a member of SystemAdminsGroup.
func (p Principal) IsSystemAdmin() bool { return p.InGroup(SystemAdminsGroup) }

type principalKey struct{}

// WithPrincipal returns a copy of ctx that carries p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal that WithPrincipal put in ctx, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
