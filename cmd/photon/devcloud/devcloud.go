// Package devcloud wires the whole of Photon into one process: Redis (embedded unless a
// URL is given), simulated ESXi hosts each with its own hostd, the function runtime with
// every function on Redis Streams, and the gateway. Hosts registered through the API
// (POST /v1/infrastructure/hosts) get a simulated ESXi host and a hostd of their own too,
// started by the gateway's Provisioner. `photon up` runs it, and the end-to-end tests
// start it exactly as users do.
//
// The platform CA lives in the cloud's Redis. Each hostd joins as a separate one does:
// the cloud makes a join token for the host and the hostd redeems it at the join
// endpoint, served on a loopback HTTPS listener of its own (JoinURL), then registers and
// heartbeats its host through the registrar served there, with its host certificate; no
// hostd touches Redis. The functions and the gateway call hostds with service
// certificates from the CA.
package devcloud

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions"
	"github.com/photon-cloud/photon/functions/reconcile"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/gateway"
	"github.com/photon-cloud/photon/gateway/registrar"
	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/hostd/hollow"
	"github.com/photon-cloud/photon/hostd/hostdsim"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/cluster"
	"github.com/photon-cloud/photon/shared/devredis"
	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/notify/rules"
	"github.com/photon-cloud/photon/shared/nsxsim"
	"github.com/photon-cloud/photon/shared/part"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// DefaultImage is the image disk every simulated host's datastore holds.
const DefaultImage = "images/photon-os.vmdk"

// Options configure a dev cloud.
type Options struct {
	RedisURL string // empty: embedded Redis
	// WaitReplicas and WaitTimeout are what a write that starts a task waits for
	// (store.Store.WaitForReplicas; keyspace.DefaultReplicas when WaitReplicas is -1).
	WaitReplicas int
	WaitTimeout  time.Duration
	// ServiceReportEvery and ServiceReadyTimeout are how often a service's nodes report
	// and how long their first report is awaited (gateway.ServiceOptions defaults).
	ServiceReportEvery, ServiceReadyTimeout time.Duration
	Prefix                                  string // key prefix; default "photon:"
	Hosts                                   int    // simulated ESXi hosts; default 4 (none with HollowHosts)
	// HollowHosts are hollow hosts (package hollow) started besides: hostds whose host is
	// in memory, for scale tests; HollowLatency is each call's latency on them.
	HollowHosts   int
	HollowLatency hollow.Latency
	// HostCPUCores and HostMemoryGB size each simulated host (hostdsim.Options defaults).
	HostCPUCores int16
	HostMemoryGB int64
	HTTPAddr     string // default 127.0.0.1:9000
	GRPCAddr     string // default 127.0.0.1:9001
	AdminUser    string // default "admin"
	// AdminPassword: empty generates one.
	AdminPassword string
	// Workers, above 0, fixes each function's concurrency; 0 autoscales every function
	// (runtime.ScalingFor).
	Workers int
	// MaxInFlight bounds the chains in flight (gateway admission); 0 takes
	// gateway.DefaultMaxInFlight, below 0 admits everything.
	MaxInFlight int
	Heartbeat   time.Duration
	Logger      *slog.Logger
	// NSX is the NSX-T Manager subnets and routers are made on; an empty Manager starts a
	// simulator (Cloud.NSXSim), NoNSX runs without NSX (port-group subnets).
	NSX NSXConfig
	// EventsMaxAge bounds the outbound events stream (notify.Options.EventsMaxAge) and
	// DeadLetterMaxAge the broker's dead-letter stream; 0 takes their defaults, below 0
	// keeps what no group needs for ever. The task
	// retention is the gateway's (Gateway).
	EventsMaxAge, DeadLetterMaxAge time.Duration
	// Reconcile is the reconciler's timer and orphan policy (its Log is Logger's).
	Reconcile reconcile.Options
	// HTTPSAddr serves REST and gRPC over TLS (default 127.0.0.1:0, a free port), with
	// the certificate and key of TLSCertFile and TLSKeyFile, or else one from the platform
	// CA (gateway.NewTLS).
	HTTPSAddr               string
	TLSCertFile, TLSKeyFile string
	// SinkAllow are the networks subscription sinks may be in besides public addresses,
	// where plain http sinks are allowed too (egress.Policy); nil allows loopback
	// (egress.Loopback), where tests run their sinks. The gateway and the notifier share it.
	SinkAllow []netip.Prefix
	// Gateway, when set, adjusts the gateway's options (rate limits, audit retention,
	// an external OIDC provider) before it starts.
	Gateway func(context.Context, *gateway.Options) error
	// GuestDelay and GuestReportEvery say how the simulated guests of every host's VMs
	// phone home (hostdsim.GuestOptions): GuestDelay after a power-on (0: at once), then
	// every GuestReportEvery (0: every 2s; below 0: never again). They trust the roots of
	// the API's HTTPS certificate (TLS).
	GuestDelay, GuestReportEvery time.Duration
}

