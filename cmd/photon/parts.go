package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/gateway"
	"github.com/photon-cloud/photon/gateway/registrar"
	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/hostd/hollow"
	"github.com/photon-cloud/photon/hostd/hostdsim"
	"github.com/photon-cloud/photon/metrics"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/cluster"
	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/notify/rules"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/tracing"
)

// common flags of the separately run parts.
type partFlags struct {
	redisURL, trace, otlp, logLevel string
	waitReplicas                    int
	waitTimeout                     time.Duration
}

// redisHelp is the --redis flag's help, the same for every part.
const redisHelp = "Redis URL: redis://host:port for one server, redis+cluster://host:port,host:port,... " +
	"for a Redis Cluster, redis+sentinel://host:port,.../<primary> for a Sentinel-watched primary"

func (p *partFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&p.redisURL, "redis", "redis://127.0.0.1:6379", redisHelp)
	addWaitFlags(cmd, &p.waitReplicas, &p.waitTimeout)
	p.addObservability(cmd)
}

// addWaitFlags adds the flags of how many replicas a write that starts a task waits for.
func addWaitFlags(cmd *cobra.Command, n *int, timeout *time.Duration) {
	cmd.Flags().IntVar(n, "redis-wait-replicas", -1, "replicas that must have a write that starts a task before the "+
		"call that made it is answered (Redis WAIT); -1: 1 with a cluster or Sentinel URL, 0 with one server")
	cmd.Flags().DurationVar(timeout, "redis-wait-timeout", store.DefaultReplicaTimeout, "how long such a write waits for its replicas before the call fails as unavailable")
}

// addObservability adds the flags of the parts that have no Redis (hostd).
func (p *partFlags) addObservability(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.trace, "trace", "none", "trace exporter: none, stdout or otlp")
	f.StringVar(&p.otlp, "otlp-endpoint", "", "OTLP gRPC endpoint host:port")
	f.StringVar(&p.logLevel, "log-level", "info", "log level")
}

// metricsFlag is --metrics-addr, where the parts without an HTTP listener of their own
// (hostd, a function on Redis Streams, the notifier) serve GET /metrics.
type metricsFlag struct{ addr string }

func (m *metricsFlag) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&m.addr, "metrics-addr", "", "serve Prometheus metrics at GET /metrics on this address, without login (default: none)")
}

// serve serves the metrics when --metrics-addr is given; stop ends it.
func (m *metricsFlag) serve(part string) (stop func(), err error) {
	if m.addr == "" {
		return func() {}, nil
	}
	addr, stop, err := metrics.Serve(m.addr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stdout, "%s: metrics on http://%s%s\n", part, addr, metrics.Path)
	return stop, nil
}

// open connects to Redis and returns the store on it with the client itself: the part
// hands the client and s.Prefix() to the small stores it wires (auth, pki, the broker,
// the notifier), since the store hands out no client.
func (p *partFlags) open(ctx context.Context, service string) (*store.Store, redis.UniversalClient, func(), error) {
	shutdown, err := tracing.Setup(ctx, tracing.Options{Exporter: p.trace, Endpoint: p.otlp, Service: service})
	if err != nil {
		return nil, nil, nil, err
	}
	rdb, err := openRedis(ctx, p.redisURL)
	if err != nil {
		return nil, nil, nil, err
	}
	s := store.New(rdb, "").WaitForReplicas(keyspace.DefaultReplicas(p.redisURL, p.waitReplicas), p.waitTimeout)
	return s, rdb, func() { rdb.Close(); shutdown(context.Background()) }, nil
}

func openRedis(ctx context.Context, redisURL string) (redis.UniversalClient, error) {
	rdb, err := keyspace.Open(ctx, redisURL, 0)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, rdb, store.DefaultPrefix); err != nil {
		rdb.Close()
		return nil, err
	}
	store.Instrument(rdb)
	return rdb, nil
}

// migrate brings the keys an earlier Photon wrote to this one's layout (store.Migrate),
// before the part reads any.
func migrate(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	moved, kept, err := store.Migrate(ctx, rdb, prefix)
	if err != nil {
		return err
	}
	if moved+kept > 0 {
		fmt.Fprintf(os.Stderr, "redis: moved %d keys to the hash-tagged layout (%d left: their new names exist)\n", moved, kept)
	}
	return nil
}

