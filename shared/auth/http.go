package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/photon-cloud/photon/shared/errs"
)

// tokenResponse is the OAuth2 token response as the Photon SDK's Lightwave client reads it.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token"`
}

// oauthError is an OAuth2 error response (RFC 6749 §5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// maxFormBytes bounds the body of a token request.
const maxFormBytes = 64 << 10

// TokenHandler serves the OAuth2 token endpoint the way Photon's SDK and CLI call
// Lightwave's /openidconnect/token, with three grants:
//
//   - grant_type=password&username=..&password=..&scope=.. logs in;
//   - grant_type=refresh_token&refresh_token=.. trades a refresh token for a new access
//     token and a new refresh token (the old one is used up; see refresh.go);
//   - grant_type=authorization_code&code=..&redirect_uri=..&client_id=..&code_verifier=..
//     redeems a code of the browser login (authorize.go, code.go).
//
// All answer {"access_token","token_type","expires_in","refresh_token","id_token"}.
// A user name past its LoginLimit is answered 429 with a Retry-After header.
// The id_token is the access token itself (both name the same Principal), except for
// the authorization_code grant, whose id_token is for the client (aud) and carries the
// nonce of the authorization request. Scope is accepted and ignored. Users holds the
// users, their refresh tokens and the codes.
func (i *Issuer) TokenHandler(users *Users) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !postedForm(w, r) {
			return
		}
		var (
			p       Principal
			refresh string
			err     error
			// The client and nonce of the authorization_code grant, for its id_token.
			client, nonce string
		)
		switch gt := r.PostForm.Get("grant_type"); gt {
		case "password":
			name := r.PostForm.Get("username")
			if name == "" {
				writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "username is required"})
				return
			}
			p, refresh, err = users.login(r.Context(), name, r.PostForm.Get("password"))
		case "refresh_token":
			rt := r.PostForm.Get("refresh_token")
			if rt == "" {
				writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "refresh_token is required"})
				return
			}
			p, refresh, err = users.refresh(r.Context(), rt)
		case "authorization_code":
			f := r.PostForm
			code, redirectURI, verifier := f.Get("code"), f.Get("redirect_uri"), f.Get("code_verifier")
			client = f.Get("client_id")
			switch {
			case code == "" || redirectURI == "" || client == "" || verifier == "":
				writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "code, redirect_uri, client_id and code_verifier are required"})
				return
			case !isVerifier(verifier):
				writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", "code_verifier must be 43 to 128 characters of A-Z, a-z, 0-9, '-', '.', '_' and '~'"})
				return
			}
			p, refresh, nonce, err = users.redeemCode(r.Context(), code, client, redirectURI, verifier, i.now())
		default:
			writeJSON(w, http.StatusBadRequest, oauthError{"unsupported_grant_type", "grant_type must be password, refresh_token or authorization_code, not " + quote(gt)})
			return
		}
		var tooMany *errs.Error
		switch {
		case errors.As(err, &tooMany) && tooMany.Code == errs.CodeTooManyRequests:
			if d, ok := tooMany.RetryAfter(); ok {
				w.Header().Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
			}
			writeJSON(w, http.StatusTooManyRequests, oauthError{"invalid_grant", tooMany.Message})
			return
		case errors.Is(err, ErrBadCredentials):
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", "wrong user name or password"})
			return
		case errors.Is(err, ErrBadRefreshToken):
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", "the refresh token is unknown, expired or revoked: log in again"})
			return
		case errors.Is(err, ErrBadCode):
			writeJSON(w, http.StatusBadRequest, oauthError{"invalid_grant", "the authorization code is unknown, expired or used, or not for this client_id, redirect_uri and code_verifier: log in again"})
			return
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, oauthError{"server_error", "cannot check the credentials now"})
			return
		}
		now := i.now()
		token, exp, err := i.sign(p, now)
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, oauthError{"server_error", "cannot sign a token"})
			return
		}
		id := token
		if client != "" {
			if id, err = i.signID(p, client, nonce, now); err != nil {
				writeJSON(w, http.StatusInternalServerError, oauthError{"server_error", "cannot sign a token"})
				return
			}
		}
		writeJSON(w, http.StatusOK, tokenResponse{
			AccessToken:  token,
			TokenType:    "Bearer",
			ExpiresIn:    exp.Unix() - now.Unix(),
			RefreshToken: refresh,
			IDToken:      id,
		})
	})
}

// postedForm reads the form of a POST to an OAuth endpoint into r.PostForm, or answers
// the OAuth error and returns false. No answer is to be cached: it may carry tokens.
func postedForm(w http.ResponseWriter, r *http.Request) bool {
	noStore(w)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, oauthError{"invalid_request", "use POST"})
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError{"invalid_request", err.Error()})
		return false
	}
	return true
}