// DefaultGuestReportEvery is how often a simulated node re-reports when
// Options.GuestReportEvery is 0.
const DefaultGuestReportEvery = 2 * time.Second

// Cloud is a running dev cloud.
type Cloud struct {
	Store   *store.Store
	Gateway *gateway.Server
	// Sims, Hostds and HostIDs are the hosts started with the cloud: Options.Hosts
	// simulated ones, then Options.HollowHosts hollow ones, which have no Sims entry;
	// HostIDs[i] is the Photon id of Hostds[i] and, for a simulated host, of Sims[i].
	// Hosts registered through the API are not in them.
	Sims          []*hostdsim.Sim
	Hostds        []*hostd.Daemon
	HostIDs       []string
	Issuer        *auth.Issuer
	Broker        *events.RedisBroker
	AdminUser     string
	AdminPassword string
	// NSXSim is the NSX-T Manager simulator the cloud started (nil with a real manager or
	// without NSX).
	NSXSim *nsxsim.Server
	// CA is the platform CA; JoinURL is the base URL of its join and renew endpoints
	// (pki.Handler), where hostds get their certificates.
	CA      *pki.CA
	JoinURL string
	// HTTPSURL is the base URL of the API over TLS (https://127.0.0.1:PORT); TLS holds the
	// roots that verify it (TLS.Pool, TLS.PEM, TLS.Pin): the platform CA unless
	// Options.TLSCertFile was given.
	HTTPSURL string
	TLS      *gateway.TLS
	// Feed tails the outbound events for the gateway's event stream.
	Feed *notify.Feed

	opts     Options
	mu       sync.Mutex
	running  map[string]*simHost // every host's simulator and hostd, by host id
	closed   bool
	embedded *devredis.Server
	rdb      redis.UniversalClient
	fns      *functions.Set
	local    *runtime.Local
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	joiner   *pki.Joiner
	joinSrv  *http.Server
	regSrv   *grpc.Server
	notifier *notify.Service
	rules    *rules.Engine

	// guestRoots (under mu) are the roots the simulated guests trust: the platform CA's
	// until the gateway has started, then those of its HTTPS certificate (TLS.Pool).
	guestRoots *x509.CertPool
}

