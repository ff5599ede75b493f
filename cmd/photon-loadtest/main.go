// Command photon-loadtest bursts VM creates at a Photon and measures them: VMs per minute,
// end-to-end and per-step latency percentiles, errors and peak memory. Without --target it
// starts a dev cloud of --hosts simulated ESXi hosts in this process and, in the same run,
// measures the raw govmomi baseline: the same VMs created straight on the same hosts at
// the same concurrency. It writes report.json and report.html, and its last line is
//
//	RESULT vms=N seconds=S vms_per_min=X baseline_vms_per_min=Y ratio=R p99_ms=Z errors=E
//
// With --churn N it runs N cycles of create-and-delete churn instead (loadtest.Churn) and
// prints Redis's memory and key count after each, then
//
//	RESULT churn cycles=N settle=S mem_first_mb=A mem_last_mb=B mem_spread_pct=P mem_trend_pct_per_cycle=T keys_first=K keys_last=L keys_spread_pct=Q keys_trend_pct_per_cycle=U errors=E
//
// With --service-workers N it creates one Kubernetes service of N workers instead
// (loadtest.Service) and prints each step of its chain, then
//
//	RESULT service workers=N nodes=M state=S seconds=T node_p50_ms=A node_p99_ms=B <step>_ms=...
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/gateway"
	"github.com/photon-cloud/photon/hostd/hollow"
	"github.com/photon-cloud/photon/loadtest"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/part"
)

type options struct {
	target, grpcTarget, user, password, token string
	hosts, hollowHosts                        int
	hollowLatency                             string
	hostCores                                 int
	redisURL                                  string
	prefix                                    string // Redis key prefix of the in-process cloud
	maxInFlight                               int
	vms, concurrency, bulk                    int
	api, wait                                 string
	baseline                                  bool
	report, name                              string
	probe                                     int
	probeDuring                               time.Duration
	probeProject                              string
	cpuProfile                                string
	rate                                      float64
	churn, churnSettle                        int
	churnFor, churnQuiet                      time.Duration
	taskRetention, eventsMaxAge, auditMaxAge  time.Duration
	serviceWorkers, serviceBatch              int
}

