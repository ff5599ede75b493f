package auth

import "net/http"

// BrowserLogin is what a browser client (the web console) needs to log in at an issuer
// with the authorization-code flow with PKCE: GET /v1/system/auth tells it, for the
// embedded issuer (Issuer.BrowserLogin) or an external provider
// (OIDCVerifier.BrowserLogin), so that the console runs the same flow against either.
type BrowserLogin struct {
	Issuer                string `json:"issuer"`
	ClientID              string `json:"clientId"`
	AuthorizationEndpoint string `json:"authorizationEndpoint"`
	TokenEndpoint         string `json:"tokenEndpoint"`
	// EndSessionEndpoint and RevocationEndpoint are "" when the provider has none.
	EndSessionEndpoint string `json:"endSessionEndpoint,omitempty"`
	RevocationEndpoint string `json:"revocationEndpoint,omitempty"`
	// Scope is what the client asks for: an ID token and a refresh token.
	Scope string `json:"scope"`
}

// browserScope is the scope a browser client asks for.
const browserScope = "openid offline_access"

// BrowserLogin is the embedded issuer's browser login for ConsoleClientID, its
// endpoints where DiscoveryHandler(baseURL) names them for r: under baseURL (the URL the
// gateway is reached at), or the Issuer's Name when that is a URL, or r's origin.
func (i *Issuer) BrowserLogin(baseURL string, r *http.Request) BrowserLogin {
	d := i.discovery(i.base(baseURL, r))
	return BrowserLogin{Issuer: d.Issuer, ClientID: ConsoleClientID, AuthorizationEndpoint: d.AuthorizationEndpoint,
		TokenEndpoint: d.TokenEndpoint, EndSessionEndpoint: d.EndSessionEndpoint, RevocationEndpoint: d.RevocationEndpoint, Scope: browserScope}
}

// BrowserLogin is the provider's browser login for OIDCConfig.ClientID, with the
// endpoints its discovery document names; false without a ClientID.
func (v *OIDCVerifier) BrowserLogin() (BrowserLogin, bool) {
	if v.cfg.ClientID == "" {
		return BrowserLogin{}, false
	}
	b := v.browser
	b.Issuer, b.ClientID, b.Scope = v.cfg.Issuer, v.cfg.ClientID, browserScope
	return b, true
}