// Start brings the dev cloud up. Close takes it down.
func Start(ctx context.Context, o Options) (c *Cloud, err error) {
	if o.Hosts <= 0 && o.HollowHosts <= 0 {
		o.Hosts = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.GuestReportEvery == 0 {
		o.GuestReportEvery = DefaultGuestReportEvery
	}
	cloud := &Cloud{AdminUser: orDefault(o.AdminUser, "admin"), AdminPassword: o.AdminPassword, opts: o,
		running: map[string]*simHost{}}
	c = cloud
	defer func() {
		if err != nil { // a failed step's "return nil, err" has cleared c
			cloud.Close(context.WithoutCancel(ctx))
		}
	}()
	if o.RedisURL == "" {
		restore := part.Enter(ctx, part.Redis) // its connections
		c.embedded, err = devredis.Start()
		restore()
		if err != nil {
			return nil, fmt.Errorf("embedded redis: %w", err)
		}
		o.RedisURL = c.embedded.URL()
	}
	if c.rdb, err = keyspace.Open(ctx, o.RedisURL, 128); err != nil {
		return nil, err
	}
	if _, _, err := store.Migrate(ctx, c.rdb, cmp.Or(o.Prefix, store.DefaultPrefix)); err != nil {
		return nil, err
	}
	store.Instrument(c.rdb)
	c.Store = store.New(c.rdb, o.Prefix).WaitForReplicas(keyspace.DefaultReplicas(o.RedisURL, o.WaitReplicas), o.WaitTimeout)
	if err := c.startJoin(ctx); err != nil {
		return nil, err
	}

	for i := range max(o.Hosts, 0) + max(o.HollowHosts, 0) {
		h, err := c.startHost(ctx, model.Host{ID: uuid.NewString()}, i >= max(o.Hosts, 0), o.Logger.With("host", i))
		if err != nil {
			return nil, fmt.Errorf("host %d: %w", i, err)
		}
		if h.sim != nil {
			c.Sims = append(c.Sims, h.sim)
		}
		c.Hostds = append(c.Hostds, h.hostd)
		c.HostIDs = append(c.HostIDs, h.hostd.ID())
	}

	c.Broker = events.NewRedisBroker(c.rdb, c.Store.Prefix(), o.Logger)
	if o.DeadLetterMaxAge != 0 {
		c.Broker.DeadLetterMaxAge = o.DeadLetterMaxAge
	}
	nsxClient, nsxConf, err := c.startNSX(ctx, o.NSX)
	if err != nil {
		return nil, fmt.Errorf("nsx: %w", err)
	}
	checks := map[string]gateway.Check{}
	if nsxClient != nil {
		checks[gateway.ComponentNSX] = NSXCheck(nsxConf)
	}
	fnTLS, err := c.CA.ServiceClientTLS("functions")
	if err != nil {
		return nil, err
	}
	o.Reconcile.Log = o.Logger
	c.fns = functions.New(c.Store, functions.WithNSX(nsxClient), functions.WithHostTLS(fnTLS), functions.WithReconcile(o.Reconcile),
		functions.WithCA(c.CA))
	c.fns.Runtime.Log = o.Logger
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	local := &runtime.Local{Runtime: c.fns.Runtime, Broker: c.Broker, Workers: o.Workers}
	c.local = local
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := local.Run(runCtx, c.fns.Functions...); err != nil {
			o.Logger.Error("function runtime stopped", "err", err)
		}
	}()

	key, err := auth.LoadOrCreateKey(ctx, c.rdb, c.Store.Prefix())
	if err != nil {
		return nil, err
	}
	c.Issuer = auth.NewIssuer(key, "photon", 8*time.Hour)
	users := auth.NewUsers(c.rdb, c.Store.Prefix())
	if c.AdminPassword == "" {
		b := make([]byte, 9)
		rand.Read(b)
		c.AdminPassword = hex.EncodeToString(b)
	}
	if err := users.Put(ctx, c.AdminUser, c.AdminPassword, []string{policy.SystemAdminsGroup}); err != nil {
		return nil, err
	}
	sinks := &egress.Policy{Allow: o.SinkAllow}
	if o.SinkAllow == nil {
		sinks.Allow = egress.Loopback
	}
	gwTLS, err := c.CA.ServiceClientTLS("gateway")
	if err != nil {
		return nil, err
	}
	c.Feed = notify.NewFeed(c.rdb, c.Store.Prefix(), o.Logger)
	gwo := gateway.Options{Store: c.Store, Broker: c.Broker, Issuer: c.Issuer, Users: users,
		HTTPAddr: orDefault(o.HTTPAddr, "127.0.0.1:9000"), GRPCAddr: orDefault(o.GRPCAddr, "127.0.0.1:9001"), Logger: o.Logger,
		Admission: store.Admission{Limit: maxInFlight(o.MaxInFlight)}, Provisioner: provisioner{c},
		Checks: checks, HostTLS: gwTLS, Sinks: sinks, Feed: c.Feed, HTTPSAddr: orDefault(o.HTTPSAddr, "127.0.0.1:0"),
		Services: gateway.ServiceOptions{SealKey: c.CA.SecretKey(cluster.SealPurpose), TokenKey: c.CA.SecretKey(cluster.TokenPurpose),
			ReportEvery: o.ServiceReportEvery, ReadyTimeout: o.ServiceReadyTimeout}}
	if o.Gateway != nil {
		if err = o.Gateway(ctx, &gwo); err != nil {
			return nil, err
		}
	}
	if gwo.TLS == nil {
		if gwo.TLS, err = gateway.NewTLS(c.CA, o.TLSCertFile, o.TLSKeyFile, gwo.HTTPSAddr, gwo.PublicURL); err != nil {
			return nil, err
		}
	}
	c.Gateway, err = gateway.Start(ctx, gwo)
	if err != nil {
		return nil, err
	}
	c.HTTPSURL, c.TLS = "https://"+c.Gateway.HTTPSAddr(), gwo.TLS
	c.setGuestRoots(c.TLS.Pool())
	if c.rules, err = rules.Start(ctx, c.rdb, c.Store.Prefix(), c.Store, c.Gateway, rules.Options{Logger: o.Logger}); err != nil {
		return nil, err
	}
	if c.notifier, err = notify.Start(ctx, c.rdb, c.Store.Prefix(), c.Store, notify.Options{Logger: o.Logger, EventsMaxAge: o.EventsMaxAge, Sinks: sinks}); err != nil {
		return nil, err
	}
	return c, nil
}

