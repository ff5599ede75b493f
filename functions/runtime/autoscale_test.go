package runtime_test

import (
	"context"
	"testing"
	"time"

	"github.com/photon-cloud/photon/functions/runtime"
)

// TestAutoscaler drives the scaler with a clock of its own: a burst scales up at once
// (panic), the scale holds through the stable window, then follows the averaged load
// down to MinScale; MaxScale bounds it.
func TestAutoscaler(t *testing.T) {
	s := runtime.Scaling{MinScale: 1, MaxScale: 10, Target: 10, StableWindow: 10 * time.Second, Tick: time.Second}
	a := runtime.NewAutoscaler(s, nil)
	t0 := time.Unix(0, 0)
	steps := []struct {
		at        time.Duration
		backlog   int
		wantScale int
	}{
		{0, 0, 1},
		{1 * time.Second, 50, 3},   // burst: the panic window (1s) averages 25 at target 10 → 3 at once
		{2 * time.Second, 500, 10}, // capped at MaxScale
		{3 * time.Second, 0, 10},   // panic: never down
		{12 * time.Second, 0, 10},  // still inside the panic period
		{13 * time.Second, 0, 1},   // a stable window with no burst: the average decides
		{14 * time.Second, 15, 1},  // a small rise: averaged away
		{15 * time.Second, 30, 3},  // a rise past twice the scale panics again
	}
	for _, st := range steps {
		a.Observe(t0.Add(st.at), st.backlog)
		got := a.Stat()
		if got.Scale != st.wantScale {
			t.Fatalf("at %s with backlog %d: scale %d, want %d", st.at, st.backlog, got.Scale, st.wantScale)
		}
	}
	if a.Stat().Peak != 10 {
		t.Fatalf("peak %d", a.Stat().Peak)
	}
}

// TestAutoscalerSlots checks the slots follow the scale: ContainerConcurrency per worker,
// and a waiting Acquire gets in when the scale grows.
func TestAutoscalerSlots(t *testing.T) {
	s := runtime.Scaling{MinScale: 1, MaxScale: 4, Target: 1, ContainerConcurrency: 2, StableWindow: time.Minute, Tick: time.Second}
	a := runtime.NewAutoscaler(s, nil)
	ctx := t.Context()
	if n, err := a.Acquire(ctx, 64); n != 2 || err != nil {
		t.Fatalf("first acquire: %d %v", n, err)
	}
	got := make(chan int)
	go func() {
		n, _ := a.Acquire(ctx, 64)
		got <- n
	}()
	a.Observe(time.Unix(0, 0), 4) // 4 waiting at target 1: 4 workers, 8 slots
	if n := <-got; n != 6 {
		t.Fatalf("after scaling up: %d more slots, want 6", n)
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := a.Acquire(short, 1); err == nil {
		t.Fatal("acquired beyond the scale")
	}
}
