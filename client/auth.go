package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// TokenPath is the OAuth2 token endpoint under the API's base URL, where Lightwave had it.
const TokenPath = "/openidconnect/token"

// refreshBefore is how long before its expiry an access token is refreshed.
const refreshBefore = time.Minute

// Token is an access token, the refresh token that renews it, and when the access token
// expires (zero when unknown).
type Token struct {
	Access  string
	Refresh string
	Expiry  time.Time
}

// tokenAnswer is the OAuth2 token response.
type tokenAnswer struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int64  `json:"expires_in"`
}

// oauthError is an OAuth2 error response (RFC 6749 §5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// Token is the client's current token pair.
func (c *Client) Token() Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tok
}

// Login logs in with a user name and password (the OAuth2 password grant) and keeps the
// tokens it gets.
func (c *Client) Login(ctx context.Context, user, password string) (Token, error) {
	return c.grant(ctx, url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}, "scope": {"openid offline_access"}})
}

// Refresh trades the refresh token for a new pair (each refresh token is good once).
func (c *Client) Refresh(ctx context.Context) error {
	old := c.Token()
	if old.Refresh == "" {
		return &APIError{Status: http.StatusUnauthorized, Code: "ExpiredAuthToken", Message: "the token has expired and there is no refresh token: log in again"}
	}
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if c.Token().Refresh != old.Refresh { // another call refreshed meanwhile
		return nil
	}
	_, err := c.grant(ctx, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old.Refresh}})
	return err
}

func (c *Client) grant(ctx context.Context, form url.Values) (Token, error) {
	r := request{method: http.MethodPost, path: TokenPath, body: []byte(form.Encode()),
		contentType: "application/x-www-form-urlencoded", anon: true}
	raw, err := c.do(ctx, r)
	if err != nil {
		if e, ok := err.(*APIError); ok {
			var oe oauthError
			if json.Unmarshal([]byte(e.Message), &oe) == nil && oe.Error != "" {
				e.Code, e.Message = oe.Error, oe.Description
			}
		}
		return Token{}, err
	}
	var a tokenAnswer
	if err := json.Unmarshal(raw, &a); err != nil || a.AccessToken == "" {
		return Token{}, fmt.Errorf("token endpoint: no access token in the answer")
	}
	t := Token{Access: a.AccessToken, Refresh: a.RefreshToken, Expiry: expiryOf(a.AccessToken)}
	if t.Expiry.IsZero() && a.ExpiresIn > 0 {
		t.Expiry = time.Now().Add(time.Duration(a.ExpiresIn) * time.Second)
	}
	c.mu.Lock()
	c.tok = t
	c.mu.Unlock()
	if c.onToken != nil {
		c.onToken(t)
	}
	return t, nil
}

func (c *Client) canRefresh() bool { return c.Token().Refresh != "" }

// freshen refreshes the access token when it expires within refreshBefore.
func (c *Client) freshen(ctx context.Context) error {
	t := c.Token()
	if t.Refresh == "" || t.Expiry.IsZero() || time.Until(t.Expiry) > refreshBefore {
		return nil
	}
	return c.Refresh(ctx)
}

// expiryOf reads the exp claim of a JWT without checking its signature (the server
// does): it only says when to refresh.
func expiryOf(jwt string) time.Time {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(raw, &claims) != nil || claims.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(claims.Exp, 0)
}

// Subject is the user name an access token names (its sub claim), or "".
func Subject(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	_ = json.Unmarshal(raw, &claims)
	return claims.Sub
}