// hostTLS loads the platform CA from rdb under prefix and makes the client config with
// which service calls hostds: a certificate issued now and renewed in memory.
func hostTLS(ctx context.Context, rdb redis.UniversalClient, prefix, service string) (*pki.CA, *tls.Config, error) {
	ca, err := pki.LoadOrCreateCA(ctx, rdb, prefix)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := ca.ServiceClientTLS(service)
	if err != nil {
		return nil, nil, err
	}
	return ca, cfg, nil
}

func hostdCmd() *cobra.Command {
	var p partFlags
	var j joinFlags
	var o hostd.Options
	var esx string
	var sim bool
	var simListen string
	var hol hollowFlags
	var dsTags []string
	var mf metricsFlag
	cmd := &cobra.Command{
		Use:   "hostd",
		Short: "Run the daemon that drives one ESXi host",
		Long: `Runs the daemon that drives one ESXi host. hostd serves functions and the gateway over
mutual TLS only, with a certificate from the platform CA. The first start joins: an
administrator makes a one-time join token for the host (photon hostd join-token), and
hostd redeems it at the join endpoint (photon gateway --join-listen) for a certificate
that names the host. With --cert-dir the key and certificate are kept, so later starts
need no token; hostd renews the certificate in the background before it expires.

hostd has no access to the control plane's Redis: it registers the host and heartbeats
its usage and its VMs' power states to the registrar served at --join-url, over mutual
TLS with the host's certificate, which says which host reports. While the control plane
is unreachable hostd serves on and tries again at every heartbeat.

With --sim, hostd drives a simulated ESXi host (govmomi's vcsim) inside its own process,
empty at every start: when hostd stops or restarts, the simulated host and the VMs and
disks on it are lost, while the control plane still records them. --sim-listen serves the
simulator's SDK at a known address (printed at start) for tools that inspect the host
directly, e.g. govc or a test harness.

With --hollow, hostd serves a hollow host instead: one kept in memory (package
hostd/hollow), a few hundred bytes per VM, that answers every call as an ESXi host would
and does no other work. It is for scale tests of the control plane; its VMs run no guest
and are lost when hostd stops. --hollow-cpus, --hollow-memory-gb and --hollow-datastore-gb
size it; --hollow-latency P50[,P99] gives each call a latency (one value: fixed; two:
log-normal with that median and 99th percentile).`,
		Example: `  # an administrator first makes the host's one-time token: photon hostd join-token --help
  photon hostd --esx https://root:pass@esx1.example.com/sdk --listen 0.0.0.0:8835 --advertise 10.0.0.11:8835 \
    --join-url https://gateway.example.com:9002 --ca-pin sha256:... --join-token ... --cert-dir /var/lib/photon-hostd
  photon hostd --sim --join-url https://127.0.0.1:9002 --ca-pin sha256:... --join-token ... --datastore-tag LocalDS_0=SSD,GOLD
  photon hostd --sim --sim-listen 127.0.0.1:8989 --join-url https://127.0.0.1:9002 --ca-pin sha256:... --join-token ... --cert-dir /tmp/host1
  photon hostd --hollow --hollow-cpus 64 --hollow-latency 2ms,20ms --join-url https://127.0.0.1:9002 --ca-pin sha256:... --join-token ...`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			shutdown, err := tracing.Setup(ctx, tracing.Options{Exporter: p.trace, Endpoint: p.otlp, Service: "photon-hostd"})
			if err != nil {
				return err
			}
			defer shutdown(context.Background())
			stopMetrics, err := mf.serve("hostd")
			if err != nil {
				return err
			}
			defer stopMetrics()
			var backend hostd.Backend
			switch {
			case hol.on:
				if sim || esx != "" {
					return fmt.Errorf("give one of --esx, --sim and --hollow")
				}
				if backend, err = hol.host(); err != nil {
					return err
				}
			case sim:
				sm, err := hostdsim.StartWith(ctx, hostdsim.Options{Images: []string{"images/photon-os.vmdk"}, Listen: simListen})
				if err != nil {
					return err
				}
				defer sm.Close()
				fmt.Fprintf(os.Stdout, "hostd: simulated ESXi host SDK at %s\n", sm.URL)
				o.URL, o.Insecure, o.FileOps, o.QualifyLocalDatastores = sm.URL, true, 1, true
			case esx != "":
				if o.URL, err = url.Parse(esx); err != nil {
					return err
				}
			default:
				return fmt.Errorf("give --esx URL, --sim or --hollow")
			}
			if o.DatastoreTags, err = datastoreTags(dsTags); err != nil {
				return err
			}
			o.Logger = logger(p.logLevel)
			cred, err := j.enroll(ctx, &o)
			if err != nil {
				return err
			}
			reg, err := hostd.DialRegistrar(j.url, cred.EndpointClientTLS())
			if err != nil {
				return err
			}
			defer reg.Close()
			o.Registrar = hostdv1.NewRegistrarClient(reg)
			var d *hostd.Daemon
			if backend != nil {
				d, err = hostd.StartBackend(ctx, o, backend)
			} else {
				d, err = hostd.Start(ctx, o)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "hostd %s serving on %s\n", o.ID, d.Addr())
			<-ctx.Done()
			return d.Close()
		},
	}
	p.addObservability(cmd)
	mf.add(cmd)
	f := cmd.Flags()
	f.StringVar(&esx, "esx", "", "ESXi SDK URL with credentials, https://user:pass@host/sdk")
	f.BoolVar(&sim, "sim", false, "drive a simulated ESXi host in this process, empty at each start: it and its VMs are lost when hostd restarts")
	f.StringVar(&simListen, "sim-listen", "", "with --sim, serve the simulated host's SDK on this address (default: a free loopback port)")
	hol.add(cmd)
	f.BoolVar(&o.Insecure, "insecure", false, "skip verifying the host's TLS certificate")
	f.StringVar(&o.ID, "id", "", "host id: the id the API gave a host registered with POST /v1/infrastructure/hosts; it must be the one the join token was made for (default: that one)")
	f.StringVar(&o.ListenAddr, "listen", "127.0.0.1:0", "gRPC listen address")
	f.StringVar(&o.AdvertiseAddr, "advertise", "", "address functions dial to reach this hostd (default: the listen address)")
	f.StringVar(&o.AvailabilityZone, "zone", "", "availability zone id (an administrator's set_availability_zone wins)")
	f.StringSliceVar(&o.Tags, "tags", []string{"CLOUD"}, "host usage tags")
	f.DurationVar(&o.Heartbeat, "heartbeat", 10*time.Second, "heartbeat interval")
	f.StringArrayVar(&dsTags, "datastore-tag", nil, "NAME=TAG[,TAG...]: tags for the datastore NAME besides those of its type (repeatable)")
	j.add(cmd)
	cmd.AddCommand(joinTokenCmd())
	return cmd
}