func maxInFlight(n int) int {
	switch {
	case n == 0:
		return gateway.DefaultMaxInFlight
	case n < 0:
		return 0
	}
	return n
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Redis is the client the cloud's parts share, for tools and tests that watch Redis
// itself (its memory, a function's stream): the store hands out no client.
func (c *Cloud) Redis() redis.UniversalClient { return c.rdb }

// Scales reports each function's autoscaler (empty with fixed Workers).
func (c *Cloud) Scales() map[string]runtime.ScaleStat { return c.local.Scales() }

// AdminToken signs a token for the administrator.
func (c *Cloud) AdminToken() (string, error) {
	tok, _, err := c.Issuer.Sign(auth.Principal{Subject: c.AdminUser, Groups: []string{policy.SystemAdminsGroup}})
	return tok, err
}

// HTTPSClient is an HTTP client that trusts the API's certificate (TLS.Pool), for
// HTTPSURL.
func (c *Cloud) HTTPSClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.TLS.Pool()}
	return &http.Client{Transport: t}
}

// BreakGuest makes the simulated guest of VM vmID report no more, on whichever host has
// the VM (hostdsim.Sim.BreakGuest): a node that stopped answering.
func (c *Cloud) BreakGuest(vmID string) {
	c.mu.Lock()
	sims := c.runningSims()
	c.mu.Unlock()
	for _, s := range sims {
		s.BreakGuest(vmID)
	}
}

// setGuestRoots has every simulated guest, of the hosts running and of those started
// later, trust roots.
func (c *Cloud) setGuestRoots(roots *x509.CertPool) {
	c.mu.Lock()
	c.guestRoots = roots
	sims := c.runningSims()
	c.mu.Unlock()
	for _, s := range sims {
		s.SetGuestRootCAs(roots)
	}
}

// runningSims are the simulators of the hosts running now; c.mu is held.
func (c *Cloud) runningSims() []*hostdsim.Sim {
	sims := make([]*hostdsim.Sim, 0, len(c.running))
	for _, h := range c.running {
		if h.sim != nil {
			sims = append(sims, h.sim)
		}
	}
	return sims
}

