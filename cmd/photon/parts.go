package main

import (
	"context"
	"fmt"
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
	"github.com/photon-cloud/photon/hostd"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/tracing"
)

// common flags of the separately run parts.
type partFlags struct {
	redisURL, trace, otlp, logLevel string
}

func (p *partFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&p.redisURL, "redis", "redis://127.0.0.1:6379", "Redis URL")
	f.StringVar(&p.trace, "trace", "none", "trace exporter: none, stdout or otlp")
	f.StringVar(&p.otlp, "otlp-endpoint", "", "OTLP gRPC endpoint host:port")
	f.StringVar(&p.logLevel, "log-level", "info", "log level")
}

func (p *partFlags) open(ctx context.Context, service string) (*store.Store, func(), error) {
	shutdown, err := tracing.Setup(ctx, tracing.Options{Exporter: p.trace, Endpoint: p.otlp, Service: service})
	if err != nil {
		return nil, nil, err
	}
	opt, err := store.ParseURL(p.redisURL)
	if err != nil {
		return nil, nil, err
	}
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, nil, fmt.Errorf("redis %s: %w", p.redisURL, err)
	}
	return store.New(rdb, ""), func() { rdb.Close(); shutdown(context.Background()) }, nil
}

func hostdCmd() *cobra.Command {
	var p partFlags
	var o hostd.Options
	var esx string
	var sim bool
	var dsTags []string
	cmd := &cobra.Command{
		Use:   "hostd",
		Short: "Run the daemon that drives one ESXi host",
		Example: `  photon hostd --esx https://root:pass@esx1.example.com/sdk --listen 0.0.0.0:8835
  photon hostd --sim --id host-1 --datastore-tag LocalDS_0=SSD,GOLD`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, closeFn, err := p.open(ctx, "photon-hostd")
			if err != nil {
				return err
			}
			defer closeFn()
			switch {
			case sim:
				sm, err := hostd.StartSim(ctx, "images/photon-os.vmdk")
				if err != nil {
					return err
				}
				defer sm.Close()
				o.URL, o.Insecure, o.FileOps, o.QualifyLocalDatastores = sm.URL, true, 1, true
			case esx != "":
				if o.URL, err = url.Parse(esx); err != nil {
					return err
				}
			default:
				return fmt.Errorf("give --esx URL or --sim")
			}
			if o.ID == "" {
				o.ID = uuid.NewString()
			}
			if o.DatastoreTags, err = datastoreTags(dsTags); err != nil {
				return err
			}
			o.Registrar, o.Logger = s, logger(p.logLevel)
			d, err := hostd.Start(ctx, o)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "hostd %s serving on %s\n", o.ID, d.Addr())
			<-ctx.Done()
			return d.Close()
		},
	}
	p.add(cmd)
	f := cmd.Flags()
	f.StringVar(&esx, "esx", "", "ESXi SDK URL with credentials, https://user:pass@host/sdk")
	f.BoolVar(&sim, "sim", false, "drive an in-process simulated ESXi host")
	f.BoolVar(&o.Insecure, "insecure", false, "skip verifying the host's TLS certificate")
	f.StringVar(&o.ID, "id", "", "host id: the id the API gave a host registered with POST /v1/infrastructure/hosts (default: generated)")
	f.StringVar(&o.ListenAddr, "listen", "127.0.0.1:0", "gRPC listen address")
	f.StringVar(&o.AdvertiseAddr, "advertise", "", "address functions dial to reach this hostd (default: the listen address)")
	f.StringVar(&o.AvailabilityZone, "zone", "", "availability zone id (an administrator's set_availability_zone wins)")
	f.StringSliceVar(&o.Tags, "tags", []string{"CLOUD"}, "host usage tags")
	f.DurationVar(&o.Heartbeat, "heartbeat", 10*time.Second, "heartbeat interval")
	f.StringArrayVar(&dsTags, "datastore-tag", nil, "NAME=TAG[,TAG...]: tags for the datastore NAME besides those of its type (repeatable)")
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
	var httpAddr, grpcAddr, adminUser, adminPassword string
	var maxInFlight int
	cmd := &cobra.Command{
		Use:     "gateway",
		Short:   "Run the API gateway (gRPC and REST)",
		Example: `  photon gateway --redis redis://127.0.0.1:6379 --admin-password secret`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, closeFn, err := p.open(ctx, "photon-gateway")
			if err != nil {
				return err
			}
			defer closeFn()
			key, err := auth.LoadOrCreateKey(ctx, s.Client(), s.Prefix())
			if err != nil {
				return err
			}
			users := auth.NewUsers(s.Client(), s.Prefix())
			if adminPassword != "" {
				if err := users.Put(ctx, adminUser, adminPassword, []string{policy.SystemAdminsGroup}); err != nil {
					return err
				}
			}
			g, err := gateway.Start(ctx, gateway.Options{Store: s, Broker: events.NewRedisBroker(s.Client(), s.Prefix(), logger(p.logLevel)),
				Issuer: auth.NewIssuer(key, "photon", 8*time.Hour), Users: users,
				HTTPAddr: httpAddr, GRPCAddr: grpcAddr, Logger: logger(p.logLevel),
				Admission: store.Admission{Limit: maxInFlight}})
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stdout, "gateway: REST on %s, gRPC on %s\n", g.HTTPAddr(), g.GRPCAddr())
			<-ctx.Done()
			closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return g.Close(closeCtx)
		},
	}
	p.add(cmd)
	cmd.Flags().StringVar(&httpAddr, "http", "127.0.0.1:9000", "REST listen address")
	cmd.Flags().StringVar(&grpcAddr, "grpc", "127.0.0.1:9001", "gRPC listen address")
	cmd.Flags().StringVar(&adminUser, "admin-user", "admin", "system administrator to create or update when --admin-password is given")
	cmd.Flags().StringVar(&adminPassword, "admin-password", "", "set the system administrator's password")
	cmd.Flags().IntVar(&maxInFlight, "max-in-flight", gateway.DefaultMaxInFlight, "operations in flight at most, across all gateways, before the API answers 429 (0: no bound)")
	return cmd
}