// hollowFlags describe the hollow host `photon hostd --hollow` serves.
type hollowFlags struct {
	on                    bool
	cpus                  int32
	memoryGB, datastoreGB int64
	latency               string
}

func (h *hollowFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&h.on, "hollow", false, "serve a hollow host, kept in memory, for scale tests: no guest runs, and it is lost when hostd stops")
	f.Int32Var(&h.cpus, "hollow-cpus", 32, "with --hollow, the host's CPU cores")
	f.Int64Var(&h.memoryGB, "hollow-memory-gb", 256, "with --hollow, the host's memory in GB")
	f.Int64Var(&h.datastoreGB, "hollow-datastore-gb", 1024, "with --hollow, the size of its datastore LocalDS_0 in GB")
	f.StringVar(&h.latency, "hollow-latency", "", "with --hollow, each call's latency: P50 (fixed) or P50,P99 (log-normal), e.g. 2ms or 2ms,20ms (default none)")
}

// host is the hollow host the flags describe, with the dev cloud's image disk.
func (h *hollowFlags) host() (*hollow.Host, error) {
	lat, err := hollow.ParseLatency(h.latency)
	if err != nil {
		return nil, fmt.Errorf("--hollow-latency: %w", err)
	}
	if h.cpus <= 0 || h.memoryGB <= 0 || h.datastoreGB <= 0 {
		return nil, errors.New("--hollow-cpus, --hollow-memory-gb and --hollow-datastore-gb must be above 0")
	}
	return hollow.New(hollow.Options{CPUCores: h.cpus, MemoryGB: h.memoryGB, DatastoreGB: h.datastoreGB,
		Images: []string{"images/photon-os.vmdk"}, Latency: lat}), nil
}