// Close stops everything in reverse order of starting.
func (c *Cloud) Close(ctx context.Context) error {
	var errsOut []error
	if c.notifier != nil {
		errsOut = append(errsOut, c.notifier.Close(ctx))
	}
	if c.rules != nil {
		errsOut = append(errsOut, c.rules.Close(ctx))
	}
	if c.Gateway != nil {
		errsOut = append(errsOut, c.Gateway.Close(ctx))
	}
	if c.cancel != nil {
		c.cancel()
		c.wg.Wait()
	}
	if c.fns != nil {
		c.fns.Close()
	}
	c.mu.Lock()
	c.closed = true
	running := c.running
	c.running = nil
	c.mu.Unlock()
	for _, h := range running {
		errsOut = append(errsOut, h.close())
	}
	if c.joinSrv != nil {
		c.joinSrv.Close()
		c.regSrv.Stop()
	}
	if c.NSXSim != nil {
		c.NSXSim.Close()
	}
	if c.rdb != nil {
		c.rdb.Close()
	}
	if c.embedded != nil {
		c.embedded.Close()
	}
	return errors.Join(errsOut...)
}

// simHost is a simulated ESXi host (or a hollow one, sim nil) and the hostd that drives
// it, with its connection to the registrar.
type simHost struct {
	sim   *hostdsim.Sim
	hostd *hostd.Daemon
	reg   *grpc.ClientConn
}

func (h *simHost) close() error {
	err := h.hostd.Close()
	h.reg.Close()
	if h.sim != nil {
		h.sim.Close()
	}
	return err
}

// startHost starts a simulated ESXi host, or a hollow one, and its hostd, which
// registers it as h (its id, zone and usage tags, CLOUD when none, as `photon hostd`
// does) through the registrar.
func (c *Cloud) startHost(ctx context.Context, h model.Host, hollowHost bool, log *slog.Logger) (*simHost, error) {
	o := c.opts
	if len(h.Tags) == 0 {
		h.Tags = []string{model.HostTagCloud}
	}
	c.mu.Lock()
	roots := c.guestRoots
	c.mu.Unlock()
	var sim *hostdsim.Sim
	closeSim := func() {}
	if !hollowHost {
		every := max(o.GuestReportEvery, 0)
		var err error
		restore := part.Enter(ctx, part.Simulator) // vcsim's server and its simulated guests
		sim, err = hostdsim.StartWith(ctx, hostdsim.Options{CPUCores: o.HostCPUCores, MemoryGB: o.HostMemoryGB, Images: []string{DefaultImage},
			Guest: hostdsim.GuestOptions{Delay: o.GuestDelay, ReportEvery: every, RootCAs: roots}})
		restore()
		if err != nil {
			return nil, fmt.Errorf("simulated host: %w", err)
		}
		closeSim = sim.Close
	}
	cred, err := c.join(ctx, h.ID)
	if err != nil {
		closeSim()
		return nil, err
	}
	restore := part.Enter(ctx, part.Hostd) // the connection's goroutines: its heartbeats
	reg, err := hostd.DialRegistrar(c.JoinURL, cred.EndpointClientTLS())
	restore()
	if err != nil {
		closeSim()
		return nil, err
	}
	ho := hostd.Options{ID: h.ID, ListenAddr: "127.0.0.1:0", AvailabilityZone: h.AvailabilityZone, Tags: h.Tags,
		Heartbeat: o.Heartbeat, Registrar: hostdv1.NewRegistrarClient(reg), Logger: log, TLS: cred.ServerTLS()}
	var d *hostd.Daemon
	if hollowHost {
		d, err = hostd.StartBackend(ctx, ho, hollow.New(hollow.Options{Name: "hollow-" + h.ID, CPUCores: int32(o.HostCPUCores),
			MemoryGB: o.HostMemoryGB, Images: []string{DefaultImage}, Latency: o.HollowLatency}))
	} else {
		ho.URL, ho.Insecure, ho.FileOps, ho.QualifyLocalDatastores = sim.URL, true, 1, true
		d, err = hostd.Start(ctx, ho)
	}
	if err != nil {
		reg.Close()
		closeSim()
		return nil, fmt.Errorf("hostd: %w", err)
	}
	sh := &simHost{sim: sim, hostd: d, reg: reg}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		sh.close()
		return nil, errors.New("the dev cloud is closing")
	}
	c.running[h.ID] = sh
	if sim != nil && c.guestRoots != roots { // the gateway started meanwhile
		sim.SetGuestRootCAs(c.guestRoots)
	}
	return sh, nil
}

