package place

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/store/storetest"
)

func BenchmarkPlace10kHosts(b *testing.B)  { benchmarkPlace(b, 10_000) }
func BenchmarkPlace100kHosts(b *testing.B) { benchmarkPlace(b, 100_000) }

// benchmarkPlace: one op is one placement of a request with mixed constraints (zones, host
// tags, datastore tags and types, networks, spread and pack, 1-8 vCPU, 1-16 GB) on a fleet
// of n hosts, including its reservation in Redis. It reports placements/s and the p50 and
// p99 latency of one placement.
func benchmarkPlace(b *testing.B, n int) {
	ctx := b.Context()
	s := storetest.New(b)
	register(b, ctx, s, randomFleet(n, 42, s.Now()))
	f := New(s, DefaultPolicy)
	if err := f.index.ensure(ctx); err != nil {
		b.Fatal(err)
	}
	var (
		seq  atomic.Int64
		mu   sync.Mutex
		lats []time.Duration
		fail atomic.Int64
	)
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(uint64(seq.Add(1)), 7))
		var mine []time.Duration
		for pb.Next() {
			req := randomRequest(rng, fmt.Sprint("vm", seq.Add(1)))
			t0 := time.Now()
			if _, err := f.Place(ctx, req); err != nil {
				fail.Add(1)
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lats = append(lats, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lats)
	if len(lats) > 0 {
		b.ReportMetric(float64(len(lats))/elapsed.Seconds(), "placements/s")
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(fail.Load())/float64(len(lats)), "failed/op")
	}
}