// joinFlags are how hostd gets and keeps its certificate from the platform CA.
type joinFlags struct {
	url, token, pin, dir string
	names                []string
}

func (j *joinFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&j.url, "join-url", "", "base URL of the platform's join endpoint, https://HOST:PORT (photon gateway --join-listen); renewals, registration and heartbeats go there too")
	f.StringVar(&j.token, "join-token", "", "one-time join token for this host (photon hostd join-token); needed when --cert-dir holds no unexpired certificate")
	f.StringVar(&j.pin, "ca-pin", "", "the platform CA's pin, sha256:HEX (photon hostd join-token prints it): how joining trusts the endpoint")
	f.StringVar(&j.dir, "cert-dir", "", "directory that keeps the host key, certificate and CA across restarts (default: none, join at every start)")
	f.StringSliceVar(&j.names, "san", nil, "more IP addresses or DNS names functions may dial this hostd at (default: the host of --advertise, else of --listen)")
}

// enroll gets the host's certificate (kept, or by joining), sets o's TLS and id from it,
// and renews it in the background (logging to o.Logger) until ctx ends.
func (j *joinFlags) enroll(ctx context.Context, o *hostd.Options) (*pki.Host, error) {
	if j.url == "" {
		return nil, errors.New("--join-url is required: hostd serves only mutual TLS, with a certificate from the platform CA")
	}
	names := append(dialNames(orDefault(o.AdvertiseAddr, o.ListenAddr)), j.names...)
	if len(names) == 0 {
		return nil, errors.New("give --advertise or --san: the certificate must name the address functions dial")
	}
	cred, err := pki.Enroll(ctx, pki.EnrollOptions{JoinURL: j.url, Token: j.token, Pin: j.pin, Names: names, Dir: j.dir})
	if err != nil {
		return nil, err
	}
	if o.ID != "" && o.ID != cred.ID() {
		return nil, fmt.Errorf("--id %s, but the host certificate is host %s's", o.ID, cred.ID())
	}
	o.ID, o.TLS = cred.ID(), cred.ServerTLS()
	go cred.KeepRenewed(ctx, j.url, o.Logger)
	return cred, nil
}

// dialNames is the host of addr when others can dial it (not 0.0.0.0 nor ::).
func dialNames(addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return nil
	}
	return []string{host}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// joinTokenCmd makes a join token, as an administrator does for each new host.
func joinTokenCmd() *cobra.Command {
	var redisURL, host, joinURL string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "join-token",
		Short: "Make a one-time token with which the hostd of a host joins the platform",
		Long: `Makes a one-time join token for a host and prints it with the platform CA's pin. The
hostd of that host redeems it once, within --ttl, for a certificate that names the host
(whatever its request asks for). The token is stored in Redis only as a hash.`,
		Example: `  photon hostd join-token --redis redis://redis:6379 --host 3f6c2a1e-... --join-url https://gateway.example.com:9002`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			rdb, err := openRedis(ctx, redisURL)
			if err != nil {
				return err
			}
			defer rdb.Close()
			s := store.New(rdb, "")
			ca, err := pki.LoadOrCreateCA(ctx, rdb, s.Prefix())
			if err != nil {
				return err
			}
			if host == "" {
				host = uuid.NewString()
			}
			token, err := pki.NewJoiner(ca, rdb, s.Prefix()).CreateJoinToken(ctx, host, ttl)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "host:   %s\ntoken:  %s (one use, expires in %s)\nca-pin: %s\n\n"+
				"photon hostd --id %s --join-url %s --join-token %s --ca-pin %s --cert-dir DIR ...\n",
				host, token, ttl, ca.Pin(), host, orDefault(joinURL, "https://GATEWAY:9002"), token, ca.Pin())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&redisURL, "redis", "redis://127.0.0.1:6379", redisHelp)
	f.StringVar(&host, "host", "", "the host's id: the id POST /v1/infrastructure/hosts gave it (default: a new one)")
	f.DurationVar(&ttl, "ttl", time.Hour, "how long the token may be redeemed")
	f.StringVar(&joinURL, "join-url", "", "the join endpoint's base URL, for the command line printed")
	return cmd
}

