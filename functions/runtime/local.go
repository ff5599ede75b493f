package runtime

import (
	"context"
	"sync"

	"github.com/photon-cloud/photon/events"
)

// Local runs functions on one machine: each function consumes its own Redis Stream with
// a worker pool that an Autoscaler sizes from the stream's backlog and the events in
// flight, as Knative would size the function's Service.
type Local struct {
	Runtime *Runtime
	Broker  *events.RedisBroker
	// Workers, when above 0, fixes each function's concurrency instead of autoscaling.
	Workers int
	// Scaling overrides ScalingFor for every function when set.
	Scaling *Scaling

	mu      sync.Mutex
	scalers map[string]*Autoscaler
}

// Run consumes events for every function until ctx ends.
func (l *Local) Run(ctx context.Context, fns ...Function) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(fns))
	wg.Go(func() { l.observe(ctx) })
	for _, fn := range fns {
		if bg, ok := fn.(Background); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bg.Background(ctx)
			}()
		}
		h := l.Runtime.Handler(fn)
		var slots events.Slots
		if l.Workers > 0 {
			slots = events.FixedSlots(l.Workers)
		} else {
			s := ScalingFor(fn.Name())
			if l.Scaling != nil {
				s = *l.Scaling
			}
			a := NewAutoscaler(s, func(ctx context.Context) (int64, error) { return l.Broker.Backlog(ctx, fn.Name()) })
			l.mu.Lock()
			if l.scalers == nil {
				l.scalers = map[string]*Autoscaler{}
			}
			l.scalers[fn.Name()] = a
			l.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				a.Run(ctx)
			}()
			slots, h = a, a.Wrap(h)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Broker.Consume(ctx, fn.Name(), slots, h, l.Runtime.DeadLetter(fn)); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}

// Scales reports each autoscaled function's scale.
func (l *Local) Scales() map[string]ScaleStat {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]ScaleStat, len(l.scalers))
	for name, a := range l.scalers {
		out[name] = a.Stat()
	}
	return out
}
