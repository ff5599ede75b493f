package gateway

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/console"
	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/gateway/apidocs"
	"github.com/photon-cloud/photon/gateway/rest"
	"github.com/photon-cloud/photon/metrics"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/part"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/store"
)

// Options configure a gateway.
type Options struct {
	Store  *store.Store
	Broker events.Broker
	// Issuer is the embedded OIDC issuer: it serves the token endpoint, the JWKS and the
	// discovery document, and verifies its tokens.
	Issuer *auth.Issuer
	Users  *auth.Users
	// Verifier verifies bearer tokens; nil is Issuer. Give auth.Verifiers to accept an
	// external OIDC provider's tokens (auth.NewOIDCVerifier) beside the embedded ones.
	Verifier auth.Verifier
	// PublicURL is the base URL clients reach the gateway at, for the discovery
	// document's endpoints ("" names them after the issuer).
	PublicURL string
	// RedirectURIs are the URIs besides the gateway's own origin that the browser login
	// may send a user back to (a console served elsewhere), compared exactly.
	RedirectURIs []string
	// ExternalLogin, when set, is the external provider GET /v1/system/auth sends the
	// web console to log in at (auth.OIDCVerifier.BrowserLogin); nil is the embedded
	// issuer's login page.
	ExternalLogin *auth.BrowserLogin
	// HTTPAddr serves REST, the OpenAPI document and the token endpoint; GRPCAddr serves
	// gRPC. "127.0.0.1:0" picks a free port.
	HTTPAddr string
	GRPCAddr string
	// HTTPSAddr, when set, serves everything HTTPAddr and GRPCAddr do on one port over
	// TLS with the certificate of TLS: HTTP/2 requests of a gRPC content type go to the
	// gRPC server, all others to REST. GET /v1/system/auth names it, so Photon's clients
	// get their tokens there.
	HTTPSAddr string
	TLS       *TLS
	Logger    *slog.Logger
	// Admission bounds the chains in flight, in total and per tenant (Limit 0: unbounded).
	Admission store.Admission
	// Provisioner, when set, starts the hostd of each host registered through the API
	// (POST /v1/infrastructure/hosts) and stops it when the host is deleted. Without one a
	// registered host waits in CREATING for a hostd started with its id.
	Provisioner Provisioner
	// Checks are components to report in GET /v1/system/status beside Redis, the
	// functions and the hosts, by name (e.g. ComponentNSX).
	Checks map[string]Check
	// HostTLS is the client config of the gateway's calls to hostd (image and ISO
	// uploads, through shared/hostclient): a client certificate from the platform CA and
	// the CA to verify hostd's (pki.CA.ServiceClientTLS); each call accepts only the host
	// it is meant for. hostd serves mutual TLS only, so without it uploads fail.
	HostTLS *tls.Config
	// RateLimits bound the calls per token and per tenant; nil is DefaultRateLimits.
	RateLimits *RateLimits
	// AuditRetention bounds the audit log (zero fields: the store's defaults).
	AuditRetention store.AuditRetention
	// TaskRetention is how long a finished task is kept (0: store.DefaultTaskRetention;
	// below 0: for ever); see retention.go.
	TaskRetention time.Duration
	// Sinks says where subscription sinks may be (nil: public addresses over https only);
	// a subscription's create checks its sink against it. The notifier, which delivers,
	// checks each connection against its own (notify.Options.Sinks): give both the same.
	Sinks *egress.Policy
	// Services configure Kubernetes and Harbor services: the keys of their secrets and of
	// their nodes' tokens, how often nodes report.
	Services ServiceOptions
	// Feed tails the outbound events for GET /v1/events/stream (nil: the gateway serves
	// no stream and answers it ServiceUnavailable).
	Feed *notify.Feed
	// TakeoverAfter is how long work a gateway took on (a chain's start it read, a host
	// it provisions) may go without a sign of life before another gateway takes it over
	// (0: 30s). A gateway that closes hands its hosts' provisioning over at once.
	TakeoverAfter time.Duration
}

// DefaultMaxInFlight is the default admission limit: chains in flight at once.
const DefaultMaxInFlight = 4096

