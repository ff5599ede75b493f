package nsx

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	nsxt "github.com/vmware/go-vmware-nsxt"
	"github.com/vmware/go-vmware-nsxt/common"
	"github.com/vmware/go-vmware-nsxt/manager"

	"github.com/photon-cloud/photon/shared/errs"
)

// TagScope is the scope of the tag that carries an object's Photon id.
const TagScope = "photon"

// Config says which NSX-T Manager to use and how.
type Config struct {
	ManagerURL string // e.g. https://nsx.example or http://127.0.0.1:1234
	User       string
	Password   string
	Insecure   bool // skip TLS certificate verification
	// TransportZone is the id or display name of the zone new switches go in; empty means
	// the first OVERLAY zone NSX lists.
	TransportZone string
	// Timeout bounds each request (default 60s): go-vmware-nsxt ignores contexts.
	Timeout time.Duration
	// PageSize is the page_size of list calls (default 1000, NSX's maximum).
	PageSize int64
}

// Client is Photon's NSX-T client. It is safe for concurrent use.
type Client struct {
	api      *nsxt.APIClient
	auth     nsxt.BasicAuth
	pageSize int64
	zoneRef  string

	mu   sync.Mutex
	zone *manager.TransportZone // resolved on first use
}

// New returns a client for cfg. It does not contact NSX.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.ManagerURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.Permanent(fmt.Errorf("nsx: manager URL %q is not an http(s) URL", cfg.ManagerURL))
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.PageSize <= 0 || cfg.PageSize > 1000 {
		cfg.PageSize = 1000
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: cfg.Insecure} //nolint:gosec // the operator's choice
	transport.MaxIdleConnsPerHost = 32
	api, err := nsxt.NewAPIClient(&nsxt.Configuration{
		BasePath:      strings.TrimSuffix(u.Path, "/") + "/api/v1",
		Host:          u.Host,
		Scheme:        u.Scheme,
		UserName:      cfg.User,
		Password:      cfg.Password,
		Insecure:      cfg.Insecure,
		UserAgent:     "photon",
		DefaultHeader: map[string]string{},
		// Basic auth on every request instead of a session: the client's session login
		// runs inside NewAPIClient with no context or error return, and only logs failures.
		SkipSessionAuth: true,
		HTTPClient:      &http.Client{Transport: roundTripper{transport, cfg.Timeout}},
	})
	if err != nil {
		return nil, fmt.Errorf("nsx: new client: %w", err)
	}
	return &Client{
		api:      api,
		auth:     nsxt.BasicAuth{UserName: cfg.User, Password: cfg.Password},
		pageSize: cfg.PageSize,
		zoneRef:  cfg.TransportZone,
	}, nil
}

// ctx prepares a context for one go-vmware-nsxt call: the client takes its credentials from
// the context, and cannot be interrupted once it has sent the request, so a done context
// stops here.
func (c *Client) ctx(ctx context.Context) (context.Context, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return context.WithValue(ctx, nsxt.ContextBasicAuth, c.auth), nil
}

// page fetches one page of a list call.
type page[T any] func(ctx context.Context, opts map[string]any) (results []T, cursor string, resp *http.Response, err error)

// listAll follows the cursor through every page of a list call and keeps the objects keep
// accepts.
func listAll[T any](ctx context.Context, c *Client, op string, fetch page[T], filter map[string]any, keep func(*T) bool) ([]T, error) {
	var out []T
	seen := map[string]bool{}
	cursor := ""
	for {
		cctx, err := c.ctx(ctx)
		if err != nil {
			return nil, err
		}
		opts := map[string]any{"pageSize": c.pageSize}
		for k, v := range filter {
			opts[k] = v
		}
		if cursor != "" {
			opts["cursor"] = cursor
		}
		res, next, resp, err := fetch(cctx, opts)
		if e := callError(op, resp, err); e != nil {
			return nil, e.result()
		}
		for i := range res {
			if keep == nil || keep(&res[i]) {
				out = append(out, res[i])
			}
		}
		if next == "" {
			return out, nil
		}
		if seen[next] {
			return nil, errs.Permanent(fmt.Errorf("nsx: %s: NSX returned cursor %q twice", op, next))
		}
		seen[next] = true
		cursor = next
	}
}

// tags are the tags of an object Photon creates for photonID.
func tags(photonID string, more ...common.Tag) []common.Tag {
	return append([]common.Tag{{Scope: TagScope, Tag: photonID}}, more...)
}

func tagged(ts []common.Tag, photonID string) bool {
	for _, t := range ts {
		if t.Scope == TagScope && t.Tag == photonID {
			return true
		}
	}
	return false
}

// gone counts an NSX "not found" answer to a delete as success.
func gone(e *Error) error {
	if e == nil || e.Status == http.StatusNotFound {
		return nil
	}
	return e.result()
}

// transportZone returns the zone new switches go in, looked up once.
func (c *Client) transportZone(ctx context.Context) (manager.TransportZone, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.zone != nil {
		return *c.zone, nil
	}
	zones, err := listAll(ctx, c, "list transport zones",
		func(ctx context.Context, o map[string]any) ([]manager.TransportZone, string, *http.Response, error) {
			r, resp, err := c.api.NetworkTransportApi.ListTransportZones(ctx, o)
			return r.Results, r.Cursor, resp, err
		}, nil, func(z *manager.TransportZone) bool {
			if c.zoneRef != "" {
				return z.Id == c.zoneRef || z.DisplayName == c.zoneRef
			}
			return z.TransportType == "OVERLAY"
		})
	if err != nil {
		return manager.TransportZone{}, err
	}
	if len(zones) == 0 {
		want := "an OVERLAY transport zone"
		if c.zoneRef != "" {
			want = "transport zone " + c.zoneRef
		}
		return manager.TransportZone{}, (&Error{Op: "find transport zone", Status: http.StatusNotFound,
			Message: "NSX has no " + want}).result()
	}
	c.zone = &zones[0]
	return zones[0], nil
}