// datastoreTags reads --datastore-tag values, NAME=TAG[,TAG...], into tags by name.
func datastoreTags(flags []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range flags {
		name, tags, ok := strings.Cut(f, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("--datastore-tag %q: want NAME=TAG[,TAG...]", f)
		}
		for _, t := range strings.Split(tags, ",") {
			if t = strings.TrimSpace(t); t != "" {
				out[name] = append(out[name], t)
			}
		}
	}
	return out, nil
}

func gatewayCmd() *cobra.Command {
	var p partFlags
	var httpAddr, grpcAddr, adminUser, adminPassword, joinAddr string
	var joinNames []string
	var maxInFlight int
	var brokerURL string
	var sec securityFlags
	var sinks sinkFlags
	var tf tlsFlags
	cmd := &cobra.Command{
		Use:     "gateway",
		Short:   "Run the API gateway (gRPC and REST)",
		Example: `  photon gateway --redis redis://127.0.0.1:6379 --admin-password secret`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, rdb, closeFn, err := p.open(ctx, "photon-gateway")
			if err != nil {
				return err
			}
			defer closeFn()
			key, err := auth.LoadOrCreateKey(ctx, rdb, s.Prefix())
			if err != nil {
				return err
			}
			users := auth.NewUsers(rdb, s.Prefix())
			if adminPassword != "" {
				if err := users.Put(ctx, adminUser, adminPassword, []string{policy.SystemAdminsGroup}); err != nil {
					return err
				}
			}
			ca, hostsTLS, err := hostTLS(ctx, rdb, s.Prefix(), "gateway")
			if err != nil {
				return err
			}
			o := gateway.Options{Store: s, Broker: events.NewRedisBroker(rdb, s.Prefix(), logger(p.logLevel)),
				Issuer: auth.NewIssuer(key, "photon", 8*time.Hour), Users: users,
				HTTPAddr: httpAddr, GRPCAddr: grpcAddr, Logger: logger(p.logLevel),
				Admission: store.Admission{Limit: maxInFlight}, HostTLS: hostsTLS, Feed: notify.NewFeed(rdb, s.Prefix(), logger(p.logLevel)),
				Services: gateway.ServiceOptions{SealKey: ca.SecretKey(cluster.SealPurpose), TokenKey: ca.SecretKey(cluster.TokenPurpose)}}
			if brokerURL != "" {
				if o.Broker, err = events.NewHTTPBroker(brokerURL); err != nil {
					return err
				}
			}
			if err := sec.apply(ctx, &o); err != nil {
				return err
			}
			if o.Sinks, err = sinks.policy(); err != nil {
				return err
			}
			if o.HTTPSAddr = tf.addr; o.HTTPSAddr != "" {
				if o.TLS, err = gateway.NewTLS(ca, tf.cert, tf.key, o.HTTPSAddr, o.PublicURL); err != nil {
					return err
				}
			}
			g, err := gateway.Start(ctx, o)
			if err != nil {
				return err
			}
			// The rule engine acts through this gateway, as each rule's owner.
			en, err := rules.Start(ctx, rdb, s.Prefix(), s, g, rules.Options{Logger: o.Logger})
			if err != nil {
				g.Close(context.WithoutCancel(ctx))
				return err
			}
			fmt.Fprintf(os.Stdout, "gateway: REST on %s, gRPC on %s\n", g.HTTPAddr(), g.GRPCAddr())
			if o.TLS != nil {
				fmt.Fprintf(os.Stdout, "gateway: REST and gRPC over TLS on %s (CA pin %s)\n", g.HTTPSAddr(), o.TLS.Pin())
			}
			if joinAddr != "" {
				stop, err := serveJoin(pki.NewJoiner(ca, rdb, s.Prefix()), registrar.New(s, ca), joinAddr, joinNames)
				if err != nil {
					en.Close(context.WithoutCancel(ctx))
					g.Close(context.WithoutCancel(ctx))
					return err
				}
				defer stop()
			}
			<-ctx.Done()
			closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return errors.Join(en.Close(closeCtx), g.Close(closeCtx))
		},
	}
	p.add(cmd)
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:9000", "REST listen address")
	cmd.Flags().StringVar(&grpcAddr, "grpc", "127.0.0.1:9001", "gRPC listen address")
	cmd.Flags().StringVar(&adminUser, "admin-user", "admin", "system administrator to create or update when --admin-password is given")
	cmd.Flags().StringVar(&adminPassword, "admin-password", "", "set the system administrator's password")
	cmd.Flags().IntVar(&maxInFlight, "max-in-flight", gateway.DefaultMaxInFlight, "operations in flight at most, across all gateways, before the API answers 429 (0: no bound)")
	cmd.Flags().StringVar(&joinAddr, "join-listen", "127.0.0.1:9002", "HTTPS listen address of the join and renew endpoints hostds get their certificates from, and of the registrar they report their hosts to (empty: none)")
	cmd.Flags().StringVar(&brokerURL, "broker-url", os.Getenv("K_SINK"), "publish chain events to this Knative Broker ingress URL instead of Redis Streams (default: $K_SINK)")
	sec.add(cmd)
	sinks.add(cmd, nil)
	tf.add(cmd, "none")
	cmd.Flags().StringSliceVar(&joinNames, "join-name", nil, "IP addresses or DNS names hostds reach the join endpoint at, for its certificate (default: the --join-listen host, and localhost)")
	return cmd
}

