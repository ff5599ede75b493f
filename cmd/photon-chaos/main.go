// Command photon-chaos deploys Photon as separate processes on this machine (redis-server
// with AOF, a gateway, hostds on simulated hosts, every function, the notifier), runs a
// seeded mix of work through the REST API while it SIGKILLs and restarts each kind of
// part, and checks what is left against what the simulated hosts hold (package chaos).
// Its last line is
//
//	RESULT chaos tasks=N stuck=S lost=L duplicated=D leaked=K orphans=O
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/photon-cloud/photon/chaos"
)

func main() { os.Exit(run()) }

// run runs the harness and answers the exit status: 2 when it could not run, 1 when an
// invariant failed.
func run() int {
	o := chaos.Options{Log: os.Stderr}
	f := flag.NewFlagSet("photon-chaos", flag.ExitOnError)
	f.Usage = func() {
		fmt.Fprintf(f.Output(), `Usage: photon-chaos --photon bin/photon [flags]

Deploys Photon as separate processes, runs a seeded mixed workload (creates with and
without Idempotency-Keys, bulk creates, stop/start/restart, deletes, persistent disks,
subnets) while it SIGKILLs and restarts every kind of part, then checks the invariants.
Exit status 1 when any of stuck, lost, duplicated or leaked is above 0, or an orphan
is not reported by the reconciler.

Examples:
  photon-chaos --photon bin/photon --seed 1 --vms 1000 --rounds 2   # make chaos
  photon-chaos --photon bin/photon --seed 7 --vms 50 --kills 4 --settle 30s
  photon-chaos --photon bin/photon --seed 1 --vms 1000 --rounds 2 --scaled-out   # make chaos-cluster
  photon-chaos --photon bin/photon --scaled-out --hosts 8 --serve   # a deployment to measure

Flags:
`)
		f.PrintDefaults()
	}
	var keep, serve bool
	f.StringVar(&o.Photon, "photon", "bin/photon", "the photon binary every part runs from")
	f.StringVar(&o.Dir, "dir", "", "directory for the run's Redis data, certificates and logs (default: a new one under $TMPDIR)")
	f.Uint64Var(&o.Seed, "seed", 1, "seed of the workload and of the kill schedule")
	f.IntVar(&o.VMs, "vms", 1000, "VMs to ask for in all, singly and in bulk creates")
	f.IntVar(&o.Hosts, "hosts", 4, "hostds, each on its own simulated host")
	f.IntVar(&o.Workers, "workers", 16, "concurrent users of the API")
	f.IntVar(&o.Rounds, "rounds", 2, "times every kind of part is killed (redis-server once)")
	f.IntVar(&o.Kills, "kills", 0, "keep only the first N kills of the schedule (0: all)")
	f.DurationVar(&o.MaxDown, "max-down", 3*time.Second, "longest time a killed part stays down")
	f.DurationVar(&o.Settle, "settle", 2*time.Minute, "time the tasks have to end, and Photon to repair what it repairs in the background, after the workload")
	f.DurationVar(&o.TaskWait, "task-wait", 90*time.Second, "how long a user waits for one task before going on")
	f.BoolVar(&o.ScaledOut, "scaled-out", false, "deploy a Redis Cluster (3 primaries, 3 replicas), 2 gateways behind HAProxy and 2 replicas of every function; kill the store's Redis primary and a gateway among the rest")
	f.BoolVar(&serve, "serve", false, "only deploy, print the REST URL, the admin password and the Redis URL, and keep it up until interrupted (to measure with photon-loadtest --target)")
	f.BoolVar(&o.Hollow, "hollow", false, "with --serve, hostds on hollow hosts (kept in memory) instead of simulated ESXi hosts")
	f.BoolVar(&keep, "keep", false, "keep --dir (logs, Redis data) after the run")
	f.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.Dir == "" {
		dir, err := os.MkdirTemp("", "photon-chaos-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "photon-chaos:", err)
			return 2
		}
		o.Dir = dir
		if !keep {
			defer os.RemoveAll(dir)
		}
	}
	if serve {
		if err := chaos.Serve(ctx, o); err != nil {
			fmt.Fprintln(os.Stderr, "photon-chaos:", err)
			return 2
		}
		return 0
	}
	r, err := chaos.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "photon-chaos:", err)
		return 2
	}
	fmt.Printf("seed=%d vms=%d %s\n%s\n", o.Seed, o.VMs, r.Reporting(), r)
	if r.Stuck > 0 || !r.Held() {
		return 1
	}
	return 0
}