// startJoin loads the platform CA and serves its join and renew endpoints and the host
// registrar on a loopback HTTPS listener.
func (c *Cloud) startJoin(ctx context.Context) error {
	defer part.Enter(ctx, part.Registrar)() // the join endpoint's and the registrar's connections
	ca, err := pki.LoadOrCreateCA(ctx, c.rdb, c.Store.Prefix())
	if err != nil {
		return err
	}
	c.CA, c.joiner = ca, pki.NewJoiner(ca, c.rdb, c.Store.Prefix())
	c.mu.Lock()
	c.guestRoots = ca.Pool()
	c.mu.Unlock()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for joins: %w", err)
	}
	c.regSrv = registrar.NewServer(registrar.New(c.Store, ca))
	if c.joinSrv, err = c.joiner.ServeWith(ln, c.regSrv, "127.0.0.1", "localhost"); err != nil {
		ln.Close()
		return err
	}
	c.JoinURL = "https://" + ln.Addr().String()
	return nil
}

// join makes a join token for host id and redeems it at the join endpoint as the host's
// hostd, which the dev cloud dials at 127.0.0.1.
func (c *Cloud) join(ctx context.Context, id string) (*pki.Host, error) {
	token, err := c.joiner.CreateJoinToken(ctx, id, time.Minute)
	if err != nil {
		return nil, err
	}
	h, err := pki.Enroll(ctx, pki.EnrollOptions{JoinURL: c.JoinURL, Token: token, Pin: c.CA.Pin(), Names: []string{"127.0.0.1"}})
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", id, err)
	}
	return h, nil
}

// provisioner is the gateway's Provisioner in the dev cloud: a host registered through
// the API gets a simulated ESXi host and a hostd of its own, as the hosts started with
// the cloud do (the credentials are not needed to reach a simulator).
type provisioner struct{ c *Cloud }

func (p provisioner) Provision(ctx context.Context, h model.Host, cred gateway.HostCredentials) error {
	p.c.mu.Lock()
	_, running := p.c.running[h.ID] // a gateway took over the provisioning of a host started already
	p.c.mu.Unlock()
	if running {
		return nil
	}
	_, err := p.c.startHost(ctx, h, false, p.c.opts.Logger.With("host", h.ID, "address", cred.Address))
	return err
}

// Deprovision stops a deleted host's hostd and simulator (started with the cloud or
// through the API alike), so that it no longer heartbeats.
func (p provisioner) Deprovision(_ context.Context, id string) error {
	p.c.mu.Lock()
	h := p.c.running[id]
	delete(p.c.running, id)
	p.c.mu.Unlock()
	if h == nil {
		return nil
	}
	return h.close()
}

// TuneGC sets the garbage collector for a control-plane process unless GOGC or
// GOMEMLIMIT say otherwise: collect at 4× the live heap instead of 2× (the heap is small
// and churns fast, so the default spends a tenth of the CPU collecting), with a soft
// limit of half the machine's memory so that the wider target never runs it out.
func TuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		var si syscall.Sysinfo_t
		if err := syscall.Sysinfo(&si); err == nil && si.Totalram > 0 {
			debug.SetMemoryLimit(int64(si.Totalram) * int64(si.Unit) / 2)
		}
	}
}