// Server is a running gateway.
type Server struct {
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	httpLn   net.Listener
	grpcLn   net.Listener
	httpsSrv *http.Server // nil without Options.HTTPSAddr
	httpsLn  net.Listener
	errc     chan error
	opts     Options
	core     *core
	services services
	networks *networks
	uploads  *uploads
	audit    *store.AuditLog
	// stopObserving ends the gateway's gauges (metrics.go).
	stopObserving func()
	// closing ends when Close begins: the event streams, which would otherwise hold the
	// HTTP servers' shutdown for their lifetime, end then (eventstream.go).
	closing    context.Context
	endStreams context.CancelFunc
}

type services struct {
	tenants    *tenants
	projects   *projects
	flavors    *flavors
	images     *images
	vms        *vms
	tasks      *tasks
	hosts      *hosts
	zones      *zones
	datastores *datastores
	system     *system
	disks      *disksSvc
	iam        *iam
	audit      *auditSvc
	events     *eventsSvc
	rules      *rulesSvc
	subs       *subscriptionsSvc
	services   *servicesSvc
}

// Start listens on both addresses and serves until Close.
func Start(ctx context.Context, o Options) (*Server, error) {
	defer part.Enter(ctx, part.Gateway)() // its servers, their connections and its background work
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Verifier == nil {
		o.Verifier = o.Issuer
	}
	limits := DefaultRateLimits
	if o.RateLimits != nil {
		limits = *o.RateLimits
	}
	if o.Sinks == nil {
		o.Sinks = &egress.Policy{}
	}
	if o.TakeoverAfter <= 0 {
		o.TakeoverAfter = 30 * time.Second
	}
	c := &core{store: o.Store, broker: o.Broker, log: o.Logger, admission: o.Admission, provisioner: o.Provisioner, limits: limits,
		name: fmt.Sprintf("gateway-%08x", rand.Uint32()), takeover: o.TakeoverAfter}
	c.bg, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	s := &Server{opts: o, core: c, errc: make(chan error, 2), services: services{
		&tenants{core: c}, &projects{core: c}, &flavors{core: c}, &images{core: c}, &vms{core: c}, &tasks{core: c},
		&hosts{core: c}, &zones{core: c}, &datastores{core: c}, nil, &disksSvc{core: c}, &iam{core: c}, &auditSvc{core: c}, nil, &rulesSvc{core: c}, &subscriptionsSvc{core: c, sinks: o.Sinks}, nil}, audit: store.NewAuditLog(o.Store, o.AuditRetention, o.Logger)}
	s.closing, s.endStreams = context.WithCancel(context.Background())
	s.services.system = &system{core: c, checks: o.Checks, httpAddr: s.authAddr}
	s.services.events = &eventsSvc{srv: s}
	s.networks = &networks{core: c}
	s.services.services = &servicesSvc{core: c, vms: s.services.vms, o: o.Services, report: s.reportBase}

	s.grpcSrv = grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler()),
		grpc.ChainUnaryInterceptor(unaryErrors, s.unaryAudit, s.unaryAuth, unaryBounds),
		grpc.ChainStreamInterceptor(s.streamAuth),
	)
	s.register(s.grpcSrv)
	c.registerProbes(s.grpcSrv)

	mux := runtime.NewServeMux(append(rest.ServeMuxOptions(), runtime.WithMiddlewares(recordRoute))...)
	if err := s.registerREST(ctx, mux); err != nil {
		c.stop()
		return nil, err
	}
	root := http.NewServeMux()
	root.Handle("/v1/", s.httpAuth(mux))
	// Image uploads are multipart, which grpc-gateway does not bind.
	s.uploads = &uploads{core: c, hosts: hostclient.New(o.Store, o.HostTLS)}
	root.Handle("POST /v1/images", s.httpAuth(s.uploads))
	root.Handle("POST /v1/projects/{id}/images", s.httpAuth(s.uploads))
	root.Handle("POST /v1/vms/{id}/attach_iso", s.httpAuth(http.HandlerFunc(s.attachISO)))
	// Inbound CloudEvents come in either content mode, which grpc-gateway does not bind.
	root.Handle("POST /v1/events", s.httpAuth(http.HandlerFunc(s.publishHTTP)))
	root.Handle("POST "+auth.TokenPath, o.Issuer.TokenHandler(o.Users))
	root.Handle("GET "+auth.JWKSPath, o.Issuer.JWKSHandler())
	root.Handle("GET "+auth.DiscoveryPath, o.Issuer.DiscoveryHandler(o.PublicURL))
	root.HandleFunc("GET /v1/system/auth", s.authInfo)
	s.mountLogin(root)
	// A service node reports with its own token, not a user's (cluster.NodeToken).
	root.HandleFunc("POST /v1/services/{id}/nodes/{vm}/report", s.services.services.nodeReport)
	root.HandleFunc("GET "+AFDCertsPath, s.afdCerts)
	root.HandleFunc("GET /v1/available", available)
	root.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(pb.OpenAPI)
	})
	root.Handle("GET "+EventStreamPath, s.httpAuth(http.HandlerFunc(s.eventStream)))
	// The web console: its page at / and its assets under /console/; every call it makes
	// is to the API above, with the user's token.
	var provider []string // an external provider's endpoints the console's login calls
	if l := o.ExternalLogin; l != nil {
		provider = []string{l.TokenEndpoint, l.RevocationEndpoint}
	}
	web := console.Handler(provider...)
	root.Handle("GET /{$}", web)
	root.Handle("GET "+console.AssetsPath, web)
	root.Handle("GET "+console.FaviconPath, web)
	root.Handle("GET "+apidocs.Path, apidocs.Handler()) // Swagger UI over /openapi.json
	root.Handle("GET "+apidocs.Path+"/", apidocs.Handler())
	root.Handle("GET "+metrics.Path, metrics.Handler()) // no token: Prometheus scrapes it; counts only
	root.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	// Anything else is a Photon NotFound, or MethodNotAllowed for a path served with
	// another method, as the API's own routes answer.
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { rest.Unrouted(w, r, servedOtherwise(root, r)) })
	api := otelhttp.NewHandler(s.auditHTTP(root), "photon.rest")
	s.httpSrv = &http.Server{Handler: api, ReadHeaderTimeout: 10 * time.Second}

	var err error
	if o.HTTPSAddr != "" {
		cfg, err := o.TLS.serverTLS()
		if err != nil {
			c.stop()
			return nil, err
		}
		// A failed handshake (a client that does not trust the certificate) is the
		// client's to report: logged at debug level only.
		s.httpsSrv = &http.Server{Handler: pki.GRPCOr(s.grpcSrv, api), TLSConfig: cfg, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}
		if s.httpsLn, err = net.Listen("tcp", o.HTTPSAddr); err != nil {
			c.stop()
			return nil, fmt.Errorf("listen HTTPS: %w", err)
		}
	}
	if s.grpcLn, err = net.Listen("tcp", orDefault(o.GRPCAddr, "127.0.0.1:0")); err != nil {
		c.stop()
		if s.httpsLn != nil {
			s.httpsLn.Close()
		}
		return nil, fmt.Errorf("listen gRPC: %w", err)
	}
	if s.httpLn, err = net.Listen("tcp", orDefault(o.HTTPAddr, "127.0.0.1:0")); err != nil {
		c.stop()
		s.grpcLn.Close()
		if s.httpsLn != nil {
			s.httpsLn.Close()
		}
		return nil, fmt.Errorf("listen HTTP: %w", err)
	}
	go func() { s.errc <- s.grpcSrv.Serve(s.grpcLn) }()
	c.background.Add(3)
	go func() {
		defer c.background.Done()
		part.Set(part.Context(c.bg, part.Relay))
		newRelay(o.Store, o.Broker, o.Logger, c.name, o.TakeoverAfter).run(c.bg)
	}()
	go func() {
		defer c.background.Done()
		c.wakeDue(c.bg)
	}()
	go func() {
		defer c.background.Done()
		c.reconcileProvisioning(c.bg)
	}()
	c.startSweep(o.TaskRetention)
	s.stopObserving = c.observe()
	go func() {
		if err := s.httpSrv.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			s.errc <- err
		}
	}()
	if s.httpsSrv != nil {
		go func() {
			if err := s.httpsSrv.ServeTLS(s.httpsLn, "", ""); !errors.Is(err, http.ErrServerClosed) {
				s.errc <- err
			}
		}()
	}
	return s, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func (s *Server) register(g *grpc.Server) {
	pb.RegisterTenantsServer(g, s.services.tenants)
	pb.RegisterProjectsServer(g, s.services.projects)
	pb.RegisterFlavorsServer(g, s.services.flavors)
	pb.RegisterImagesServer(g, s.services.images)
	pb.RegisterVmsServer(g, s.services.vms)
	pb.RegisterNetworksServer(g, s.networks)
	pb.RegisterTasksServer(g, s.services.tasks)
	pb.RegisterHostsServer(g, s.services.hosts)
	pb.RegisterAvailabilityZonesServer(g, s.services.zones)
	pb.RegisterDatastoresServer(g, s.services.datastores)
	pb.RegisterSystemServer(g, s.services.system)
	pb.RegisterDisksServer(g, s.services.disks)
	pb.RegisterIamServer(g, s.services.iam)
	pb.RegisterAuditServer(g, s.services.audit)
	pb.RegisterEventsServer(g, s.services.events)
	pb.RegisterRulesServer(g, s.services.rules)
	pb.RegisterSubscriptionsServer(g, s.services.subs)
	pb.RegisterUsersServer(g, s.usersService())
	pb.RegisterDeploymentServer(g, s.deployment())
	pb.RegisterServicesServer(g, s.services.services)
}

