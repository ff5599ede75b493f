package loadtest

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/part"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// spin does n units of CPU work (a fixed amount of work, not of time: the machine may be
// shared); its result keeps the work from being optimised away.
func spin(n int) float64 {
	x := 0.0
	for i := range n * 10_000_000 {
		x += math.Sqrt(float64(i))
	}
	return x
}

// TestCost measures goroutines of two parts and the load client through a real CPU
// profile: the split follows the CPU each used, the load client is left out, and the
// parts (with Redis's) add up to the total.
func TestCost(t *testing.T) {
	rdb, err := keyspace.Open(t.Context(), storetest.URL(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	m, err := StartCost(t.Context(), rdb, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	work := map[string]int{"gateway": 20, "hostd": 5, part.LoadClient: 10}
	done := make(chan float64)
	for p, n := range work {
		go func() {
			defer part.Enter(context.Background(), p)()
			done <- spin(n)
		}()
	}
	for range work {
		<-done
	}
	// 10 MB, so that what other tests free on the shared server meanwhile cannot hide it.
	rdb.Set(t.Context(), storetest.Prefix(t)+"cost", strings.Repeat("x", 10<<20), time.Minute)
	c, err := m.Stop(t.Context(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if c.CPUMsPerVM == nil || c.RedisBytesPerVM == nil || *c.RedisBytesPerVM <= 0 || c.RedisMs == nil || c.Samples < 10 {
		t.Fatalf("cost %+v", c)
	}
	sum := 0.0
	for _, v := range c.ByPart {
		sum += v
	}
	if math.Abs(sum-*c.CPUMsPerVM) > 1e-9 {
		t.Fatalf("parts %v sum to %v, total %v", c.ByPart, sum, *c.CPUMsPerVM)
	}
	if _, ok := c.ByPart[part.LoadClient]; ok || c.NotCounted[part.LoadClient] <= 0 {
		t.Fatalf("load client counted: %v, not counted: %v", c.ByPart, c.NotCounted)
	}
	// Four times the work; the profile's sampling is coarse.
	if g, h := c.ByPart["gateway"], c.ByPart["hostd"]; g < 2*h {
		t.Fatalf("gateway %.1f ms, hostd %.1f ms per VM: %v", g, h, c.ByPart)
	}
	if !strings.HasPrefix(c.PartsLine(), "CPU per VM by part: gateway=") || !strings.Contains(c.PartsLine(), "not counted: loadclient=") {
		t.Fatalf("parts line %q", c.PartsLine())
	}
}

// TestCostElsewhere: with Photon in another process (--target), or Redis unknown, the CPU
// per VM is unknown.
func TestCostElsewhere(t *testing.T) {
	rdb, err := keyspace.Open(t.Context(), storetest.URL(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	for _, tc := range []struct {
		name      string
		inProcess bool
		withRedis bool
	}{{"target with its Redis", false, true}, {"target", false, false}, {"in process, Redis unknown", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			r := rdb
			if !tc.withRedis {
				r = nil
			}
			m, err := StartCost(t.Context(), r, tc.inProcess, nil)
			if err != nil {
				t.Fatal(err)
			}
			c, err := m.Stop(t.Context(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if c.CPUMsPerVM != nil || c.ByPart != nil || (c.RedisBytesPerVM != nil) != tc.withRedis {
				t.Fatalf("cost %+v", c)
			}
			r2 := (&Report{Cost: c}).ResultLine()
			if !strings.Contains(r2, " cpu_ms_per_vm=unknown ") {
				t.Fatalf("%q", r2)
			}
		})
	}
}
