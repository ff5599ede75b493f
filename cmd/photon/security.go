package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/gateway"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/store"
)

// securityFlags are the gateway's identity, rate-limit, audit and task retention
// settings, the same for photon up and photon gateway.
type securityFlags struct {
	oidc           auth.OIDCConfig
	publicURL      string
	redirectURIs   []string
	perToken       store.RateLimit
	perTenant      store.RateLimit
	auditMaxEvents int64
	auditMaxAge    time.Duration
	taskRetention  time.Duration
}

func (f *securityFlags) add(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.oidc.Issuer, "oidc-issuer", "", "also accept tokens of this external OIDC provider (its issuer URL; keys from its discovery document and JWKS)")
	fs.StringVar(&f.oidc.Audience, "oidc-audience", "", "the audience (aud) the external provider's tokens must name (default: not checked)")
	fs.StringVar(&f.oidc.GroupsClaim, "oidc-groups-claim", auth.DefaultGroupsClaim, "the claim of the external provider's tokens that lists the caller's groups, Photon's security groups")
	fs.StringVar(&f.oidc.GroupPrefix, "oidc-group-prefix", "", `prefix for the external provider's group names, e.g. corp\`)
	fs.StringVar(&f.oidc.ClientID, "oidc-client-id", "", "the public client id the web console logs in as at the external provider (authorization code with PKCE); without it the console logs in at the embedded issuer")
	fs.StringSliceVar(&f.redirectURIs, "redirect-uri", nil, "a URI besides the gateway's own origin that the browser login may send users back to (a console served elsewhere); repeatable")
	fs.StringVar(&f.publicURL, "public-url", "", "base URL clients reach the API at, for the OIDC discovery document (default: the issuer's name)")
	d := gateway.DefaultRateLimits
	fs.Float64Var(&f.perToken.Rate, "rate-per-token", d.PerToken.Rate, "API calls a second one token may make on average (0: no bound)")
	fs.IntVar(&f.perToken.Burst, "burst-per-token", d.PerToken.Burst, "API calls one token may make at once above its rate")
	fs.Float64Var(&f.perTenant.Rate, "rate-per-tenant", d.PerTenant.Rate, "API calls a second that may act in one tenant on average (0: no bound)")
	fs.IntVar(&f.perTenant.Burst, "burst-per-tenant", d.PerTenant.Burst, "API calls that may act in one tenant at once above its rate")
	fs.Int64Var(&f.auditMaxEvents, "audit-max-events", store.DefaultAuditMaxEvents, "audit events kept, the oldest dropped first (about 0.5 KB each)")
	fs.DurationVar(&f.auditMaxAge, "audit-max-age", store.DefaultAuditMaxAge, "how long audit events are kept")
	fs.DurationVar(&f.taskRetention, "task-retention", store.DefaultTaskRetention, "how long a finished task is kept (the newest of an existing entity stays; below 0: for ever)")
}

// apply sets o's rate limits, audit and task retention, token verifier (the embedded issuer
// o.Issuer, and the external provider when one is given) and browser login.
func (f *securityFlags) apply(ctx context.Context, o *gateway.Options) error {
	o.RateLimits = &gateway.RateLimits{PerToken: f.perToken, PerTenant: f.perTenant}
	o.AuditRetention = store.AuditRetention{MaxEvents: f.auditMaxEvents, MaxAge: f.auditMaxAge}
	o.TaskRetention = f.taskRetention
	o.PublicURL = f.publicURL
	o.RedirectURIs = f.redirectURIs
	if f.oidc.Issuer == "" {
		if f.oidc.ClientID != "" {
			return fmt.Errorf("--oidc-client-id needs --oidc-issuer")
		}
		return nil
	}
	ext, err := auth.NewOIDCVerifier(ctx, f.oidc)
	if err != nil {
		return fmt.Errorf("--oidc-issuer: %w", err)
	}
	o.Verifier = auth.Verifiers{o.Issuer.Name(): o.Issuer, ext.Name(): ext}
	if b, ok := ext.BrowserLogin(); ok {
		o.ExternalLogin = &b
	}
	return nil
}