func functionCmd() *cobra.Command {
	var p partFlags
	var workers int
	var nsxf nsxFlags
	cmd := &cobra.Command{
		Use:       "function NAME",
		Short:     "Run one function consuming its events from Redis Streams",
		Long:      "Runs one control-plane function. Functions: " + strings.Join(events.Functions(), ", ") + ".",
		Args:      cobra.ExactArgs(1),
		ValidArgs: events.Functions(),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, closeFn, err := p.open(ctx, "photon-function-"+args[0])
			if err != nil {
				return err
			}
			defer closeFn()
			nsxClient, err := nsxf.client()
			if err != nil {
				return err
			}
			set := functions.New(s, functions.WithNSX(nsxClient))
			defer set.Close()
			fn := set.Get(args[0])
			if fn == nil {
				return fmt.Errorf("no function %q (have %s)", args[0], strings.Join(events.Functions(), ", "))
			}
			set.Runtime.Log = logger(p.logLevel)
			local := &runtime.Local{Runtime: set.Runtime, Broker: events.NewRedisBroker(s.Client(), s.Prefix(), set.Runtime.Log), Workers: workers}
			fmt.Fprintf(os.Stdout, "function %s consuming %s\n", fn.Name(), strings.Join(events.TypesFor(fn.Name()), ", "))
			return local.Run(ctx, fn)
		},
	}
	p.add(cmd)
	cmd.Flags().IntVar(&workers, "workers", 0, "fixed concurrent events (default: autoscaled by backlog and load)")
	nsxf.add(cmd, "default: none, subnets on the hosts' port groups")
	return cmd
}
