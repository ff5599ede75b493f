package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/photon-cloud/photon/shared/errs"
)

// OIDCConfig configures an OIDCVerifier.
type OIDCConfig struct {
	// Issuer is the identity provider's issuer URL, exactly as its tokens' iss and its
	// discovery document name it (e.g. "https://login.example.com/realms/photon").
	Issuer string
	// Audience, when set, must be among the tokens' aud (typically the client id the
	// provider issues Photon's tokens for).
	Audience string
	// GroupsClaim is the claim that lists the caller's groups: a JSON array of strings
	// or one string. Default "groups".
	GroupsClaim string
	// GroupPrefix is put before every group name, so that the provider's groups can be
	// told apart from the embedded issuer's in Photon's security groups (e.g. "corp\").
	GroupPrefix string
	// HTTPClient fetches the discovery document and the key set. Default: a client with
	// a 10-second timeout.
	HTTPClient *http.Client
	// ClockSkew is how far the provider's clock may be off ours when exp and nbf are
	// checked. 0 means DefaultClockSkew; a negative value allows none.
	ClockSkew time.Duration
	// RefetchInterval is the least time between two fetches of the key set, which
	// happen when a token names a key id the set does not have (the provider rotated its
	// keys) or the set is older than KeysMaxAge. 0 means DefaultRefetchInterval.
	RefetchInterval time.Duration
	// KeysMaxAge is how long a fetched key set is trusted before it is fetched again, so
	// that a key the provider withdrew stops working. 0 means DefaultKeysMaxAge.
	KeysMaxAge time.Duration
	// ClientID, when set, is the public client the web console logs in as at the
	// provider (registered there for the authorization-code flow with PKCE, with the
	// console's redirect URI): BrowserLogin names it with the provider's endpoints. ""
	// leaves the console to the embedded issuer.
	ClientID string
	// AllowHTTP allows an issuer and key set served over plain HTTP from a host other
	// than loopback. Without TLS anyone on the path can swap the keys: only for tests
	// and closed labs.
	AllowHTTP bool
}

// Defaults of OIDCConfig.
const (
	DefaultGroupsClaim     = "groups"
	DefaultClockSkew       = 30 * time.Second
	DefaultRefetchInterval = 30 * time.Second
	DefaultKeysMaxAge      = time.Hour
)

// maxMetadataBytes bounds a discovery document or key set.
const maxMetadataBytes = 1 << 20

// OIDCVerifier verifies the tokens of an external OpenID Connect provider with the keys
// its discovery document points at. It is a Verifier.
type OIDCVerifier struct {
	cfg     OIDCConfig
	jwksURI string
	browser BrowserLogin // the endpoints of the discovery document
	parser  *jwt.Parser
	skew    time.Duration
	now     func() time.Time // a fake clock in tests
	cache   verifiedCache

	keys atomic.Pointer[keySet]
	// fetchMu is held while the key set is fetched again, so that a burst of tokens
	// naming a new key id makes one fetch; attempted is the time of the last attempt.
	fetchMu   sync.Mutex
	attempted time.Time
}

// keySet is a fetched key set; it is never changed, only replaced.
type keySet struct {
	keys    []publicKey
	fetched time.Time
}

