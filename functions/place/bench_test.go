package place

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

var benchFleets = map[int]*Function{}

func BenchmarkPlace10kHosts(b *testing.B)  { benchmarkPlace(b, 10_000) }
func BenchmarkPlace100kHosts(b *testing.B) { benchmarkPlace(b, 100_000) }

// benchmarkPlace: one op is one placement of a request with mixed constraints (zones, host
// tags, datastore tags and types, networks, spread and pack, 1-8 vCPU, 1-16 GB) on a fleet
// of n hosts, including its reservation in Redis. It reports placements/s and the p50 and
// p99 latency of one placement. Four placements run at once (two per core).
func benchmarkPlace(b *testing.B, n int) {
	defer debug.SetGCPercent(debug.SetGCPercent(400)) // as the photon binary runs (devcloud.TuneGC)
	ctx := b.Context()
	f := benchFleets[n]
	if f == nil {
		// Once per fleet size: the benchmark runs this function for each b.N it tries.
		rdb, err := keyspace.NewClient(storetest.URL(b), 0)
		if err != nil {
			b.Fatal(err)
		}
		s := store.New(rdb, storetest.Prefix(b)) // kept for the later runs
		ctx := context.WithoutCancel(ctx)
		// Hosts large enough that the placements of every run (the fleet is kept across
		// runs) fill none of them: a full fleet measures failures, not placements.
		hosts := randomFleet(n, 42, s.Now())
		for i := range hosts {
			hosts[i].CPUCores *= 8
			hosts[i].MemoryMB *= 16
			for j := range hosts[i].Datastores {
				hosts[i].Datastores[j].CapacityBytes *= 16
			}
		}
		register(b, ctx, s, hosts)
		f = New(s, DefaultPolicy)
		if err := f.index.ensure(ctx); err != nil {
			b.Fatal(err)
		}
		benchFleets[n] = f
	}
	var (
		seq  atomic.Int64
		mu   sync.Mutex
		lats []time.Duration
		fail atomic.Int64
	)
	b.SetParallelism(2)
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

// BenchmarkCheckers10kHosts: one op runs the checkers and the ranking over 10,000 hosts in
// memory (Feasible, the exhaustive form of the index's walk, which explains a failed
// placement): the cost of the checker chain per host, without Redis.
func BenchmarkCheckers10kHosts(b *testing.B) {
	hosts := randomFleet(10_000, 42, 1000)
	cands := make([]Candidate, len(hosts))
	for i := range hosts {
		c := store.HostCapacity{CPUTotal: int64(hosts[i].CPUCores), MemTotal: hosts[i].MemoryMB,
			Datastores: map[string]store.DatastoreCapacity{}}
		for _, d := range hosts[i].Datastores {
			c.Datastores[d.Name] = store.DatastoreCapacity{Total: d.CapacityBytes >> 20}
		}
		cands[i] = Candidate{Host: &hosts[i], Capacity: c}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([]Request, 64)
	for i := range reqs {
		reqs[i] = randomRequest(rng, fmt.Sprint("vm", i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Feasible(reqs[i%len(reqs)], cands, DefaultPolicy, 1000)
	}
}

// BenchmarkSyncHeartbeats: what following 10,000 hosts that beat every 10 s costs a
// placement index per beat, by what a sync every 500ms reads: "heartbeats" is a sync that
// reads the times of the beats of its window (500ms since the last sync and beatSlack
// before: 2,500 beats) from the heartbeat index; "reload" is a sync that reloads the 500
// hosts of 500ms of beats through the change feed, as every heartbeat once made it. Each
// reports cpu-ns/beat of this process and redis-cpu-ns/beat.
func BenchmarkSyncHeartbeats(b *testing.B) {
	const window, perSync = 2500, 500
	ctx := b.Context()
	s := storetest.New(b)
	hosts := randomFleet(window, 7, s.Now())
	register(b, ctx, s, hosts)
	x := NewIndex(s, Policy{CPURatio: 8, MemRatio: 1, DiskRatio: 4})
	x.FullEvery = time.Hour
	if err := x.Load(ctx); err != nil {
		b.Fatal(err)
	}
	for _, h := range hosts {
		if _, err := s.HeartbeatHost(ctx, h.ID, model.HostUsage{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := x.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	gen := x.gen.Load()
	for _, h := range hosts[:perSync] {
		if err := s.PutHost(ctx, &h); err != nil {
			b.Fatal(err)
		}
	}
	rdb := storetest.Client(b)
	cases := []struct {
		name  string
		reset func()
	}{
		{"heartbeats", func() { x.beatAt.Store(0) }},
		{"reload", func() { x.gen.Store(gen); x.beatAt.Store(time.Now().UnixMilli() + beatSlack) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var proc, red time.Duration
			n := 0
			for b.Loop() {
				tc.reset()
				p0, r0 := storetest.CPU(b, rdb)
				if err := x.Sync(ctx); err != nil {
					b.Fatal(err)
				}
				p1, r1 := storetest.CPU(b, rdb)
				proc, red = proc+p1-p0, red+r1-r0
				n++
			}
			b.ReportMetric(float64(proc)/float64(n*perSync), "cpu-ns/beat")
			b.ReportMetric(float64(red)/float64(n*perSync), "redis-cpu-ns/beat")
		})
	}
}