func main() {
	var o options
	f := flag.NewFlagSet("photon-loadtest", flag.ExitOnError)
	f.Usage = func() {
		fmt.Fprintf(f.Output(), `Usage: photon-loadtest [flags]

Bursts VM creates at Photon and reports VMs/minute, latency (end to end and per chain
step), errors and peak memory, with the raw govmomi baseline when it runs its own cloud.

Examples:
  photon-loadtest --hosts 32 --vms 2000 --concurrency 200           # in-process dev cloud
  photon-loadtest --hosts 32 --vms 10000 --bulk 500 --api grpc      # bulk creates over gRPC
  photon-loadtest --hollow-hosts 50 --vms 2000 --concurrency 200    # hollow hosts: Photon alone
  photon-loadtest --target http://127.0.0.1:9000 --grpc-target 127.0.0.1:9001 \
      --user admin --password secret --vms 500                      # a running Photon
  photon-loadtest --hosts 8 --vms 500 --bulk 500 --churn 20 --redis redis://127.0.0.1:6379 \
      --task-retention 1m --events-max-age 1m --audit-max-age 1m    # churn: is Redis flat?
  photon-loadtest --hosts 8 --service-workers 50                    # a 50-worker Kubernetes service

Flags:
`)
		f.PrintDefaults()
	}
	f.StringVar(&o.target, "target", "", "REST URL of a running Photon (default: start a dev cloud in this process)")
	f.StringVar(&o.grpcTarget, "grpc-target", "", "gRPC address of the running Photon, for --api grpc")
	f.StringVar(&o.user, "user", "admin", "user to log in as on --target")
	f.StringVar(&o.password, "password", "", "password of --user on --target")
	f.StringVar(&o.token, "token", "", "bearer token for --target (instead of --user/--password)")
	f.IntVar(&o.hosts, "hosts", 32, "simulated ESXi hosts of the in-process dev cloud, each with its own hostd")
	f.IntVar(&o.hollowHosts, "hollow-hosts", 0, "hollow hosts (kept in memory, package hostd/hollow) instead of --hosts simulated ones, so that the burst measures Photon, not vcsim; no baseline")
	f.StringVar(&o.hollowLatency, "hollow-latency", "", "each call's latency on a hollow host: P50 (fixed) or P50,P99 (log-normal), e.g. 2ms or 2ms,20ms")
	f.IntVar(&o.hostCores, "host-cores", 0, "CPU cores of each simulated host (default 32; VMs take 1 vCPU, overcommitted 8:1)")
	f.StringVar(&o.redisURL, "redis", "", "Redis URL for the in-process dev cloud (default: embedded Redis)")
	f.StringVar(&o.prefix, "prefix", "", `key prefix in that Redis (default "photon:")`)
	f.IntVar(&o.maxInFlight, "max-in-flight", 0, "admission limit of the in-process dev cloud (default: the gateway's)")
	f.IntVar(&o.vms, "vms", 1000, "VMs to create")
	f.IntVar(&o.concurrency, "concurrency", 200, "create calls in flight at once")
	f.Float64Var(&o.rate, "rate", 0, "pace the creates at this many VMs per minute (an open load; --concurrency still bounds the calls in flight); 0: as fast as they end")
	f.IntVar(&o.bulk, "bulk", 0, "VMs per create call (a bulk create with one parent task); 0: one call per VM")
	f.StringVar(&o.api, "api", "rest", "rest or grpc")
	f.StringVar(&o.wait, "wait", "events", "how a call learns its task ended: events (one event stream for the run, as the console follows changes; the task is read once it ended) or poll (each call polls its task, as Photon's SDK and CLI do)")
	f.BoolVar(&o.baseline, "baseline", true, "also measure the raw govmomi baseline (in-process dev cloud only)")
	f.StringVar(&o.report, "report", "loadtest-report", "directory for report.json and report.html")
	f.StringVar(&o.name, "name", "", "name of the run's tenant, project and flavors (default: load-<time>)")
	f.IntVar(&o.probe, "probe", 0, "after the burst, time this many VM gets and list pages (p99)")
	f.DurationVar(&o.probeDuring, "probe-during", 0, "while the burst runs, time a list page and a VM get every this long (e.g. 20ms); the RESULT line gets get_p99_ms and list_p99_ms")
	f.StringVar(&o.probeProject, "probe-project", "", "with --target and --vms 0: only probe the VMs of this existing project")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of Photon's burst to this file (and of the baseline to FILE.baseline)")
	f.IntVar(&o.churn, "churn", 0, "run this many cycles of churn instead of a burst: create --vms VMs (--bulk to a call), delete them all, measure Redis")
	f.IntVar(&o.churnSettle, "churn-settle", -1, "churn cycles the retentions take to fill, left out of the spread (default: a third of the cycles run)")
	f.DurationVar(&o.churnQuiet, "churn-quiet", 0, "after each churn cycle's deletes, wait this long (longer than the retentions) and measure Redis again; the RESULT line takes these measures")
	f.DurationVar(&o.churnFor, "churn-for", 0, "start no churn cycle after this long (0: run all --churn cycles)")
	f.DurationVar(&o.taskRetention, "task-retention", 0, "task retention of the in-process dev cloud (default: the gateway's)")
	f.DurationVar(&o.auditMaxAge, "audit-max-age", 0, "audit log retention of the in-process dev cloud (default: the gateway's)")
	f.DurationVar(&o.eventsMaxAge, "events-max-age", 0, "outbound events' retention of the in-process dev cloud (default: the notifier's)")
	f.IntVar(&o.serviceWorkers, "service-workers", 0, "instead of a burst, create one Kubernetes service of this many workers and time it to READY, step by step")
	f.IntVar(&o.serviceBatch, "service-batch", 0, "the service's workerBatchExpansionSize (0: all workers at once)")
	f.Parse(os.Args[1:])
	devcloud.TuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "photon-loadtest:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if o.api != "rest" && o.api != "grpc" {
		return fmt.Errorf("--api must be rest or grpc, not %q", o.api)
	}
	if o.wait != "events" && o.wait != "poll" {
		return fmt.Errorf("--wait must be events or poll, not %q", o.wait)
	}
	probeOnly := o.vms == 0 && o.probeProject != ""
	if probeOnly && (o.target == "" || o.probe <= 0) {
		return errors.New("--probe-project needs --target and --probe")
	}
	if !probeOnly && (o.vms <= 0 || o.concurrency <= 0) {
		return errors.New("--vms and --concurrency must be above 0")
	}
	if o.name == "" {
		o.name = "load-" + strconv.FormatInt(time.Now().Unix(), 36)
	}
	rep := &loadtest.Report{Started: time.Now(), API: o.api, Wait: o.wait, Mode: "single", VMs: o.vms, Concurrency: o.concurrency, Rate: o.rate}
	if o.bulk > 1 {
		rep.Mode = "bulk"
	}
	httpc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512}, Timeout: 2 * time.Minute}
	cl := &loadtest.Client{Base: strings.TrimSuffix(o.target, "/"), Token: o.token, HTTP: httpc}
	var cloud *devcloud.Cloud
	var rdb redis.UniversalClient
	if o.target == "" {
		if o.hollowHosts > 0 {
			o.hosts = 0
		}
		lat, err := hollow.ParseLatency(o.hollowLatency)
		if err != nil {
			return fmt.Errorf("--hollow-latency: %w", err)
		}
		fmt.Fprintf(stderr, "Starting a dev cloud with %d simulated hosts and %d hollow hosts...\n", o.hosts, o.hollowHosts)
		cloud, err = devcloud.Start(ctx, devcloud.Options{Hosts: o.hosts, HollowHosts: o.hollowHosts, HollowLatency: lat,
			HostCPUCores: int16(o.hostCores), RedisURL: o.redisURL,
			Prefix: o.prefix, HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", MaxInFlight: o.maxInFlight, EventsMaxAge: o.eventsMaxAge,
			Gateway: func(_ context.Context, g *gateway.Options) error {
				g.TaskRetention, g.AuditRetention.MaxAge = o.taskRetention, o.auditMaxAge
				return nil
			},
			Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			return err
		}
		defer cloud.Close(context.WithoutCancel(ctx))
		cl.Base, o.grpcTarget = "http://"+cloud.Gateway.HTTPAddr(), cloud.Gateway.GRPCAddr()
		if cl.Token, err = cloud.AdminToken(); err != nil {
			return err
		}
		rep.Hosts, rdb = o.hosts+o.hollowHosts, cloud.Redis()
	} else if cl.Token == "" {
		tok, err := loadtest.Login(ctx, httpc, cl.Base, o.user, o.password)
		if err != nil {
			return err
		}
		cl.Token = tok
	}
	if rdb == nil && o.redisURL != "" { // --target's Redis, to measure it
		c, err := keyspace.Open(ctx, o.redisURL, 0)
		if err != nil {
			return err
		}
		defer c.Close()
		rdb = c
	}
	rep.Target = cl.Base
	if probeOnly {
		return probe(ctx, cl, o.probeProject, o.probe, stdout)
	}
	var api loadtest.API = cl
	if o.api == "grpc" {
		if o.grpcTarget == "" {
			return errors.New("--api grpc needs --grpc-target with --target")
		}
		restore := part.Enter(ctx, part.LoadClient) // the connection's goroutines
		conn, err := grpc.NewClient(o.grpcTarget, grpc.WithTransportCredentials(insecure.NewCredentials()))
		restore()
		if err != nil {
			return err
		}
		defer conn.Close()
		api = &loadtest.GRPC{Conn: conn, Token: cl.Token}
	}
	fx, err := loadtest.Prepare(ctx, cl, o.name, devcloud.DefaultImage)
	if err != nil {
		return err
	}
	if o.churn > 0 {
		return churn(ctx, o, cl, api, fx, rdb, stdout)
	}
	if o.serviceWorkers > 0 {
		res, err := loadtest.Service{Client: cl, Fixture: fx, Workers: o.serviceWorkers, Batch: o.serviceBatch}.Do(ctx)
		if err != nil {
			return err
		}
		for _, st := range res.Steps {
			fmt.Fprintf(stdout, "  step %-28s %6d ms\n", st.Operation, st.Took.Milliseconds())
		}
		fmt.Fprintln(stdout, res.ResultLine())
		return nil
	}
	var profile io.Writer // --cpuprofile: the cost meter's profile, written out too
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		profile = f
	}
	// The connections left from the setup were made by an unlabelled goroutine: the burst
	// makes its own, labelled part.LoadClient.
	httpc.CloseIdleConnections()
	meter, err := loadtest.StartCost(ctx, rdb, cloud != nil, profile)
	if err != nil {
		return err
	}
	bar := loadtest.NewProgress(stderr, "photon", o.vms)
	restore := part.Enter(ctx, part.LoadClient) // the burst's calls and their connections
	go bar.Run(ctx)
	var ends *loadtest.Ends
	if o.wait == "events" {
		// The stream ends with the run, before the dev cloud closes.
		watch, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		if ends, err = cl.WatchEnds(watch, fx.Project); err != nil {
			restore()
			return err
		}
	}
	burstDone := make(chan struct{})
	probed := make(chan error, 1)
	if o.probeDuring > 0 {
		go func() {
			res, err := loadtest.Probe{Client: cl, Project: fx.Project}.During(ctx, o.probeDuring, burstDone)
			rep.Probe = &res
			probed <- err
		}()
	} else {
		probed <- nil
	}
	rep.Photon = loadtest.Run{API: api, Project: fx.Project, VMs: o.vms, Concurrency: o.concurrency, Bulk: o.bulk,
		Rate: o.rate, Spec: fx.Spec, Progress: bar.Set, Ends: ends}.Do(ctx)
	close(burstDone)
	perr := <-probed
	restore()
	bar.Stop()
	created := rep.Photon.VMs - rep.Photon.Errors
	if rep.Cost, err = meter.Stop(ctx, created); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "photon    %s retries=%d\n", rep.Photon, rep.Photon.Retries)
	if rep.Photon.FirstError != "" {
		fmt.Fprintf(stdout, "first error: %s\n", rep.Photon.FirstError)
	}
	if perr != nil {
		return fmt.Errorf("probe during the burst: %w", perr)
	}
	if rep.Probe != nil {
		fmt.Fprintf(stdout, "probe during the burst: %s\n", rep.Probe)
	}
	for _, op := range slices.Sorted(maps.Keys(rep.Photon.Steps)) {
		p := rep.Photon.Steps[op]
		fmt.Fprintf(stdout, "  step %-18s p50_ms=%d p95_ms=%d p99_ms=%d\n", op, p.P50.Milliseconds(), p.P95.Milliseconds(), p.P99.Milliseconds())
	}
	if cloud != nil {
		rep.Scale = map[string]int{}
		for fn, s := range cloud.Scales() {
			rep.Scale[fn] = s.Peak
		}
		fmt.Fprintf(stdout, "peak workers per function: %v\n", rep.Scale)
	}
	if b := rep.Cost.RedisBytesPerVM; b != nil {
		fmt.Fprintf(stdout, "redis memory: %.0f bytes per VM (%d VMs)\n", *b, created)
	}
	if cloud != nil {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(stdout, "live heap of this process (dev cloud and simulated hosts): %.0f MB, %.0f KB per VM\n",
			float64(ms.HeapAlloc)/(1<<20), float64(ms.HeapAlloc)/1024/float64(max(rep.Photon.VMs-rep.Photon.Errors, 1)))
	}
	if o.probe > 0 {
		if err := probe(ctx, cl, fx.Project, o.probe, stdout); err != nil {
			return err
		}
	}
	if cloud != nil && o.baseline && len(cloud.Sims) > 0 {
		var urls []*url.URL
		for _, s := range cloud.Sims {
			urls = append(urls, s.URL)
		}
		fmt.Fprintf(stderr, "Measuring the raw govmomi baseline: %d VMs at concurrency %d...\n", o.vms, o.concurrency)
		stopProfile, err := startProfile(o.cpuProfile, ".baseline")
		if err != nil {
			return err
		}
		base, err := loadtest.Baseline(ctx, urls, devcloud.DefaultImage, o.vms, o.concurrency)
		stopProfile()
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		rep.Baseline = &base
		fmt.Fprintf(stdout, "baseline  %s\n", base)
	}
	rep.PeakRSS = loadtest.PeakRSS()
	fmt.Fprintf(stdout, "peak memory (RSS) of this process: %.0f MB\n", float64(rep.PeakRSS)/(1<<20))
	jsonPath, htmlPath, err := rep.WriteFiles(o.report)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "report: %s %s\n", jsonPath, htmlPath)
	if line := rep.Cost.PartsLine(); line != "" {
		fmt.Fprintln(stdout, line)
	}
	fmt.Fprintln(stdout, rep.ResultLine())
	return nil
}

// startProfile starts a CPU profile into path+suffix if path is set; the returned func
// stops it.
func startProfile(path, suffix string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path + suffix)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// probe times n gets of VMs and n list pages of 100 in project.
func probe(ctx context.Context, cl *loadtest.Client, project string, n int, stdout io.Writer) error {
	res, err := loadtest.Probe{Client: cl, Project: project}.Run(ctx, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "probe: %s\n", res)
	return nil
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
