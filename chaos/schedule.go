package chaos

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// kill is one event of the schedule: SIGKILL a part when the workload has asked for the
// share at of its VMs, keep it down for down, start it again.
type kill struct {
	at   float64
	proc *proc
	down time.Duration
	// simLost says the kill loses a simulated host: photon hostd --sim keeps its host in
	// its own process.
	simLost bool
	// after, if set, says what became of the part once it is back (a Redis primary's
	// failover).
	after func(context.Context) string
}

// schedule makes the seeded kill schedule: rounds rounds in each of which every kind of
// part is killed once (a gateway, the notifier, a hostd with its simulated host, a
// replica of each function) and redis-server in the first round only (on a Redis
// Cluster, the primary of the store's slot, down long enough for its replica to take
// over). In a round the parts other than
// functions come in a seeded order, each followed by a function, the rest of the
// functions after them, so that a short schedule (limit, above 0, keeps the first limit
// kills) still kills every kind of part. The kills are spread evenly between 5% and 85%
// of the workload.
func schedule(d *deployment, seed uint64, rounds, limit int, maxDown time.Duration) []kill {
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	// one is one of ps, picked by the seed when there are several (gateways, replicas).
	one := func(ps []*proc) *proc {
		if len(ps) == 1 {
			return ps[0]
		}
		return ps[rng.IntN(len(ps))]
	}
	var order []*proc
	for r := range rounds {
		core := []*proc{one(d.gateways), d.notifier, d.hostds[rng.IntN(len(d.hostds))]}
		if r == 0 {
			core = append(core, d.redis)
		}
		var fns []*proc // a replica of each function
		for _, kind := range d.functionKinds() {
			fns = append(fns, one(d.replicas(kind)))
		}
		rng.Shuffle(len(core), func(i, j int) { core[i], core[j] = core[j], core[i] })
		rng.Shuffle(len(fns), func(i, j int) { fns[i], fns[j] = fns[j], fns[i] })
		for i, p := range core {
			order = append(order, p)
			if i < len(fns) {
				order = append(order, fns[i])
			}
		}
		if len(fns) > len(core) {
			order = append(order, fns[len(core):]...)
		}
	}
	if limit > 0 && limit < len(order) {
		order = order[:limit]
	}
	out := make([]kill, len(order))
	for i, p := range order {
		out[i] = kill{at: 0.05 + 0.8*float64(i)/float64(max(len(order), 1)), proc: p,
			down: time.Duration(rng.Int64N(int64(maxDown) + 1)), simLost: p.kind == "hostd"}
		if p == d.redis && d.redisDown > 0 {
			out[i].down, out[i].after = max(out[i].down, d.redisDown), d.failedOver
		}
	}
	return out
}

// runKills carries out the schedule as the workload progresses, until every kill is done
// (those still due when the workload ends are done then); done closes when it ends.
func runKills(ctx context.Context, kills []kill, progress func() float64, workloadDone <-chan struct{}, log io.Writer) error {
	for _, k := range kills {
		for progress() < k.at {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-workloadDone:
				progress = func() float64 { return 1 }
			case <-time.After(50 * time.Millisecond): // watching the workload's progress
			}
		}
		t0 := time.Now()
		k.proc.kill()
		lost := ""
		if k.simLost {
			lost = " (its simulated host is lost)"
		}
		fmt.Fprintf(log, "chaos: SIGKILL %s at %.0f%%%s; down %s\n", k.proc.name, 100*k.at, lost, k.down.Round(time.Millisecond))
		if !wait(ctx, k.down) { // the part's downtime, as the schedule says
			return ctx.Err()
		}
		if err := restart(ctx, k.proc); err != nil {
			return err
		}
		fmt.Fprintf(log, "chaos: %s back after %s\n", k.proc.name, time.Since(t0).Round(time.Millisecond))
		if k.after != nil {
			fmt.Fprintf(log, "chaos: %s: %s\n", k.proc.name, k.after(ctx))
		}
	}
	return nil
}

// restart starts a killed part again, trying a few times: its port may not be free yet.
func restart(ctx context.Context, p *proc) error {
	var err error
	for range 5 {
		if err = p.start(ctx, readyTimeout); err == nil || ctx.Err() != nil {
			return err
		}
		p.kill()
		wait(ctx, time.Second) // before trying the port again
	}
	return fmt.Errorf("restart %s: %w", p.name, err)
}