// serveJoin serves j's join and renew endpoints and the host registrar reg over HTTPS on
// addr, with a certificate from the platform CA for names; stop ends it.
func serveJoin(j *pki.Joiner, reg *registrar.Registrar, addr string, names []string) (stop func(), err error) {
	if len(names) == 0 {
		names = append(dialNames(addr), "localhost")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen for joins: %w", err)
	}
	rpc := registrar.NewServer(reg)
	srv, err := j.ServeWith(ln, rpc, names...)
	if err != nil {
		ln.Close()
		return nil, err
	}
	fmt.Fprintf(os.Stdout, "gateway: join endpoint on https://%s for %s (CA pin %s)\n", ln.Addr(), strings.Join(names, ", "), j.CA().Pin())
	return func() { srv.Close(); rpc.Stop() }, nil
}

func functionCmd() *cobra.Command {
	var p partFlags
	var workers int
	var httpAddr, brokerURL string
	var drain, deadLetterMaxAge time.Duration
	var nsxf nsxFlags
	var rf reconcileFlags
	var mf metricsFlag
	cmd := &cobra.Command{
		Use:   "function NAME",
		Short: "Run one function: consuming its events from Redis Streams, or as a Knative container",
		Long: "Runs one control-plane function. Functions: " + strings.Join(events.Functions(), ", ") + ".\n\n" +
			"With $PORT set (Knative sets it) or --http, it serves the function as a Knative Service: the Broker " +
			"pushes CloudEvents to / and gets the next event of the chain in the response; dead letters go to " +
			runtime.PathDeadLetter + ", probes to " + runtime.PathLive + " and " + runtime.PathReady + ", Prometheus to " + metrics.Path + ".",
		Args:      cobra.ExactArgs(1),
		ValidArgs: events.Functions(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, rdb, closeFn, err := p.open(ctx, "photon-function-"+args[0])
			if err != nil {
				return err
			}
			defer closeFn()
			nsxClient, err := nsxf.client()
			if err != nil {
				return err
			}
			ca, hostsTLS, err := hostTLS(ctx, rdb, s.Prefix(), "function-"+args[0])
			if err != nil {
				return err
			}
			ro, err := rf.options()
			if err != nil {
				return err
			}
			ro.Log = logger(p.logLevel)
			set := functions.New(s, functions.WithNSX(nsxClient), functions.WithHostTLS(hostsTLS), functions.WithReconcile(ro), functions.WithCA(ca))
			defer set.Close()
			fn := set.Get(args[0])
			if fn == nil {
				return fmt.Errorf("no function %q (have %s)", args[0], strings.Join(events.Functions(), ", "))
			}
			set.Runtime.Log = logger(p.logLevel)
			stopMetrics, err := mf.serve("function " + fn.Name())
			if err != nil {
				return err
			}
			defer stopMetrics()
			if port := os.Getenv("PORT"); httpAddr == "" && port != "" {
				httpAddr = ":" + port
			}
			if httpAddr != "" {
				var broker events.Broker
				if brokerURL != "" {
					if broker, err = events.NewHTTPBroker(brokerURL); err != nil {
						return err
					}
				}
				ln, err := net.Listen("tcp", httpAddr)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stdout, "function %s serving Knative events on %s\n", fn.Name(), ln.Addr())
				return runtime.ServeKnative(ctx, ln, runtime.NewKnativeHandler(set.Runtime, fn, broker),
					runtime.ServeOptions{DrainQuiet: drain, Log: set.Runtime.Log})
			}
			broker := events.NewRedisBroker(rdb, s.Prefix(), set.Runtime.Log)
			if deadLetterMaxAge != 0 {
				broker.DeadLetterMaxAge = deadLetterMaxAge
			}
			local := &runtime.Local{Runtime: set.Runtime, Broker: broker, Workers: workers}
			fmt.Fprintf(os.Stdout, "function %s consuming %s\n", fn.Name(), strings.Join(events.TypesFor(fn.Name()), ", "))
			return local.Run(ctx, fn)
		},
	}
	p.add(cmd)
	cmd.Flags().IntVar(&workers, "workers", 0, "fixed concurrent events (default: autoscaled by backlog and load)")
	cmd.Flags().StringVar(&httpAddr, "http", "", "serve as a Knative container on this address (default: :$PORT when $PORT is set, else Redis Streams)")
	cmd.Flags().StringVar(&brokerURL, "broker-url", os.Getenv("K_SINK"), "Knative Broker ingress URL the replies to dead letters are published to (default: $K_SINK)")
	cmd.Flags().DurationVar(&drain, "drain", 5*time.Second, "on SIGTERM, serve until no event has arrived for this long")
	cmd.Flags().DurationVar(&deadLetterMaxAge, "dead-letter-max-age", events.DefaultDeadLetterMaxAge, "how long the dead-letter stream keeps an event (the function trims it; below 0: for ever)")
	nsxf.add(cmd, "default: none, subnets on the hosts' port groups")
	rf.add(cmd)
	mf.add(cmd)
	return cmd
}

