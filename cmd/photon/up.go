package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/gateway"
	"github.com/photon-cloud/photon/hostd/hollow"
	"github.com/photon-cloud/photon/metrics"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/tracing"
)

func upCmd() *cobra.Command {
	var o devcloud.Options
	var trace, otlp, logLevel string
	var nsxf nsxFlags
	var rf reconcileFlags
	var sec securityFlags
	var sinks sinkFlags
	var tf tlsFlags
	var caFile string
	var hollowLatency string
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the whole dev cloud in this process",
		Long: `Runs Photon on one machine: Redis (embedded unless --redis is given), --hosts
simulated ESXi hosts each driven by its own hostd, every function on Redis Streams, and
the gateway (REST, the token endpoint and gRPC over TLS on --https, with a certificate
from the platform CA unless --tls-cert is given, whose roots it writes to --ca-file; plain
REST on --http and gRPC on --grpc, on loopback). Each hostd joins at a loopback join
endpoint and registers and heartbeats its host through the registrar there, as separate
hostds do; none touches Redis. A simulated VM powered on with a cloud-init user data in
its guestinfo phones home as the user data says (--guest-delay after the power-on,
trusting the API's CA) and reports again every --guest-report-every while it runs.
--hollow-hosts N adds N hollow hosts, kept in memory by their hostd (package hostd/hollow),
for scale tests of the control plane: their VMs cost a few hundred bytes each and run no
guest; --hosts 0 --hollow-hosts N runs them alone. Ctrl-C stops it cleanly.`,
		Example: `  photon up
  photon up --hosts 16 --redis redis://127.0.0.1:6379 --admin-password secret
  photon up --hosts 0 --hollow-hosts 100 --hollow-latency 2ms,20ms
  photon up --trace stdout
  photon up --nsx-manager https://nsx.example.com --nsx-user admin --nsx-password secret`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			shutdown, err := tracing.Setup(ctx, tracing.Options{Exporter: trace, Endpoint: otlp, Service: "photon"})
			if err != nil {
				return err
			}
			defer shutdown(context.Background())
			o.Logger = logger(logLevel)
			o.NSX = nsxf.NSXConfig
			if o.Reconcile, err = rf.options(); err != nil {
				return err
			}
			o.Gateway = sec.apply
			sp, err := sinks.policy()
			if err != nil {
				return err
			}
			o.SinkAllow = append([]netip.Prefix{}, sp.Allow...) // none given: allow none, not the default
			o.HTTPSAddr, o.TLSCertFile, o.TLSKeyFile = tf.addr, tf.cert, tf.key
			if o.HollowLatency, err = hollow.ParseLatency(hollowLatency); err != nil {
				return fmt.Errorf("--hollow-latency: %w", err)
			}
			if o.HollowHosts < 0 {
				return fmt.Errorf("--hollow-hosts must not be negative")
			}
			started := time.Now()
			c, err := devcloud.Start(ctx, o)
			if err != nil {
				return err
			}
			if err := writeCA(caFile, c.TLS.PEM()); err != nil {
				c.Close(context.WithoutCancel(ctx))
				return err
			}
			api, plain := c.HTTPSURL, "http://"+c.Gateway.HTTPAddr()
			fmt.Fprintf(os.Stdout, `Photon is up in %s: %d simulated ESXi hosts, %d hollow hosts.
  Console     %s/   (open it in a browser; log in as below)
  API         %s/v1   (REST, the token endpoint and gRPC, over TLS)
  CA          %s   (pin %s)
              trust it: curl --cacert %s ..., or photon's CLI fetches it at %s%s
  Plain       REST %s/v1 (OpenAPI: %s/openapi.json), gRPC %s   (loopback only)
  Metrics     %s%s   (Prometheus, no login)
  Log in      user %q, password %q
  Get a token:
    export TOKEN=$(curl -s --cacert %s -d grant_type=password -d username=%s -d password=%s %s/openidconnect/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  Then:  curl --cacert %s -H "Authorization: Bearer $TOKEN" %s/v1/tenants
  Image disk on every host: %s
Ctrl-C stops it.
`, time.Since(started).Round(time.Millisecond), len(c.Sims), o.HollowHosts, plain, api, caFile, c.TLS.Pin(), caFile, api, gateway.AFDCertsPath,
				plain, plain, c.Gateway.GRPCAddr(), plain, metrics.Path, c.AdminUser, c.AdminPassword,
				caFile, c.AdminUser, c.AdminPassword, api, caFile, api, devcloud.DefaultImage)
			if c.NSXSim != nil {
				fmt.Fprintf(os.Stdout, "Subnets and routers go on a simulated NSX-T Manager at %s.\n", c.NSXSim.URL)
			}
			<-ctx.Done()
			fmt.Fprintln(os.Stdout, "Stopping Photon...")
			closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return c.Close(closeCtx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.RedisURL, "redis", "", redisHelp+" (default: an embedded Redis in this process)")
	addWaitFlags(cmd, &o.WaitReplicas, &o.WaitTimeout)
	f.IntVar(&o.Hosts, "hosts", 4, "number of simulated ESXi hosts")
	f.IntVar(&o.HollowHosts, "hollow-hosts", 0, "number of hollow hosts besides, kept in memory, for scale tests")
	f.StringVar(&hollowLatency, "hollow-latency", "", "each call's latency on a hollow host: P50 (fixed) or P50,P99 (log-normal), e.g. 2ms or 2ms,20ms (default none)")
	f.StringVar(&o.HTTPAddr, "http", "127.0.0.1:9000", "REST listen address")
	f.StringVar(&o.GRPCAddr, "grpc", "127.0.0.1:9001", "gRPC listen address")
	f.StringVar(&o.AdminUser, "admin-user", "admin", "name of the system administrator to create")
	f.StringVar(&o.AdminPassword, "admin-password", "", "the administrator's password (default: generated and printed)")
	f.IntVar(&o.Workers, "workers", 0, "fixed concurrency per function (default: autoscaled by backlog and load)")
	f.IntVar(&o.MaxInFlight, "max-in-flight", gateway.DefaultMaxInFlight, "operations in flight at most before the API answers 429 (-1: no bound)")
	f.DurationVar(&o.Heartbeat, "heartbeat", 10*time.Second, "host heartbeat interval")
	f.DurationVar(&o.GuestDelay, "guest-delay", 5*time.Second, "how long a simulated VM takes from power-on to its cloud-init phone_home, as a real boot does")
	f.DurationVar(&o.GuestReportEvery, "guest-report-every", 30*time.Second, "how often a simulated VM whose cloud-init phoned home reports again while it runs (below 0: never)")
	f.DurationVar(&o.EventsMaxAge, "events-max-age", notify.DefaultEventsMaxAge, "keep an outbound event some consumer group of events:out has not read this long at most (below 0: no bound by age)")
	f.DurationVar(&o.DeadLetterMaxAge, "dead-letter-max-age", events.DefaultDeadLetterMaxAge, "how long the functions' dead-letter stream keeps an event (below 0: for ever)")
	rf.add(cmd)
	f.StringVar(&trace, "trace", "none", "trace exporter: none, stdout or otlp")
	f.StringVar(&otlp, "otlp-endpoint", "", "OTLP gRPC endpoint host:port (default: $OTEL_EXPORTER_OTLP_ENDPOINT)")
	f.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn, error")
	sec.add(cmd)
	sinks.add(cmd, []string{"127.0.0.0/8", "::1/128"})
	tf.add(cmd, "a free loopback port")
	f.StringVar(&caFile, "ca-file", defaultCAFile(), "write the CA certificates that verify the API here (PEM), for curl --cacert and other clients")
	nsxf.add(cmd, `default: a simulator in this process; "none": no NSX, subnets on the hosts' port groups`)
	return cmd
}

// defaultCAFile is where photon up writes the API's roots: photon/ca.pem in the user's
// configuration directory (~/.config on Linux), else in the temporary directory.
func defaultCAFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "photon", "ca.pem")
}

// writeCA writes the API's roots (PEM, not secret) to name, making its directory.
func writeCA(name string, pem []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return fmt.Errorf("--ca-file: %w", err)
	}
	if err := os.WriteFile(name, pem, 0o644); err != nil {
		return fmt.Errorf("--ca-file: %w", err)
	}
	return nil
}