// registerREST serves the REST mapping in process: requests go straight to the service
// implementations, with the principal that httpAuth put in the request context.
func (s *Server) registerREST(ctx context.Context, mux *runtime.ServeMux) error {
	return errors.Join(
		pb.RegisterTenantsHandlerServer(ctx, mux, s.services.tenants),
		pb.RegisterProjectsHandlerServer(ctx, mux, s.services.projects),
		pb.RegisterFlavorsHandlerServer(ctx, mux, s.services.flavors),
		pb.RegisterImagesHandlerServer(ctx, mux, s.services.images),
		pb.RegisterVmsHandlerServer(ctx, mux, s.services.vms),
		pb.RegisterNetworksHandlerServer(ctx, mux, s.networks),
		pb.RegisterTasksHandlerServer(ctx, mux, s.services.tasks),
		pb.RegisterHostsHandlerServer(ctx, mux, s.services.hosts),
		pb.RegisterAvailabilityZonesHandlerServer(ctx, mux, s.services.zones),
		pb.RegisterDatastoresHandlerServer(ctx, mux, s.services.datastores),
		pb.RegisterSystemHandlerServer(ctx, mux, s.services.system),
		pb.RegisterDisksHandlerServer(ctx, mux, s.services.disks),
		pb.RegisterIamHandlerServer(ctx, mux, s.services.iam),
		pb.RegisterAuditHandlerServer(ctx, mux, s.services.audit),
		pb.RegisterRulesHandlerServer(ctx, mux, s.services.rules),
		pb.RegisterSubscriptionsHandlerServer(ctx, mux, s.services.subs),
		pb.RegisterUsersHandlerServer(ctx, mux, s.usersService()),
		pb.RegisterDeploymentHandlerServer(ctx, mux, s.deployment()),
		pb.RegisterServicesHandlerServer(ctx, mux, s.services.services),
	)
}

