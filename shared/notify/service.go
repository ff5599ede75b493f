package notify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/part"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/streams"
)

// Options tune the service; zero values take the defaults.
type Options struct {
	// Consumer names this instance in the consumer groups (default: the host name; a
	// second live instance on the host takes <name>-2, see shared/streams). A restarted
	// instance takes its name back and resumes what it left unacknowledged at once; a dead
	// instance's work is taken over by a live one within seconds.
	Consumer string
	// ClaimIdle is how long what a live instance gave back unacknowledged waits before a
	// running one takes it over (default 1m; shared/streams).
	ClaimIdle time.Duration
	// Timeout bounds one delivery attempt (default 10s).
	Timeout time.Duration
	// Attempts is how often a delivery is tried before it is dead-lettered (default 6).
	Attempts int
	// Backoff is the wait before the first retry, doubled for each next one up to
	// MaxBackoff (defaults 1s and 1m: 1s, 2s, 4s, 8s, 16s).
	Backoff, MaxBackoff time.Duration
	// QueueSize bounds each subscription's queue (default 1000).
	QueueSize int
	// Stall is how long one delivery (its retries included) may run before its
	// subscription counts as stalled (default 2s). An event that finds a working
	// subscription's queue full waits for room, holding up the reading of further events;
	// one that finds a stalled subscription's queue full is dead-lettered at once, so a
	// dead sink costs the others at most one Stall.
	Stall time.Duration
	// Reload is how often subscriptions and their owners' rights are read again even when
	// no subscription changed (default 30s).
	Reload time.Duration
	// Block is how long a read of a stream waits for entries (default 1s): the longest a
	// deleted subscription's change takes to be seen when nothing happens.
	Block time.Duration
	// EventsMaxAge bounds events:out beyond what its consumer groups are done with: an
	// event older than this goes even if a group has not read it (a reader stopped for
	// good); 0 takes DefaultEventsMaxAge, below 0 bounds by age nothing. TrimEvery is how often the streams the service
	// reads are trimmed (default streams.DefaultTrimEvery).
	EventsMaxAge, TrimEvery time.Duration
	// Sinks says where deliveries may go (nil: public addresses over https only). Every
	// connection is checked against it, after the sink's name is resolved (egress.Policy).
	Sinks  *egress.Policy
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Consumer == "" {
		o.Consumer = streams.DefaultConsumer()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Timeout, 10*time.Second)
	def(&o.Backoff, time.Second)
	def(&o.MaxBackoff, time.Minute)
	def(&o.Reload, 30*time.Second)
	def(&o.Block, time.Second)
	def(&o.Stall, 2*time.Second)
	if o.EventsMaxAge == 0 {
		o.EventsMaxAge = DefaultEventsMaxAge
	}
	if o.Attempts <= 0 {
		o.Attempts = 6
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1000
	}
	if o.Sinks == nil {
		o.Sinks = &egress.Policy{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Service runs the deriver and the dispatcher.
type Service struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	d      *dispatcher
}

// Start creates the consumer groups and starts deriving and delivering until Close. The
// service reads and writes its streams with rdb, its own keys under prefix (EventsStream);
// it reads subscriptions and writes dead letters through s.
func Start(ctx context.Context, rdb redis.UniversalClient, prefix string, s *store.Store, o Options) (*Service, error) {
	defer part.Enter(ctx, part.Notifier)()
	o = o.withDefaults()
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var cs []*streams.Consumer
	for _, st := range []struct{ stream, group string }{
		{s.OutboxStream(), DeriveGroup}, {EventsStream(prefix), DispatchGroup}, {s.ReplayStream(), DispatchGroup},
	} {
		c, err := streams.Open(ctx, rdb, streams.Options{Stream: st.stream, Group: st.group, Consumer: o.Consumer,
			ClaimIdle: o.ClaimIdle, Block: o.Block, Backoff: o.Backoff, Logger: o.Logger})
		if err != nil {
			for _, c := range cs {
				c.Close()
			}
			cancel()
			return nil, fmt.Errorf("notify: %w", err)
		}
		cs = append(cs, c)
	}
	sv := &Service{cancel: cancel}
	sv.d = &dispatcher{s: s, opts: o, client: o.Sinks.Client(o.Timeout), log: o.Logger, workers: map[string]*worker{}}
	if err := sv.d.reload(ctx, true); err != nil {
		for _, c := range cs {
			c.Close()
		}
		cancel()
		return nil, fmt.Errorf("notify: load subscriptions: %w", err)
	}
	der := &deriver{rdb: rdb, c: cs[0], out: EventsStream(prefix), backoff: o.Backoff, log: o.Logger}
	sv.spawn(func() { der.run(ctx) })
	sv.spawn(func() { sv.d.run(ctx, cs[1], false) })
	sv.spawn(func() { sv.d.run(ctx, cs[2], true) })
	sv.spawn(func() { sv.d.observe(ctx) })
	sv.spawn(func() {
		streams.KeepTrimmed(ctx, rdb, o.TrimEvery, o.Logger,
			streams.Retention{Stream: EventsStream(prefix), Acked: true, MaxAge: o.EventsMaxAge, MaxLen: EventsMaxLen},
			streams.Retention{Stream: s.ReplayStream(), Acked: true})
	})
	return sv, nil
}

func (sv *Service) spawn(f func()) {
	sv.wg.Add(1)
	go func() {
		defer sv.wg.Done()
		f()
	}()
}

// Close stops the service and waits for it, or for ctx. Deliveries cut short are not
// acknowledged: the next start delivers them again.
func (sv *Service) Close(ctx context.Context) error {
	sv.cancel()
	done := make(chan struct{})
	go func() {
		sv.wg.Wait()
		sv.d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
