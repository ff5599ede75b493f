package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/peer"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// RateLimits bound the calls of one bearer token and those acting in one tenant; past
// either the gateway answers TooManyRequests with a retry hint. A zero Rate is no bound.
type RateLimits struct {
	PerToken  store.RateLimit
	PerTenant store.RateLimit
}

// DefaultRateLimits guard the cloud against a runaway client: well above what Photon's
// clients do (a create and a poll of its task every 5-200 ms, hundreds at once).
var DefaultRateLimits = RateLimits{
	PerToken:  store.RateLimit{Rate: 2000, Burst: 4000},
	PerTenant: store.RateLimit{Rate: 5000, Burst: 10000},
}

// call is what the gateway learns of one API call while it serves it, for its audit
// record and its rate limits: put in the context when the call arrives, filled in by
// authentication and by the tenant checks.
type call struct {
	mu        sync.Mutex
	principal auth.Principal
	token     string   // a hash of the bearer token, once it is verified
	tenants   []string // tenants charged for this call
}

type callKey struct{}

func withCall(ctx context.Context) (context.Context, *call) {
	c := &call{}
	return context.WithValue(ctx, callKey{}, c), c
}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

func (c *call) who() auth.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.principal
}

// tokenKey names a token in the rate limiter without keeping the token.
func tokenKey(token string) string {
	h := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(h[:12])
}

// limitToken charges the call to its caller's token (authenticate calls it once the
// token is verified).
func (c *core) limitToken(ctx context.Context, p auth.Principal, token string) error {
	if cl := callOf(ctx); cl != nil {
		cl.mu.Lock()
		cl.principal, cl.token = p, tokenKey(token)
		cl.mu.Unlock()
	}
	return c.limit(ctx, store.RateCheck{Key: tokenKey(token), Limit: c.limits.PerToken}, "this token")
}

// limitTenant charges the call to tenant, once per call however many of its entities
// the call reads.
func (c *core) limitTenant(ctx context.Context, tenant string) error {
	if cl := callOf(ctx); cl != nil {
		cl.mu.Lock()
		seen := slices.Contains(cl.tenants, tenant)
		if !seen {
			cl.tenants = append(cl.tenants, tenant)
		}
		cl.mu.Unlock()
		if seen {
			return nil
		}
	}
	return c.limit(ctx, store.RateCheck{Key: "tenant:" + tenant, Limit: c.limits.PerTenant}, "tenant "+tenant)
}

func (c *core) limit(ctx context.Context, check store.RateCheck, what string) error {
	if check.Limit.Rate <= 0 {
		return nil
	}
	r, err := c.store.Allow(ctx, check)
	if err != nil {
		return err
	}
	if !r.OK {
		return errs.TooMany(r.RetryAfter, "too many requests for %s (at most %g a second): retry in %s", what, check.Limit.Rate, r.RetryAfter)
	}
	return nil
}

// auditHTTP records the REST calls that change something (every verb but GET, HEAD and
// OPTIONS, the logins of the token endpoint and the login page included) and every call
// refused for want of a valid token, of rights or of rate, in the audit log.
func (s *Server) auditHTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cl := withCall(r.Context())
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(ctx)
		start := time.Now()
		next.ServeHTTP(rec, r)
		login := r.URL.Path == auth.TokenPath || r.URL.Path == auth.AuthorizePath && r.Method == http.MethodPost
		e := store.AuditEvent{Time: start, Method: r.Method + " " + r.URL.Path, Path: r.URL.Path,
			Source: source(r.RemoteAddr, r.Header.Get("X-Forwarded-For")), Protocol: "rest", Status: rec.status}
		switch {
		case rec.status == http.StatusUnauthorized || rec.status == http.StatusForbidden || rec.status == http.StatusTooManyRequests,
			login && rec.status >= 400 && rec.status < 500:
			e.Outcome = store.AuditDenied
		case !restCall(r).Mutates:
			return // reads are not audited
		case rec.status >= 400:
			e.Outcome = store.AuditFailed
		default:
			e.Outcome = store.AuditAllowed
		}
		p := cl.who()
		e.Subject, e.Groups = p.Subject, p.Groups
		if login {
			e.Subject = r.PostForm.Get("username") // who tried to log in
			switch gt := r.PostForm.Get("grant_type"); {
			case e.Subject != "":
			case gt == "refresh_token":
				e.Subject = "(refresh token)"
			case gt == "authorization_code":
				e.Subject = "(authorization code)"
			}
		}
		rec.describe(&e)
		s.audit.Record(e)
	})
}

