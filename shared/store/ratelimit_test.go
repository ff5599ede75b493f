package store_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// slow replenishes one call every 100 s: within a test, only the burst passes.
const slow = 0.01

// TestAllowSteps walks sequences of calls; each step is one Allow and what it decides.
// With slow limits nothing replenishes during the test, so every decision is exact.
func TestAllowSteps(t *testing.T) {
	limit := func(burst int) store.RateLimit { return store.RateLimit{Rate: slow, Burst: burst} }
	check := func(key string, l store.RateLimit) store.RateCheck { return store.RateCheck{Key: key, Limit: l} }
	type step struct {
		checks  []store.RateCheck
		refused string // the key that refuses, "" when allowed
	}
	repeat := func(n int, s step) []step {
		out := make([]step, n)
		for i := range out {
			out[i] = s
		}
		return out
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"burst then refusal", append(repeat(3, step{checks: []store.RateCheck{check("a", limit(3))}}),
			step{checks: []store.RateCheck{check("a", limit(3))}, refused: "a"})},
		{"burst below one counts as one", []step{
			{checks: []store.RateCheck{check("a", limit(0))}},
			{checks: []store.RateCheck{check("a", limit(0))}, refused: "a"},
		}},
		{"a refusal charges no other key", append([]step{
			{checks: []store.RateCheck{check("a", limit(1))}},
			{checks: []store.RateCheck{check("b", limit(2)), check("a", limit(1))}, refused: "a"},
			{checks: []store.RateCheck{check("b", limit(2)), check("a", limit(1))}, refused: "a"},
		}, append(repeat(2, step{checks: []store.RateCheck{check("b", limit(2))}}),
			step{checks: []store.RateCheck{check("b", limit(2))}, refused: "b"})...)},
		{"keys are isolated", []step{
			{checks: []store.RateCheck{check("a", limit(1))}},
			{checks: []store.RateCheck{check("a", limit(1))}, refused: "a"},
			{checks: []store.RateCheck{check("b", limit(1))}},
			{checks: []store.RateCheck{check("c", limit(1))}},
		}},
		{"unlimited", repeat(50, step{checks: []store.RateCheck{check("a", store.RateLimit{}), check("b", store.RateLimit{Burst: 1})}})},
		{"an unlimited check does not change a limited one", []step{
			{checks: []store.RateCheck{check("u", store.RateLimit{}), check("a", limit(1))}},
			{checks: []store.RateCheck{check("u", store.RateLimit{}), check("a", limit(1))}, refused: "a"},
		}},
		{"a key given twice is charged twice", []step{
			{checks: []store.RateCheck{check("a", limit(2)), check("a", limit(2))}},
			{checks: []store.RateCheck{check("a", limit(2))}, refused: "a"},
		}},
		{"a key given twice beyond its burst is not charged", []step{
			{checks: []store.RateCheck{check("a", limit(1)), check("a", limit(1))}, refused: "a"},
			{checks: []store.RateCheck{check("a", limit(1))}},
		}},
		{"the longest wait names the key", []step{
			{checks: []store.RateCheck{check("fast", store.RateLimit{Rate: 1, Burst: 1}), check("slow", limit(1))}},
			{checks: []store.RateCheck{check("fast", store.RateLimit{Rate: 1, Burst: 1}), check("slow", limit(1))}, refused: "slow"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			onBackends(t, func(t *testing.T, s *store.Store) {
				for i, st := range c.steps {
					r, err := s.Allow(t.Context(), st.checks...)
					if err != nil {
						t.Fatal(err)
					}
					if r.OK != (st.refused == "") || r.Key != st.refused {
						t.Fatalf("step %d: got %+v, want refused by %q", i, r, st.refused)
					}
					if !r.OK && (r.RetryAfter <= 0 || r.RetryAfter > time.Duration(float64(time.Second)/slow)) {
						t.Fatalf("step %d: RetryAfter %v, want in (0, 1/rate]", i, r.RetryAfter)
					}
				}
			})
		})
	}
}

