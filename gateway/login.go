package gateway

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/photon-cloud/photon/shared/auth"
)

// mountLogin serves the embedded issuer's browser login: the login page and its form at
// auth.AuthorizePath, the end-session endpoint and token revocation. Redirects go to the
// gateway's own origin (Options.PublicURL, or the one a request came to) or to
// Options.RedirectURIs.
func (s *Server) mountLogin(root *http.ServeMux) {
	o := auth.LoginOptions{BaseURL: s.opts.PublicURL, RedirectURIs: s.opts.RedirectURIs}
	authorize := s.opts.Issuer.AuthorizeHandler(s.opts.Users, o)
	root.Handle("GET "+auth.AuthorizePath, authorize)
	root.Handle("POST "+auth.AuthorizePath, authorize)
	logout := s.opts.Issuer.LogoutHandler(s.opts.Users, o)
	root.Handle("GET "+auth.LogoutPath, logout)
	root.Handle("POST "+auth.LogoutPath, logout)
	root.Handle("POST "+auth.RevokePath, s.opts.Issuer.RevokeHandler(s.opts.Users))
}

// authInfo is the answer of GET /v1/system/auth: where Photon's SDK and CLI get tokens
// (endpoint, port and tokenPath, Lightwave's fields), and where a browser client (the
// web console) logs in with the authorization-code flow with PKCE, as which client.
type authInfo struct {
	Enabled   bool   `json:"enabled"`
	Endpoint  string `json:"endpoint"`
	Port      int    `json:"port"`
	TokenPath string `json:"tokenPath"`
	auth.BrowserLogin
}

// authInfo tells Photon clients where to get tokens (GET /v1/system/auth): Photon's SDK
// and CLI always ask https://{endpoint}:{port}/openidconnect/token, so it names the
// HTTPS port (Options.HTTPSAddr), also when asked over plain HTTP, at the host the
// client asked, or the public URL's host and port when that is https. A browser gets
// the endpoints of Options.ExternalLogin's provider when there is one, else the embedded
// issuer's, under the public URL or the origin it asked at.
func (s *Server) authInfo(w http.ResponseWriter, r *http.Request) {
	host, port, _ := net.SplitHostPort(s.authAddr())
	if h := r.Host; h != "" && !strings.Contains(h, "/") {
		if hh, _, err := net.SplitHostPort(h); err == nil {
			host = hh
		} else {
			host = strings.Trim(h, "[]")
		}
	}
	if u, err := url.Parse(s.opts.PublicURL); err == nil && u.Scheme == "https" && u.Hostname() != "" {
		host, port = u.Hostname(), orDefault(u.Port(), "443")
	}
	info := authInfo{Enabled: true, Endpoint: host, TokenPath: auth.TokenPath}
	info.Port, _ = strconv.Atoi(port)
	if s.opts.ExternalLogin != nil {
		info.BrowserLogin = *s.opts.ExternalLogin
	} else {
		info.BrowserLogin = s.opts.Issuer.BrowserLogin(s.opts.PublicURL, r)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}
