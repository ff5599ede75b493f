package runtime

import (
	"context"
	"math"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/events"
)

// Scaling is a function's autoscaling policy, with the knobs and defaults of Knative's
// autoscaler (KPA); infra/knative carries the same values as Service annotations. A
// worker stands for one Knative pod of the function.
type Scaling struct {
	MinScale int // workers at least (autoscaling.knative.dev/min-scale); default 1
	MaxScale int // workers at most (autoscaling.knative.dev/max-scale); default 32
	// Target is the events in flight per worker the scaler aims at
	// (autoscaling.knative.dev/target); default 8.
	Target float64
	// ContainerConcurrency is the most events one worker takes at once; default 2×Target.
	ContainerConcurrency int
	// StableWindow is the period the load is averaged over (autoscaling.knative.dev/window);
	// default 60s.
	StableWindow time.Duration
	// PanicWindowPercentage is the short window, in percent of StableWindow, that detects
	// bursts; default 10.
	PanicWindowPercentage float64
	// PanicThresholdPercentage: when the panic window asks for this percentage of the
	// current scale, the scaler panics: it scales up at once and does not scale down
	// until a stable window has passed without a new burst; default 200.
	PanicThresholdPercentage float64
	// Tick is how often the load is sampled; default 500ms (Knative: 2s).
	Tick time.Duration
}

// DefaultScaling is the policy of every function unless ScalingFor says otherwise.
var DefaultScaling = Scaling{MinScale: 1, MaxScale: 32, Target: 8, StableWindow: 60 * time.Second,
	PanicWindowPercentage: 10, PanicThresholdPercentage: 200, Tick: 500 * time.Millisecond}

// ScalingFor is the policy of function fn. The functions that wait on an ESXi host
// (vmhost, attachdisk, wiresubnet, boot, power, disks, images, iso, console) hold events
// longer, so each worker takes more of them.
func ScalingFor(fn string) Scaling {
	s := DefaultScaling
	switch fn {
	case "vmhost", "attachdisk", "wiresubnet", "boot", "power", "disks", "images", "iso", "console":
		s.Target = 16
	}
	return s.withDefaults()
}

func (s Scaling) withDefaults() Scaling {
	d := DefaultScaling
	if s.MinScale <= 0 {
		s.MinScale = d.MinScale
	}
	if s.MaxScale < s.MinScale {
		s.MaxScale = max(d.MaxScale, s.MinScale)
	}
	if s.Target <= 0 {
		s.Target = d.Target
	}
	if s.ContainerConcurrency <= 0 {
		s.ContainerConcurrency = int(math.Ceil(2 * s.Target))
	}
	if s.StableWindow <= 0 {
		s.StableWindow = d.StableWindow
	}
	if s.PanicWindowPercentage <= 0 {
		s.PanicWindowPercentage = d.PanicWindowPercentage
	}
	if s.PanicThresholdPercentage <= 0 {
		s.PanicThresholdPercentage = d.PanicThresholdPercentage
	}
	if s.Tick <= 0 {
		s.Tick = d.Tick
	}
	return s
}

// ScaleStat is what an autoscaler reports.
type ScaleStat struct {
	Scale, Peak int  // workers now and at most so far
	InFlight    int  // events being handled
	Backlog     int  // events waiting in the stream
	Panic       bool // scaling in panic mode
}

// Autoscaler sizes one function's worker pool from its load (events in flight plus events
// waiting in its stream), as Knative's KPA sizes a Service: the desired scale is the load
// averaged over the stable window divided by Target; a burst seen in the panic window
// scales up at once. It implements events.Slots: Scale × ContainerConcurrency events may
// be handled at once.
type Autoscaler struct {
	s       Scaling
	backlog func(context.Context) (int64, error)

	mu         sync.Mutex
	changed    chan struct{} // closed when slots free up or the scale grows
	taken      int           // slots held (by handlers and by the reader)
	busy       int           // events in handlers
	lag        int
	scale      int
	peak       int
	samples    []sample
	panicUntil time.Time
}

