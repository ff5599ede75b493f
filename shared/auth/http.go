package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
)

// tokenResponse is the OAuth2 token response as the Photon SDK's Lightwave client reads it.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	IDToken     string `json:"id_token"`
}

// oauthError is an OAuth2 error response (RFC 6749 §5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// maxFormBytes bounds the body of a token request.
const maxFormBytes = 64 << 10

// TokenHandler serves the OAuth2 resource owner password grant the way Photon's SDK and
// CLI call Lightwave's /openidconnect/token: a POST form
// grant_type=password&username=..&password=..&scope=.. answered with
// {"access_token","token_type","expires_in","id_token"}. The id_token is the access
// token itself: both name the same Principal. Scope is accepted and ignored. No refresh
// token is issued; a client logs in again when its token expires.
func (i *Issuer) TokenHandler(users *Users) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeJSON(w, http.StatusMethodNotAllowed, oauthError{"invalid_request", "use POST"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", err.Error()})
			return
		}
		if gt := r.PostForm.Get("grant_type"); gt != "password" {
			writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "grant_type must be password, not " + quote(gt)})
			return
		}
		name, password := r.PostForm.Get("username"), r.PostForm.Get("password")
		if name == "" {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "username is required"})
			return
		}
		p, err := users.Check(r.Context(), name, password)
		if errors.Is(err, ErrBadCredentials) {
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", "wrong user name or password"})
			return
		}
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, oauthError{"server_error", "cannot check the credentials now"})
			return
		}
		now := i.now()
		token, exp, err := i.sign(p, now)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, oauthError{"server_error", "cannot sign a token"})
			return
		}
		writeJSON(w, http.StatusOK, tokenResponse{
			AccessToken: token,
			TokenType:   "Bearer",
			ExpiresIn:   exp.Unix() - now.Unix(),
			IDToken:     token,
		})
	})
}

// jwk is one public key of a JWKS (RFC 8037 for OKP keys).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// JWKSHandler serves the Issuer's public key as a JSON Web Key Set, so that other
// services can verify its tokens without the private key.
func (i *Issuer) JWKSHandler() http.Handler {
	body, err := json.Marshal(struct {
		Keys []jwk `json:"keys"`
	}{[]jwk{{
		Kty: "OKP",
		Crv: "Ed25519",
		X:   base64.RawURLEncoding.EncodeToString(i.pub),
		Kid: i.kid,
		Alg: "EdDSA",
		Use: "sig",
	}}})
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
