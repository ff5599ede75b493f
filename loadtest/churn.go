package loadtest

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/keyspace"
)

// Churn is create-and-delete churn: each cycle creates VMs (bulk calls of Bulk) and then
// deletes every VM of the project, and Redis is measured after each. Under churn nothing
// may grow without bound: once the retentions (tasks, events, streams) have filled,
// Redis's memory and key count stay flat from cycle to cycle.
type Churn struct {
	Client  *Client
	API     API
	Project string
	// Cycles of VMs each, created Bulk to a call, Concurrency calls (and deletes) at once.
	Cycles, VMs, Bulk, Concurrency int
	// For, above 0, starts no cycle after it has passed (Cycles is then the most).
	For time.Duration
	// Quiet, above 0, is how long each cycle waits after its deletes before it measures
	// Redis again: longer than the retentions (and their sweeps), it finds Redis back
	// where it was, whatever the pace of the cycles; the first measure, at once, holds
	// what the retentions hold, which depends on that pace.
	Quiet time.Duration
	// Spec is the create spec of the i-th call overall.
	Spec func(i int) map[string]any
	// Redis and Prefix are where Photon keeps its state, measured after each cycle.
	Redis  redis.UniversalClient
	Prefix string
	// Settle is how many first cycles the retentions take to fill: they are left out
	// of the spread (below 0: a third of the cycles run).
	Settle int
	// Out gets a line per cycle.
	Out io.Writer
}

// Sample is Redis after one churn cycle.
type Sample struct {
	Cycle         int
	UsedMemory    int64 // INFO memory used_memory, bytes
	Keys          int64 // DBSIZE
	StreamEntries int64 // entries in all of Photon's streams
	VMsLeft       int
	Errors        int
	Elapsed       time.Duration
}

// ChurnResult is what a churn run measured.
type ChurnResult struct {
	Samples []Sample
	Settle  int
	// MemSpread and KeySpread are (max-min)/min over the samples after Settle, in
	// percent; MemTrend and KeyTrend the least-squares slope over them, in percent of
	// their mean per cycle: what would grow without bound.
	MemSpread, KeySpread, MemTrend, KeyTrend float64
	Errors                                   int
}

// ResultLine is the machine-readable last line of a churn run.
func (r ChurnResult) ResultLine() string {
	if len(r.Samples) == 0 {
		return "RESULT churn cycles=0"
	}
	first, last := r.Samples[min(r.Settle, len(r.Samples)-1)], r.Samples[len(r.Samples)-1]
	return fmt.Sprintf("RESULT churn cycles=%d settle=%d mem_first_mb=%.1f mem_last_mb=%.1f mem_spread_pct=%.1f mem_trend_pct_per_cycle=%.2f keys_first=%d keys_last=%d keys_spread_pct=%.1f keys_trend_pct_per_cycle=%.2f errors=%d",
		len(r.Samples), r.Settle, mb(first.UsedMemory), mb(last.UsedMemory), r.MemSpread, r.MemTrend, first.Keys, last.Keys, r.KeySpread, r.KeyTrend, r.Errors)
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// Do runs the cycles.
func (c Churn) Do(ctx context.Context) (ChurnResult, error) {
	var res ChurnResult
	per := max(c.Bulk, 1)
	calls := (c.VMs + per - 1) / per
	began := time.Now()
	for cycle := range c.Cycles {
		if ctx.Err() != nil || (c.For > 0 && time.Since(began) > c.For) {
			break
		}
		start := time.Now()
		created := Run{API: c.API, Project: c.Project, VMs: c.VMs, Concurrency: c.Concurrency, Bulk: c.Bulk,
			Spec: func(i int) map[string]any { return c.Spec(cycle*calls + i) }}.Do(ctx)
		ids, err := c.vms(ctx)
		if err != nil {
			return res, err
		}
		deleted := measure(len(ids), c.Concurrency, func(i int) bool { return c.deleteVM(ctx, ids[i]) })
		left, err := c.vms(ctx)
		if err != nil {
			return res, err
		}
		s, err := c.sample(ctx)
		if err != nil {
			return res, err
		}
		s.Cycle, s.VMsLeft, s.Errors, s.Elapsed = cycle+1, len(left), created.Errors+deleted.Errors, time.Since(start)
		if c.Out != nil {
			fmt.Fprintf(c.Out, "cycle %d: created %d, deleted %d, left %d, errors %d in %.0fs; redis used_memory %.1f MB, keys %d, stream entries %d\n",
				s.Cycle, created.VMs-created.Errors, deleted.VMs-deleted.Errors, s.VMsLeft, s.Errors, s.Elapsed.Seconds(), mb(s.UsedMemory), s.Keys, s.StreamEntries)
			if created.FirstError != "" {
				fmt.Fprintf(c.Out, "cycle %d: first error: %s\n", s.Cycle, created.FirstError)
			}
		}
		if c.Quiet > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(c.Quiet): // the retentions pass
			}
			q, err := c.sample(ctx)
			if err != nil {
				return res, err
			}
			s.UsedMemory, s.Keys, s.StreamEntries = q.UsedMemory, q.Keys, q.StreamEntries
			if c.Out != nil {
				fmt.Fprintf(c.Out, "cycle %d after %s quiet: redis used_memory %.1f MB, keys %d, stream entries %d\n",
					s.Cycle, c.Quiet, mb(s.UsedMemory), s.Keys, s.StreamEntries)
			}
		}
		res.Samples, res.Errors = append(res.Samples, s), res.Errors+s.Errors
	}
	res.summarise(c.Settle)
	return res, nil
}

