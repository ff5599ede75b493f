package part

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"

	"github.com/google/pprof/profile"
)

// parked is where the test's goroutines wait, so that the goroutine profile finds them;
// each says it is there on ready.
func parked(ready *sync.WaitGroup, release <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	ready.Done()
	<-release
}

// labelsOfParked reads the goroutine profile: the part of each goroutine in parked.
func labelsOfParked(t *testing.T) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 0); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range p.Sample {
		for _, loc := range s.Location {
			for _, l := range loc.Line {
				if strings.HasSuffix(l.Function.Name, "part.parked") {
					for range s.Value[0] {
						out = append(out, Of(s.Label))
					}
				}
			}
		}
	}
	return out
}

// TestEnter: goroutines started inside Enter carry the part, and their children too;
// after restore the caller is back to its own labels, and so are the goroutines it starts.
func TestEnter(t *testing.T) {
	release := make(chan struct{})
	var wg, ready sync.WaitGroup
	wg.Add(3)
	ready.Add(3)
	restore := Enter(t.Context(), Gateway)
	go func() {
		go parked(&ready, release, &wg) // a grandchild
		parked(&ready, release, &wg)
	}()
	restore()
	go parked(&ready, release, &wg)
	ready.Wait()
	got := map[string]int{}
	for _, p := range labelsOfParked(t) {
		got[p]++
	}
	close(release)
	wg.Wait()
	if got[Gateway] != 2 || got[Other] != 1 {
		t.Fatalf("parts of the parked goroutines: %v", got)
	}
}

func TestOf(t *testing.T) {
	for _, tc := range []struct {
		labels map[string][]string
		want   string
	}{
		{nil, Other},
		{map[string][]string{Key: {""}}, Other},
		{map[string][]string{Key: {Function("place")}}, "function:place"},
	} {
		if got := Of(tc.labels); got != tc.want {
			t.Errorf("Of(%v) = %q, want %q", tc.labels, got, tc.want)
		}
	}
}

// BenchmarkGo is the cost labels add to what Photon does per event: starting a goroutine
// (a broker delivery, a server's connection or stream) from a labelled goroutine and
// from an unlabelled one. The runtime copies the creator's label pointer whether it is
// set or not, so the two cost the same; labels add nothing per call.
//
//	go test -run '^$' -bench . ./shared/part/
func BenchmarkGo(b *testing.B) {
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{{"unlabelled", context.Background()}, {"labelled", Context(context.Background(), Function("place"))}} {
		b.Run(bc.name, func(b *testing.B) {
			Set(bc.ctx)
			defer Set(context.Background())
			done := make(chan struct{})
			for b.Loop() {
				go func() { done <- struct{}{} }()
				<-done
			}
		})
	}
}

// BenchmarkSet is labelling a goroutine at its start with a context made once (part.Set,
// what the function runtime does per function's goroutine), and BenchmarkEnter what a
// part's Start does once (it builds the label set).
func BenchmarkSet(b *testing.B) {
	ctx := Context(context.Background(), Function("place"))
	for b.Loop() {
		Set(ctx)
	}
	Set(context.Background())
}

func BenchmarkEnter(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		Enter(ctx, Gateway)()
	}
}