// unaryAudit is auditHTTP for gRPC: it records the methods that change something and
// every refused call.
func (s *Server) unaryAudit(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	ctx, cl := withCall(ctx)
	start := time.Now()
	resp, err := h(ctx, req)
	e := store.AuditEvent{Time: start, Method: info.FullMethod, Protocol: "grpc", Status: http.StatusOK}
	if pr, ok := peer.FromContext(ctx); ok {
		e.Source = source(pr.Addr.String(), "")
	}
	if err != nil {
		ae := errs.As(err)
		e.Code, e.Message, e.Status = ae.Code, ae.Message, ae.HTTPStatus()
	}
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusTooManyRequests:
		e.Outcome = store.AuditDenied
	case !methodOf(info.FullMethod).Mutates:
		return resp, err
	case err != nil:
		e.Outcome = store.AuditFailed
	default:
		e.Outcome = store.AuditAllowed
	}
	p := cl.who()
	e.Subject, e.Groups = p.Subject, p.Groups
	if t, ok := resp.(*pb.Task); ok {
		e.TaskID, e.EntityID = t.GetId(), t.GetEntity().GetId()
	}
	s.audit.Record(e)
	return resp, err
}

// source is the caller's address: the peer, and the client a proxy names in
// X-Forwarded-For (which the client may have made up, so the peer stays).
func source(remote, forwarded string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if f := strings.TrimSpace(strings.Split(forwarded, ",")[0]); f != "" {
		return f + " via " + host
	}
	return host
}

// recorder keeps a response's status and the start of its body, which names the task
// (or the error) a mutation answered with.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	head   bytes.Buffer
}

// maxHead is how much of a body the recorder keeps.
const maxHead = 8 << 10

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	if n := maxHead - r.head.Len(); n > 0 {
		r.head.Write(b[:min(n, len(b))])
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (uploads flush).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// describe adds to e what the body tells: a task's id and entity, or an error's code
// and message.
func (r *recorder) describe(e *store.AuditEvent) {
	var body struct {
		ID      string `json:"id"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Entity  struct {
			ID string `json:"id"`
		} `json:"entity"`
	}
	if json.Unmarshal(r.head.Bytes(), &body) != nil {
		return
	}
	if r.status >= 400 {
		e.Code, e.Message = body.Code, body.Message
		return
	}
	if body.Entity.ID != "" {
		e.TaskID, e.EntityID = body.ID, body.Entity.ID
	}
}

// auditSvc serves the audit log to system administrators.
type auditSvc struct {
	pb.UnimplementedAuditServer
	*core
}

func (s *auditSvc) ListAuditEvents(ctx context.Context, req *pb.ListAuditEventsRequest) (*pb.AuditEventList, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	q := store.AuditQuery{Subject: req.GetSubject(), Outcome: strings.ToUpper(req.GetOutcome()), TenantID: req.GetTenantId(),
		Limit: int(req.GetPageSize()), PageToken: req.GetPageLink()}
	if req.GetSince() > 0 {
		q.Since = time.UnixMilli(req.GetSince())
	}
	if req.GetUntil() > 0 {
		q.Until = time.UnixMilli(req.GetUntil())
	}
	events, next, err := s.store.ListAudit(ctx, q)
	if err != nil {
		return nil, err
	}
	out := &pb.AuditEventList{Items: make([]*pb.AuditEvent, len(events))}
	if next != "" {
		out.NextPageLink = auditPageLink(req, next)
	}
	for i, e := range events {
		out.Items[i] = &pb.AuditEvent{Id: e.ID, Time: e.Time.UnixMilli(), Subject: e.Subject, Groups: e.Groups, Method: e.Method,
			Path: e.Path, TenantId: e.TenantID, ProjectId: e.ProjectID, EntityId: e.EntityID, TaskId: e.TaskID, Source: e.Source,
			Protocol: e.Protocol, Outcome: e.Outcome, Code: e.Code, Status: int32(e.Status), Message: e.Message}
	}
	return out, nil
}

// auditPageLink is the link to the page after req's, with req's filters.
func auditPageLink(req *pb.ListAuditEventsRequest, next string) string {
	q := url.Values{"pageLink": {next}}
	for k, v := range map[string]string{"subject": req.GetSubject(), "outcome": req.GetOutcome(), "tenantId": req.GetTenantId()} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for k, v := range map[string]int64{"since": req.GetSince(), "until": req.GetUntil(), "pageSize": int64(req.GetPageSize())} {
		if v > 0 {
			q.Set(k, strconv.FormatInt(v, 10))
		}
	}
	return "/v1/system/audit?" + q.Encode()
}
