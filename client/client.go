package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Options configure a Client.
type Options struct {
	// URL is the API's base URL, e.g. "https://photon.example.com" or
	// "http://127.0.0.1:9000".
	URL string
	// Token and RefreshToken start the client logged in (e.g. from a saved config).
	Token, RefreshToken string
	// OnToken is called with each new token pair, after a login or a refresh.
	OnToken func(Token)
	// RootCAs are the CAs an HTTPS server's certificate is checked against (nil: the
	// system's). Insecure skips the check altogether.
	RootCAs  *x509.CertPool
	Insecure bool
	// HTTPClient replaces the client the options above build.
	HTTPClient *http.Client
	// Attempts bounds how often one call is tried (default 5); MaxBackoff bounds the
	// wait between two attempts, Retry-After included (default 30s).
	Attempts   int
	MaxBackoff time.Duration
}

// Client calls one Photon API. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	http    *http.Client
	onToken func(Token)
	tries   int
	maxWait time.Duration

	mu        sync.Mutex
	tok       Token
	refreshMu sync.Mutex // one refresh at a time: a refresh token is good once
}

// New returns a Client for o.URL.
func New(o Options) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(o.URL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("API URL %q: want http(s)://host[:port]", o.URL)
	}
	hc := o.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs, InsecureSkipVerify: o.Insecure, MinVersion: tls.VersionTLS12} //nolint:gosec // Insecure is the caller's explicit choice
		hc = &http.Client{Transport: tr}
	}
	c := &Client{base: u, http: hc, onToken: o.OnToken, tries: o.Attempts, maxWait: o.MaxBackoff,
		tok: Token{Access: o.Token, Refresh: o.RefreshToken}}
	if c.tries <= 0 {
		c.tries = 5
	}
	if c.maxWait <= 0 {
		c.maxWait = 30 * time.Second
	}
	c.tok.Expiry = expiryOf(o.Token)
	return c, nil
}

// URL is the API's base URL.
func (c *Client) URL() string { return c.base.String() }

// APIError is an error the API answered: Photon's ApiError and the HTTP status.
type APIError struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Data    map[string]string `json:"data,omitempty"`
}

func (e *APIError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// request is one logical call: its body is kept so that each attempt sends it again.
type request struct {
	method, path string
	query        url.Values
	body         []byte
	contentType  string
	// stream, when set, makes the body of each attempt (an upload).
	stream func() (io.ReadCloser, string, error)
	anon   bool // no token (the token endpoint)
}

var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true}

// call sends in (a proto message, or nil) and decodes the answer into out (a proto
// message, a pointer for encoding/json, or nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in proto.Message, out any) error {
	r := request{method: method, path: path, query: query}
	if in != nil {
		b, err := protojson.Marshal(in)
		if err != nil {
			return err
		}
		r.body, r.contentType = b, "application/json"
	}
	return c.send(ctx, r, out)
}

func (c *Client) send(ctx context.Context, r request, out any) error {
	raw, err := c.do(ctx, r)
	if err != nil || out == nil || len(raw) == 0 {
		return err
	}
	switch o := out.(type) {
	case proto.Message:
		err = unmarshal.Unmarshal(raw, o)
	case *json.RawMessage:
		*o = append((*o)[:0], raw...)
	default:
		err = json.Unmarshal(raw, o)
	}
	if err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", r.method, r.path, err)
	}
	return nil
}

// do runs the attempts of r and answers the body of a 2xx.
func (c *Client) do(ctx context.Context, r request) ([]byte, error) {
	key := ""
	if r.method != http.MethodGet && !r.anon {
		key = newKey()
	}
	refreshed := false
	var last error
	for attempt := 0; attempt < c.tries; attempt++ {
		if !r.anon {
			if err := c.freshen(ctx); err != nil {
				return nil, err
			}
		}
		status, hdr, raw, err := c.once(ctx, r, key)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil || !transient(err) {
				return nil, err
			}
			last = err
		case status == http.StatusUnauthorized && !r.anon && !refreshed && c.canRefresh():
			refreshed = true
			if err := c.Refresh(ctx); err != nil {
				return nil, err
			}
			attempt--
			continue
		case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable ||
			status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
			last = apiError(status, raw)
			wait = retryAfter(hdr)
		case status >= 200 && status < 300:
			return raw, nil
		default:
			return nil, apiError(status, raw)
		}
		if attempt == c.tries-1 {
			break
		}
		if back := backoff(attempt); wait < back {
			wait = back
		}
		if err := sleep(ctx, min(wait, c.maxWait)); err != nil {
			return nil, err
		}
	}
	return nil, last
}

func (c *Client) once(ctx context.Context, r request, key string) (int, http.Header, []byte, error) {
	u := *c.base
	path, rawQuery, _ := strings.Cut(r.path, "?")
	u.Path += path
	q, _ := url.ParseQuery(rawQuery)
	for k, vs := range r.query {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	var body io.Reader
	ct := r.contentType
	if r.stream != nil {
		rc, t, err := r.stream()
		if err != nil {
			return 0, nil, nil, err
		}
		defer rc.Close()
		body, ct = rc, t
	} else if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return 0, nil, nil, err
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Accept", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if tok := c.Token().Access; tok != "" && !r.anon {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return res.StatusCode, res.Header, raw, nil
}

func apiError(status int, raw []byte) *APIError {
	e := &APIError{Status: status}
	if json.Unmarshal(raw, e) != nil || e.Code == "" {
		e.Code = http.StatusText(status)
		e.Message = strings.TrimSpace(string(raw))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200]
		}
	}
	return e
}

// transient tells whether err (from http.Client.Do) is worth another attempt: the
// server could not be reached or dropped the connection. TLS and URL errors are not.
func transient(err error) bool {
	var cert *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	if errors.As(err, &cert) || errors.As(err, &unknown) || errors.As(err, &host) {
		return false
	}
	var ne net.Error
	var op *net.OpError
	return errors.As(err, &op) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

func retryAfter(h http.Header) time.Duration {
	if s, err := strconv.Atoi(h.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

func backoff(attempt int) time.Duration {
	return (100 * time.Millisecond) << min(attempt, 6)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