type sample struct {
	at   time.Time
	load float64
}

// NewAutoscaler starts at MinScale; backlog reads the function's stream backlog.
func NewAutoscaler(s Scaling, backlog func(context.Context) (int64, error)) *Autoscaler {
	s = s.withDefaults()
	return &Autoscaler{s: s, backlog: backlog, changed: make(chan struct{}), scale: s.MinScale, peak: s.MinScale}
}

// Acquire implements events.Slots.
func (a *Autoscaler) Acquire(ctx context.Context, most int) (int, error) {
	for {
		a.mu.Lock()
		if free := a.scale*a.s.ContainerConcurrency - a.taken; free > 0 {
			n := min(free, most)
			a.taken += n
			a.mu.Unlock()
			return n, nil
		}
		ch := a.changed
		a.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// Release implements events.Slots.
func (a *Autoscaler) Release(n int) {
	if n <= 0 {
		return
	}
	a.mu.Lock()
	a.taken -= n
	a.wake()
	a.mu.Unlock()
}

func (a *Autoscaler) wake() {
	close(a.changed)
	a.changed = make(chan struct{})
}

// Wrap counts the events in h: the in-flight half of the load.
func (a *Autoscaler) Wrap(h events.Handler) events.Handler {
	return func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
		a.mu.Lock()
		a.busy++
		a.mu.Unlock()
		defer func() {
			a.mu.Lock()
			a.busy--
			a.mu.Unlock()
		}()
		return h(ctx, e)
	}
}

// Run samples the load every Tick and rescales until ctx ends.
func (a *Autoscaler) Run(ctx context.Context) {
	t := time.NewTicker(a.s.Tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			lag, err := a.backlog(ctx)
			if err != nil {
				lag = 0 // the in-flight load alone still scales
			}
			a.Observe(now, int(lag))
		}
	}
}

// Observe takes one sample (the events in flight now plus backlog waiting) and decides
// the scale. Run calls it every Tick; tests call it with their own clock.
func (a *Autoscaler) Observe(now time.Time, backlog int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lag = backlog
	a.samples = append(a.samples, sample{now, float64(a.busy + backlog)})
	cut := 0
	for cut < len(a.samples) && now.Sub(a.samples[cut].at) > a.s.StableWindow {
		cut++
	}
	a.samples = a.samples[cut:]
	panicWindow := time.Duration(float64(a.s.StableWindow) * a.s.PanicWindowPercentage / 100)
	var stable, burst float64
	var nStable, nBurst int
	for _, s := range a.samples {
		stable += s.load
		nStable++
		if now.Sub(s.at) <= panicWindow {
			burst += s.load
			nBurst++
		}
	}
	want := func(sum float64, n int) int {
		if n == 0 {
			return a.s.MinScale
		}
		return int(math.Ceil(sum / float64(n) / a.s.Target))
	}
	desiredStable, desiredPanic := want(stable, nStable), want(burst, nBurst)
	if float64(desiredPanic) >= float64(a.scale)*a.s.PanicThresholdPercentage/100 && desiredPanic > a.scale {
		a.panicUntil = now.Add(a.s.StableWindow)
	}
	next := desiredStable
	if now.Before(a.panicUntil) {
		next = max(a.scale, desiredPanic) // in panic: up at once, never down
	}
	next = min(max(next, a.s.MinScale), a.s.MaxScale)
	if next > a.scale {
		defer a.wake()
	}
	a.scale = next
	a.peak = max(a.peak, next)
}

// Stat reports the autoscaler's state.
func (a *Autoscaler) Stat() ScaleStat {
	a.mu.Lock()
	defer a.mu.Unlock()
	return ScaleStat{Scale: a.scale, Peak: a.peak, InFlight: a.busy, Backlog: a.lag, Panic: time.Now().Before(a.panicUntil)}
}