// HTTPAddr and GRPCAddr are where the gateway listens.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }
func (s *Server) GRPCAddr() string { return s.grpcLn.Addr().String() }

// HTTPSAddr is where the gateway serves REST and gRPC over TLS ("" without
// Options.HTTPSAddr).
func (s *Server) HTTPSAddr() string {
	if s.httpsLn == nil {
		return ""
	}
	return s.httpsLn.Addr().String()
}

// authAddr is the address Photon's clients get tokens at: the HTTPS one when there is one.
func (s *Server) authAddr() string { return orDefault(s.HTTPSAddr(), s.HTTPAddr()) }

// Close stops both servers, letting requests in flight finish, then cancels and waits
// for the work they left running (host provisioning, the relay of chain starts).
func (s *Server) Close(ctx context.Context) error {
	// The event streams end at once (their clients reconnect, to another gateway, after
	// the last event they saw); the gRPC server stops first, with the HTTPS server that
	// carries its calls too (whose shutdown waits for them).
	s.endStreams()
	done := make(chan struct{})
	go func() { s.grpcSrv.GracefulStop(); close(done) }()
	err := s.httpSrv.Shutdown(ctx)
	if s.httpsSrv != nil {
		err = errors.Join(err, s.httpsSrv.Shutdown(ctx))
	}
	select {
	case <-done:
	case <-ctx.Done():
		s.grpcSrv.Stop()
	}
	s.core.stop()
	s.stopObserving()
	s.uploads.close()
	if aerr := s.audit.Close(ctx); aerr != nil {
		s.opts.Logger.Error("close audit log", "err", aerr)
	}
	bg := make(chan struct{})
	go func() { s.core.background.Wait(); close(bg) }()
	select {
	case <-bg:
	case <-ctx.Done():
	}
	return err
}