// TestAllowRetryAfter: after a burst at rate r, the refusal's wait is one interval less
// the time spent, and the key expires when its burst has fully replenished.
func TestAllowRetryAfter(t *testing.T) {
	onBackends(t, func(t *testing.T, s *store.Store) {
		ctx := t.Context()
		l := store.RateLimit{Rate: slow, Burst: 4}
		interval := time.Duration(float64(time.Second) / l.Rate)
		start := time.Now()
		for range l.Burst {
			if r, err := s.Allow(ctx, store.RateCheck{Key: "k", Limit: l}); err != nil || !r.OK {
				t.Fatalf("within the burst: %+v, %v", r, err)
			}
		}
		r, err := s.Allow(ctx, store.RateCheck{Key: "k", Limit: l})
		elapsed := time.Since(start)
		if err != nil || r.OK {
			t.Fatalf("beyond the burst: %+v, %v", r, err)
		}
		if r.RetryAfter > interval || r.RetryAfter < interval-elapsed-time.Millisecond {
			t.Fatalf("RetryAfter %v, want in [%v, %v]", r.RetryAfter, interval-elapsed, interval)
		}
		ttl, err := s.Redis().PTTL(ctx, s.Key("rl", "k")).Result()
		if err != nil || ttl <= 0 || ttl > time.Duration(l.Burst)*interval {
			t.Fatalf("TTL %v (%v), want in (0, %v]", ttl, err, time.Duration(l.Burst)*interval)
		}
	})
}

// TestAllowReplenishes: a refused caller that comes back after RetryAfter passes. It
// polls rather than sleeps: refused calls cost nothing.
func TestAllowReplenishes(t *testing.T) {
	s := storetest.New(t)
	ctx := t.Context()
	l := store.RateLimit{Rate: 100, Burst: 2}
	passed := 0
	deadline := time.Now().Add(5 * time.Second)
	for passed < 5 {
		r, err := s.Allow(ctx, store.RateCheck{Key: "k", Limit: l})
		if err != nil {
			t.Fatal(err)
		}
		if r.OK {
			passed++
		} else if r.RetryAfter <= 0 || r.RetryAfter > 10*time.Millisecond {
			t.Fatalf("RetryAfter %v, want in (0, 10ms]", r.RetryAfter)
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d calls passed by the deadline", passed)
		}
	}
}

// TestAllowConcurrent: many callers on one key never get more than the burst through.
func TestAllowConcurrent(t *testing.T) {
	onBackends(t, func(t *testing.T, s *store.Store) {
		l := store.RateLimit{Rate: slow, Burst: 100}
		var passed atomic.Int64
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for range 10 {
					r, err := s.Allow(t.Context(), store.RateCheck{Key: "tenant", Limit: l}, store.RateCheck{Key: "other", Limit: store.RateLimit{}})
					if err != nil {
						t.Error(err)
						return
					}
					if r.OK {
						passed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got := passed.Load(); got != int64(l.Burst) {
			t.Fatalf("%d calls passed, want the burst of %d", got, l.Burst)
		}
	})
}

// BenchmarkAllow charges two keys a call (a token's and its tenant's), the gateway's case.
func BenchmarkAllow(b *testing.B) {
	s := storetest.New(b)
	high := store.RateLimit{Rate: 1e6, Burst: 1e6}
	var n atomic.Int64
	b.SetParallelism(16) // a gateway serves many calls at once
	b.RunParallel(func(pb *testing.PB) {
		token := fmt.Sprintf("token-%d", n.Add(1))
		for pb.Next() {
			r, err := s.Allow(b.Context(), store.RateCheck{Key: token, Limit: high}, store.RateCheck{Key: "tenant", Limit: high})
			if err != nil || !r.OK {
				b.Fatalf("%+v, %v", r, err)
			}
		}
	})
}
