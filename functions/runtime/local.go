package runtime

import (
	"context"
	"sync"

	"github.com/photon-cloud/photon/events"
)

// Local runs functions on one machine: each function consumes its own Redis Stream with
// a pool of workers.
type Local struct {
	Runtime *Runtime
	Broker  *events.RedisBroker
	// Workers per function; default 8.
	Workers int
}

// Run consumes events for every function until ctx ends.
func (l *Local) Run(ctx context.Context, fns ...Function) error {
	workers := l.Workers
	if workers <= 0 {
		workers = 8
	}
	var wg sync.WaitGroup
	errc := make(chan error, len(fns))
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Broker.Consume(ctx, fn.Name(), workers, l.Runtime.Handler(fn), l.Runtime.DeadLetter(fn)); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}