// summarise computes the spreads over the samples after the first settle (below 0: a
// third of them).
func (r *ChurnResult) summarise(settle int) {
	if r.Settle = settle; r.Settle < 0 {
		r.Settle = len(r.Samples) / 3
	}
	after := r.Samples[min(r.Settle, len(r.Samples)):]
	mem, keys := func(s Sample) int64 { return s.UsedMemory }, func(s Sample) int64 { return s.Keys }
	r.MemSpread, r.KeySpread = spread(after, mem), spread(after, keys)
	r.MemTrend, r.KeyTrend = trend(after, mem), trend(after, keys)
}

// trend is the least-squares slope of v over ss per sample, in percent of v's mean.
func trend(ss []Sample, v func(Sample) int64) float64 {
	n := float64(len(ss))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i, s := range ss {
		x, y := float64(i), float64(v(s))
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	if sy == 0 {
		return 0
	}
	slope := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	return slope / (sy / n) * 100
}

// spread is (max-min)/min of v over ss, in percent.
func spread(ss []Sample, v func(Sample) int64) float64 {
	if len(ss) == 0 {
		return 0
	}
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, s := range ss {
		lo, hi = min(lo, v(s)), max(hi, v(s))
	}
	if lo <= 0 {
		return 0
	}
	return float64(hi-lo) / float64(lo) * 100
}

// vms lists the ids of the project's VMs.
func (c Churn) vms(ctx context.Context) ([]string, error) {
	var ids []string
	for link := "/v1/projects/" + c.Project + "/vms?pageSize=1000"; link != ""; {
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextPageLink string `json:"nextPageLink"`
		}
		if err := c.Client.Do(ctx, "GET", link, nil, &page); err != nil {
			return nil, fmt.Errorf("list VMs: %w", err)
		}
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		link = page.NextPageLink
	}
	return ids, nil
}

// deleteVM deletes a VM and waits for its task to end, retrying while Photon is busy.
func (c Churn) deleteVM(ctx context.Context, id string) bool {
	var tk Task
	for {
		err := c.Client.Do(ctx, "DELETE", "/v1/vms/"+id, nil, &tk)
		if busy, ok := err.(*BusyError); ok && ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(busy.RetryAfter): // the server's retry hint
			}
			continue
		}
		if err != nil {
			return false
		}
		break
	}
	for delay := 5 * time.Millisecond; !tk.Done(); delay = min(2*delay, 200*time.Millisecond) {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay): // polling the task, as Photon clients do
		}
		next, err := c.API.GetTask(ctx, tk.ID)
		if err == nil {
			tk = *next
		}
	}
	return tk.State == "COMPLETED"
}

// sample measures Redis: its memory, its keys and the entries of Photon's streams.
func (c Churn) sample(ctx context.Context) (Sample, error) {
	var s Sample
	u, err := keyspace.Measure(ctx, c.Redis)
	if err != nil {
		return s, err
	}
	s.UsedMemory, s.Keys = u.UsedMemory, u.Keys
	err = keyspace.Scan(ctx, c.Redis, c.Prefix+"*", "stream", func(key string) error {
		if n, err := c.Redis.XLen(ctx, key).Result(); err == nil {
			s.StreamEntries += n
		}
		return nil
	})
	return s, err
}