// JWKSHandler serves the Issuer's public key as a JSON Web Key Set, so that other
// services can verify its tokens without the private key.
func (i *Issuer) JWKSHandler() http.Handler {
	return staticJSON(struct {
		Keys []jwk `json:"keys"`
	}{[]jwk{{
		Kty: "OKP",
		Crv: "Ed25519",
		X:   base64.RawURLEncoding.EncodeToString(i.pub),
		Kid: i.kid,
		Alg: "EdDSA",
		Use: "sig",
	}}})
}

// Paths of the token endpoint, the key set and the discovery document under the
// gateway's base URL, as Lightwave named them (the browser login's are in authorize.go).
const (
	TokenPath     = "/openidconnect/token"
	JWKSPath      = "/openidconnect/jwks"
	DiscoveryPath = "/.well-known/openid-configuration"
)

// discovery is an OpenID Provider Metadata document (OpenID Connect Discovery 1.0 §3,
// RFC 8414).
type discovery struct {
	Issuer                 string   `json:"issuer"`
	AuthorizationEndpoint  string   `json:"authorization_endpoint"`
	TokenEndpoint          string   `json:"token_endpoint"`
	JWKSURI                string   `json:"jwks_uri"`
	EndSessionEndpoint     string   `json:"end_session_endpoint"`
	RevocationEndpoint     string   `json:"revocation_endpoint"`
	GrantTypes             []string `json:"grant_types_supported"`
	ResponseTypes          []string `json:"response_types_supported"`
	CodeChallengeMethods   []string `json:"code_challenge_methods_supported"`
	SubjectTypes           []string `json:"subject_types_supported"`
	SigningAlgs            []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMeths []string `json:"token_endpoint_auth_methods_supported"`
	RevocationAuthMeths    []string `json:"revocation_endpoint_auth_methods_supported"`
	IssParameter           bool     `json:"authorization_response_iss_parameter_supported"`
	Claims                 []string `json:"claims_supported"`
	Scopes                 []string `json:"scopes_supported"`
}

// DiscoveryHandler serves the Issuer's OpenID Provider Metadata at DiscoveryPath.
// baseURL is the URL the gateway is reached at (e.g. "https://photon.example.com"): the
// document names the endpoints under it. Its issuer is always the Issuer's Name, the iss
// of its tokens. OpenID Connect wants the issuer to be the URL the document is served
// under, and a strict client (or NewOIDCVerifier in another Photon) checks that; such a
// deployment names its Issuer with its public URL and passes "" for baseURL, which then
// defaults to the Name. When neither is a URL (an Issuer named "photon" and no public
// URL), the endpoints are under the origin each request came to.
func (i *Issuer) DiscoveryHandler(baseURL string) http.Handler {
	if baseURL == "" {
		baseURL = i.issuer
	}
	if isAbsURL(baseURL) {
		return staticJSON(i.discovery(baseURL))
	}
	return servedJSON(func(r *http.Request) []byte { return mustJSON(i.discovery(i.base("", r))) })
}

// base is the URL the endpoints are under: baseURL, else the Issuer's Name when that is
// a URL, else the origin r came to.
func (i *Issuer) base(baseURL string, r *http.Request) string {
	switch {
	case baseURL != "":
		return baseURL
	case isAbsURL(i.issuer):
		return i.issuer
	}
	return requestOrigin(r)
}

func (i *Issuer) discovery(baseURL string) discovery {
	baseURL = strings.TrimRight(baseURL, "/")
	return discovery{
		Issuer:                i.issuer,
		AuthorizationEndpoint: baseURL + AuthorizePath,
		TokenEndpoint:         baseURL + TokenPath,
		JWKSURI:               baseURL + JWKSPath,
		EndSessionEndpoint:    baseURL + LogoutPath,
		RevocationEndpoint:    baseURL + RevokePath,
		GrantTypes:            []string{"authorization_code", "password", "refresh_token"},
		ResponseTypes:         []string{"code"},
		CodeChallengeMethods:  []string{"S256"},
		SubjectTypes:          []string{"public"},
		SigningAlgs:           []string{jwt.SigningMethodEdDSA.Alg()},
		// Photon's clients are public clients: they authenticate the user, not themselves.
		TokenEndpointAuthMeths: []string{"none"},
		RevocationAuthMeths:    []string{"none"},
		IssParameter:           true,
		Claims:                 []string{"iss", "sub", "aud", "iat", "exp", "jti", "nonce", "groups"},
		// Accepted and ignored, as Lightwave's clients send them.
		Scopes: []string{"openid", "offline_access", "rs_photon_platform", "at_groups"},
	}
}

// isAbsURL reports whether s is an absolute URL with a host.
func isAbsURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && u.Host != ""
}

// staticJSON serves v, encoded once, to GET and HEAD; clients may cache it a few minutes.
func staticJSON(v any) http.Handler {
	body := mustJSON(v)
	return servedJSON(func(*http.Request) []byte { return body })
}

// servedJSON serves the JSON body answers for each request to GET and HEAD; clients
// may cache it a few minutes.
func servedJSON(body func(*http.Request) []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(body(r))
	})
}

func mustJSON(v any) []byte {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err) // strings only: cannot fail
	}
	return body
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
