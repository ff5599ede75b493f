package runtime

import (
	"context"
	"sync"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/part"
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

// Run consumes events for every function until ctx ends. Each function's goroutines
// (its stream's reader, its handlers, its background work) carry its part label
// (part.Function), as its own process would in production; they are labelled where they
// start, and the goroutine of each event inherits the label from the reader.
func (l *Local) Run(ctx context.Context, fns ...Function) error {
	var wg sync.WaitGroup
	errc := make(chan error, len(fns))
	runtimeCtx := part.Context(ctx, part.Runtime)
	wg.Go(func() {
		part.Set(runtimeCtx)
		l.observe(ctx)
	})
	for _, fn := range fns {
		fnCtx := part.Context(ctx, part.Function(fn.Name()))
		if bg, ok := fn.(Background); ok {
			wg.Add(1)
			go func() {
				defer wg.Done()
				part.Set(fnCtx)
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
				part.Set(runtimeCtx)
				a.Run(ctx)
			}()
			slots, h = a, a.Wrap(h)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			part.Set(fnCtx)
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
