package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/photon-cloud/photon/loadtest"
)

// Options configure a run.
type Options struct {
	// Photon is the photon binary every part runs from (built from this tree).
	Photon string
	// Dir holds the run's Redis data, hostds' certificates and each part's log.
	Dir  string
	Seed uint64
	// VMs is how many VMs the workload asks for in all (singly and in bulk creates).
	VMs   int
	Hosts int // default 4
	// Workers are the concurrent users of the API (default 16).
	Workers int
	// Rounds is how often every kind of part is killed (redis-server once whatever it
	// is); Kills, above 0, keeps only the first Kills kills of the schedule.
	Rounds, Kills int
	// MaxDown bounds how long a killed part stays down before it starts again.
	MaxDown time.Duration
	// Settle is how long, after the workload and the kills, the tasks have to end and
	// Photon to repair what it repairs in the background before the last check.
	Settle time.Duration
	// TaskWait is how long a user waits for one task before going on without its end.
	TaskWait time.Duration
	// ScaledOut deploys a Redis Cluster (three primaries, a replica each) instead of one
	// redis-server, two gateways behind HAProxy and two replicas of every function; the
	// schedule's Redis kill is then the store's primary, down until its replica took over.
	ScaledOut bool
	// Hollow, for Serve only, runs the hostds on hollow hosts (photon hostd --hollow).
	Hollow bool
	// Log gets the progress: kills, restarts, findings.
	Log io.Writer
}

func (o *Options) defaults() {
	if o.Hosts <= 0 {
		o.Hosts = 4
	}
	if o.Workers <= 0 {
		o.Workers = 16
	}
	if o.Rounds <= 0 {
		o.Rounds = 1
	}
	if o.Settle <= 0 {
		o.Settle = time.Minute
	}
	if o.TaskWait <= 0 {
		o.TaskWait = 90 * time.Second
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
}

// Serve deploys Photon as Run does, says where it serves, and keeps it up, killing
// nothing, until ctx ends: a deployment on this machine to measure (photon-loadtest
// --target) or to try.
func Serve(ctx context.Context, o Options) error {
	o.defaults()
	if o.Photon == "" || o.Dir == "" {
		return errors.New("chaos: Photon and Dir are needed")
	}
	d, err := deploy(ctx, o.Photon, o.Dir, o.Hosts, o.ScaledOut, o.Hollow)
	if err != nil {
		return err
	}
	defer d.close()
	fmt.Fprintf(o.Log, "chaos: %d parts up under %s\nREST %s\nadmin password %s\nredis %s\n",
		len(d.procs()), o.Dir, d.apiURL, d.password, d.redisURL)
	<-ctx.Done()
	return nil
}

// Run deploys Photon, runs the workload under the kill schedule, lets the tasks settle,
// checks the invariants and stops every part it started.
func Run(ctx context.Context, o Options) (Result, error) {
	o.defaults()
	var r Result
	if o.Photon == "" || o.Dir == "" || o.VMs <= 0 {
		return r, errors.New("chaos: Photon, Dir and VMs are needed")
	}
	t0 := time.Now()
	d, err := deploy(ctx, o.Photon, o.Dir, o.Hosts, o.ScaledOut, false)
	if err != nil {
		return r, err
	}
	defer d.close()
	fmt.Fprintf(o.Log, "chaos: %d parts up in %s under %s\n", len(d.procs()), time.Since(t0).Round(time.Millisecond), o.Dir)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: time.Minute}
	token, err := loadtest.Login(ctx, hc, d.apiURL, "admin", d.password)
	if err != nil {
		return r, err
	}
	c := &client{base: d.apiURL, token: token, http: hc}
	f, err := prepare(ctx, c, o.Seed)
	if err != nil {
		return r, err
	}
	w := newWorkload(c, f, o.Seed, o.VMs, o.TaskWait)
	kills := schedule(d, o.Seed, o.Rounds, o.Kills, o.MaxDown)
	workloadDone := make(chan struct{})
	killErr := make(chan error, 1)
	go func() { killErr <- runKills(ctx, kills, w.progress, workloadDone, o.Log) }()
	w.run(ctx, o.Workers)
	close(workloadDone)
	if err := <-killErr; err != nil {
		return r, err
	}
	fmt.Fprintf(o.Log, "chaos: workload done in %s, %d kills; %s; settling for up to %s\n",
		time.Since(t0).Round(time.Millisecond), len(kills), w.summary(), o.Settle)
	for _, p := range d.procs() {
		if !p.running() { // a part that died by itself is a finding; it runs again for the check
			r.Findings = append(r.Findings, "exited by itself: "+p.name+": "+tail(p.log))
			if err := restart(ctx, p); err != nil {
				return r, err
			}
		}
	}
	// The tasks have until the deadline to end, and Photon has until then to repair what
	// it repairs in the background (a host's vanished VMs): the invariants are checked
	// again until they hold or the deadline passes, and the last check is the result.
	deadline := time.Now().Add(o.Settle)
	settle(ctx, c, w, deadline, &r)
	for {
		got := r
		got.Findings, got.Kinds = slices.Clone(r.Findings), maps.Clone(r.Kinds)
		if err := check(ctx, c, d, w, &got); err != nil {
			return r, err
		}
		if got.Held() || time.Now().After(deadline) || !wait(ctx, 2*time.Second) {
			r = got
			break
		}
	}
	var kinds []string
	for _, k := range sortedKeys(r.Kinds) {
		kinds = append(kinds, fmt.Sprintf("%s=%d", strings.ReplaceAll(k, " ", "_"), r.Kinds[k]))
	}
	r.Findings = append(r.Findings, "findings by kind: "+strings.Join(kinds, " "))
	fmt.Fprintf(o.Log, "chaos: %s\n", strings.Join(append([]string{"checked after " + time.Since(t0).Round(time.Millisecond).String()}, r.Findings...), "\nchaos: "))
	return r, nil
}