// sinkFlags are the networks a system administrator opens to subscription sinks, the
// same for the gateway (checked at create), the notifier (checked at each delivery) and
// photon up.
type sinkFlags struct{ allow []string }

func (f *sinkFlags) add(cmd *cobra.Command, def []string) {
	cmd.Flags().StringArrayVar(&f.allow, "sink-allow-cidr", def, "a network (CIDR) subscription sinks may be in although it is loopback, private or "+
		"link-local, where plain http sinks are allowed too (repeatable; default: none, sinks must be https at public addresses)")
}

func (f *sinkFlags) policy() (*egress.Policy, error) {
	allow, err := egress.ParsePrefixes(f.allow)
	if err != nil {
		return nil, fmt.Errorf("--sink-allow-cidr: %w", err)
	}
	return &egress.Policy{Allow: allow}, nil
}

// tlsFlags are where and with which certificate the API is served over TLS, the same for
// photon gateway and photon up.
type tlsFlags struct{ addr, cert, key string }

func (f *tlsFlags) add(cmd *cobra.Command, empty string) {
	fs := cmd.Flags()
	fs.StringVar(&f.addr, "https", "127.0.0.1:9443", "HTTPS listen address of REST, the token endpoint and gRPC, on one port (empty: "+empty+")")
	fs.StringVar(&f.cert, "tls-cert", "", "PEM file of the API's certificate and its chain (default: one from the platform CA for 127.0.0.1, localhost, the host name and --public-url's host, renewed in memory)")
	fs.StringVar(&f.key, "tls-key", "", "PEM file of the key of --tls-cert")
}