// authenticate checks a bearer token and resolves the caller's roles: one function for
// gRPC and REST.
func (s *Server) authenticate(ctx context.Context, header string) (auth.Principal, error) {
	tok, err := auth.BearerToken(header)
	if err != nil {
		return auth.Principal{}, err
	}
	p, err := s.opts.Verifier.Verify(tok)
	if err != nil {
		return p, err
	}
	if p, err = s.core.withSystemRoles(ctx, p); err != nil {
		return p, err
	}
	return p, s.core.limitToken(ctx, p, tok)
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	header := ""
	if v := md.Get("authorization"); len(v) > 0 {
		header = v[0]
	}
	if tokenless[info.FullMethod] {
		return h(ctx, req)
	}
	p, err := s.authenticate(ctx, header)
	if err != nil {
		return nil, err
	}
	if methodOf(info.FullMethod).refusedWhilePaused() {
		if err := s.core.mutable(ctx); err != nil {
			return nil, err
		}
	}
	return h(auth.WithPrincipal(ctx, p), req)
}

// streamAuth authenticates the streaming calls as unaryAuth does the others: the API's
// methods are all unary, so the only streams served are tokenless ones (health watches,
// reflection); any other needs a token.
func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if tokenless[info.FullMethod] {
		return h(srv, ss)
	}
	md, _ := metadata.FromIncomingContext(ss.Context())
	header := ""
	if v := md.Get("authorization"); len(v) > 0 {
		header = v[0]
	}
	if _, err := s.authenticate(ss.Context(), header); err != nil {
		return errs.As(err)
	}
	return h(srv, ss)
}

// unaryErrors makes every error a gRPC status with Photon's code attached (an *errs.Error
// is one already), so a client can tell QuotaError from NotFound without parsing messages.
// It is the outermost interceptor, so the errors of authentication (which reads the store)
// are mapped too.
func unaryErrors(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	if _, ok := status.FromError(err); err != nil && !ok {
		err = errs.As(err)
	}
	return resp, err
}

func (s *Server) httpAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/system/auth" {
			next.ServeHTTP(w, r)
			return
		}
		p, err := s.authenticate(r.Context(), r.Header.Get("Authorization"))
		if err == nil && restCall(r).refusedWhilePaused() {
			err = s.core.mutable(r.Context())
		}
		if err != nil {
			rest.ErrorHandler(r.Context(), nil, &rest.Marshaler{}, w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// reportBase is the base URL service nodes report to and the PEM of the CA they trust
// it by: the public URL when there is one, else the HTTPS address (the plain HTTP one
// without TLS), with the roots GET /afd/vecs/ssl answers.
func (s *Server) reportBase() (string, string) {
	var ca []byte
	if s.opts.TLS != nil {
		for _, c := range s.opts.TLS.Roots {
			ca = append(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
	}
	switch {
	case s.opts.PublicURL != "":
		return strings.TrimSuffix(s.opts.PublicURL, "/"), string(ca)
	case s.HTTPSAddr() != "":
		return "https://" + s.HTTPSAddr(), string(ca)
	}
	return "http://" + s.HTTPAddr(), ""
}