// NewOIDCVerifier reads the provider's discovery document at
// cfg.Issuer+"/.well-known/openid-configuration", checks that it names cfg.Issuer as
// its issuer, and fetches the key set at its jwks_uri. Both must be served over HTTPS
// (or plain HTTP from loopback, or anywhere with cfg.AllowHTTP).
func NewOIDCVerifier(ctx context.Context, cfg OIDCConfig) (*OIDCVerifier, error) {
	if err := checkURL(cfg.Issuer, cfg.AllowHTTP); err != nil {
		return nil, fmt.Errorf("oidc issuer: %w", err)
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = DefaultGroupsClaim
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.RefetchInterval <= 0 {
		cfg.RefetchInterval = DefaultRefetchInterval
	}
	if cfg.KeysMaxAge <= 0 {
		cfg.KeysMaxAge = DefaultKeysMaxAge
	}
	v := &OIDCVerifier{cfg: cfg, now: time.Now, skew: cfg.ClockSkew}
	switch {
	case v.skew == 0:
		v.skew = DefaultClockSkew
	case v.skew < 0:
		v.skew = 0
	}

	var doc struct {
		Issuer                string `json:"issuer"`
		JWKSURI               string `json:"jwks_uri"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		EndSessionEndpoint    string `json:"end_session_endpoint"`
		RevocationEndpoint    string `json:"revocation_endpoint"`
	}
	if err := getJSON(ctx, cfg.HTTPClient, strings.TrimRight(cfg.Issuer, "/")+DiscoveryPath, &doc); err != nil {
		return nil, fmt.Errorf("oidc discovery: %w", err)
	}
	// OpenID Connect Discovery §4.3: the issuer must be the one asked for, to the letter,
	// or one provider could pass its tokens off as another's.
	if doc.Issuer != cfg.Issuer {
		return nil, fmt.Errorf("oidc discovery: the document names issuer %q, not %q", doc.Issuer, cfg.Issuer)
	}
	if err := checkURL(doc.JWKSURI, cfg.AllowHTTP); err != nil {
		return nil, fmt.Errorf("oidc discovery: jwks_uri: %w", err)
	}
	v.jwksURI = doc.JWKSURI
	if cfg.ClientID != "" {
		// A browser is sent to these: they must be the provider's own, over TLS.
		for name, u := range map[string]string{"authorization_endpoint": doc.AuthorizationEndpoint, "token_endpoint": doc.TokenEndpoint} {
			if err := checkEndpoint(u, cfg.AllowHTTP); err != nil {
				return nil, fmt.Errorf("oidc discovery: %s, which the console's login needs: %w", name, err)
			}
		}
		for _, u := range []*string{&doc.EndSessionEndpoint, &doc.RevocationEndpoint} {
			if checkEndpoint(*u, cfg.AllowHTTP) != nil {
				*u = "" // optional: a console without it only forgets its tokens
			}
		}
		v.browser = BrowserLogin{AuthorizationEndpoint: doc.AuthorizationEndpoint, TokenEndpoint: doc.TokenEndpoint,
			EndSessionEndpoint: doc.EndSessionEndpoint, RevocationEndpoint: doc.RevocationEndpoint}
	}
	ks, err := v.fetchKeys(ctx)
	if err != nil {
		return nil, err
	}
	v.keys.Store(ks)
	v.attempted = ks.fetched

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(signingAlgs()),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(v.skew),
		jwt.WithTimeFunc(func() time.Time { return v.now() }),
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Name is the provider's issuer URL: the iss claim of its tokens.
func (v *OIDCVerifier) Name() string { return v.cfg.Issuer }

// Verify checks token and returns its Principal: the subject, and the groups of the
// groups claim with GroupPrefix before each. It accepts only tokens signed with one of
// the provider's keys, with an algorithm that key is for (RSA PKCS#1 v1.5 or PSS,
// ECDSA on the curve of the algorithm, or Ed25519), naming the provider as iss and, if
// configured, the audience in aud, with a subject, and not expired. The error is an
// *errs.Error: ExpiredAuthToken for an expired but otherwise good token,
// InvalidAuthToken for anything else.
func (v *OIDCVerifier) Verify(token string) (Principal, error) {
	return v.cache.verify(token, v.now(), v.verify)
}

func (v *OIDCVerifier) verify(token string) (Principal, time.Time, error) {
	c := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, c, v.keyFor); err != nil {
		return Principal{}, time.Time{}, tokenError(err)
	}
	sub, _ := c.GetSubject()
	exp, _ := c.GetExpirationTime()
	if sub == "" || exp == nil {
		return Principal{}, time.Time{}, errs.New(errs.CodeInvalidAuthToken, "invalid auth token: no subject or expiry")
	}
	return Principal{Subject: sub, Groups: v.groups(c[v.cfg.GroupsClaim])}, exp.Add(v.skew), nil
}

// groups maps the groups claim to Photon group names. Elements that are not strings,
// and empty names, are passed over: they grant nothing.
func (v *OIDCVerifier) groups(claim any) []string {
	var names []string
	switch c := claim.(type) {
	case string:
		names = []string{c}
	case []any:
		for _, g := range c {
			if s, ok := g.(string); ok {
				names = append(names, s)
			}
		}
	}
	var groups []string
	for _, n := range names {
		if n != "" {
			groups = append(groups, v.cfg.GroupPrefix+n)
		}
	}
	return groups
}

// keyFor is the jwt.Keyfunc: the keys of the set that may verify t. A token naming a
// key id the set does not have makes the set be fetched again (at most once per
// RefetchInterval), in case the provider rotated its keys; so does a set older than
// KeysMaxAge.
func (v *OIDCVerifier) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, _ := t.Header["kid"].(string)
	ks := v.keys.Load()
	switch {
	case !ks.has(kid):
		ks = v.refetch(ks, true)
	case v.now().Sub(ks.fetched) > v.cfg.KeysMaxAge:
		// The set there is will do while another caller fetches it again.
		ks = v.refetch(ks, false)
	}
	var fit []jwt.VerificationKey
	for _, k := range ks.keys {
		// A token without a kid may be verified by any key of its algorithm.
		if (kid == "" || k.kid == kid) && k.fits(alg) {
			fit = append(fit, k.key)
		}
	}
	switch len(fit) {
	case 0:
		return nil, fmt.Errorf("no key of id %q for %s", kid, alg)
	case 1:
		return fit[0], nil
	}
	return jwt.VerificationKeySet{Keys: fit}, nil
}

// has reports whether the set holds a key of id kid; every set "has" the empty id.
func (ks *keySet) has(kid string) bool {
	if kid == "" {
		return true
	}
	for _, k := range ks.keys {
		if k.kid == kid {
			return true
		}
	}
	return false
}

// refetch fetches the key set again unless another caller did since seen was loaded or
// the last attempt is less than RefetchInterval ago, and returns the newest set. A
// failed fetch keeps the set there is. When another caller is fetching, refetch waits
// for it if wait is set, and returns seen at once otherwise.
func (v *OIDCVerifier) refetch(seen *keySet, wait bool) *keySet {
	if wait {
		v.fetchMu.Lock()
	} else if !v.fetchMu.TryLock() {
		return seen
	}
	defer v.fetchMu.Unlock()
	if cur := v.keys.Load(); cur != seen {
		return cur
	}
	if v.now().Sub(v.attempted) < v.cfg.RefetchInterval {
		return seen
	}
	v.attempted = v.now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ks, err := v.fetchKeys(ctx)
	if err != nil {
		return seen
	}
	v.keys.Store(ks)
	return ks
}

func (v *OIDCVerifier) fetchKeys(ctx context.Context) (*keySet, error) {
	var raw json.RawMessage
	if err := getJSON(ctx, v.cfg.HTTPClient, v.jwksURI, &raw); err != nil {
		return nil, fmt.Errorf("oidc keys: %w", err)
	}
	keys, err := parseJWKS(raw)
	if err != nil {
		return nil, fmt.Errorf("oidc keys from %s: %w", v.jwksURI, err)
	}
	return &keySet{keys: keys, fetched: v.now()}, nil
}

// getJSON GETs u and decodes its JSON body into out. Only a 200 answer counts.
func getJSON(ctx context.Context, c *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxMetadataBytes {
		return fmt.Errorf("GET %s: more than %d bytes", u, maxMetadataBytes)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// checkURL accepts an absolute https URL without query or fragment, or an http one
// when allowHTTP is set or the host is loopback.
func checkURL(s string, allowHTTP bool) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return fmt.Errorf("%q is not an absolute URL without user, query or fragment", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (allowHTTP || isLoopback(u.Hostname())):
		return nil
	}
	return fmt.Errorf("%q: want https (plain http only from loopback or with AllowHTTP)", s)
}

// checkEndpoint is checkURL for an endpoint, which may carry a query (RFC 8414 §2).
func checkEndpoint(s string, allowHTTP bool) error {
	if s == "" {
		return errors.New("missing")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	u.RawQuery = ""
	return checkURL(u.String(), allowHTTP)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var _, _ Verifier = (*Issuer)(nil), (*OIDCVerifier)(nil)
