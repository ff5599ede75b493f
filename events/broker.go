package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/streams"
)

// Handler handles one event and may answer with the next one (Knative reply chaining).
// A returned error marked errs.Permanent is not retried.
type Handler func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error)

// Broker publishes events to whoever subscribes to their type.
type Broker interface {
	// Publish sends every event in es (in one round trip where the transport allows).
	Publish(ctx context.Context, es ...cloudevents.Event) error
}

// RedisBroker is the local Broker: one Redis Stream per subscribing function.
type RedisBroker struct {
	rdb    redis.UniversalClient
	prefix string
	log    *slog.Logger

	// Retry policy, as a Knative Trigger's delivery spec: attempts and backoff, the wait
	// before the first retry, doubled for each next one, plus up to half again of jitter.
	// It is Photon's one retry budget for a step's transient errors (a hostd restarting,
	// Redis failing over): infra renders it into the Knative Triggers, and hostclient
	// does not retry on its own. The defaults (10 attempts from 100ms) wait 51 to 77 s in
	// all, longer than a hostd restart; a permanent error is not retried.
	MaxAttempts int
	Backoff     time.Duration
	// ClaimIdle is how long a delivered event its live consumer gave back unacknowledged
	// waits before a consumer takes it over; a dead consumer's events are claimed within
	// seconds of its death whatever ClaimIdle is (shared/streams).
	ClaimIdle time.Duration
	// MaxLen bounds each stream (approximately), dropping the oldest events whether
	// delivered or not; 0 (the default) keeps what the group has not acknowledged, as the
	// consumers trim the rest (trim.go), so a backlog is never cut.
	MaxLen int64
	// TrimEvery is how often a consumer trims its stream of what every group
	// acknowledged, and the dead-letter stream of what is older than DeadLetterMaxAge
	// (0: streams.DefaultTrimEvery; DeadLetterMaxAge 0: for ever; see trim.go).
	TrimEvery        time.Duration
	DeadLetterMaxAge time.Duration
}

// NewRedisBroker returns a broker on rdb with keys under prefix (e.g. "photon:").
func NewRedisBroker(rdb redis.UniversalClient, prefix string, log *slog.Logger) *RedisBroker {
	if log == nil {
		log = slog.Default()
	}
	return &RedisBroker{rdb: rdb, prefix: prefix, log: log, MaxAttempts: 10,
		Backoff: 100 * time.Millisecond, ClaimIdle: time.Minute, DeadLetterMaxAge: DefaultDeadLetterMaxAge}
}

func (b *RedisBroker) stream(subscriber string) string { return Stream(b.prefix, subscriber) }

// Stream names the stream of subscriber under prefix, for the tests and tools that watch
// a function's backlog without building the broker's keys themselves.
func Stream(prefix, subscriber string) string {
	return keyspace.Space(prefix, keyspace.Store) + "stream:" + subscriber
}

// DeadLetterStream is where events go that exhausted their retries.
func (b *RedisBroker) DeadLetterStream() string { return b.stream("deadletter") }

const group = "photon"

// Publish appends each event to the stream of every subscriber of its type, all in one
// atomic round trip. An event nobody subscribes to (an announcement such as vm.create.completed)
// is dropped here.
func (b *RedisBroker) Publish(ctx context.Context, es ...cloudevents.Event) error {
	return b.publish(ctx, nil, es...)
}

// publish is Publish with more commands (e.g. an acknowledgement) in the same pipeline.
func (b *RedisBroker) publish(ctx context.Context, also func(redis.Pipeliner), es ...cloudevents.Event) error {
	type out struct {
		raw  []byte
		subs []string
	}
	outs := make([]out, 0, len(es))
	for _, e := range es {
		subs := Subscribers(e.Type())
		if len(subs) == 0 {
			continue
		}
		raw, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", e.ID(), err)
		}
		outs = append(outs, out{raw, subs})
	}
	if len(outs) == 0 && also == nil {
		return nil
	}
	// MULTI/EXEC: the events and the acknowledgement are written all or none.
	_, err := b.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, o := range outs {
			for _, s := range o.subs {
				p.XAdd(ctx, &redis.XAddArgs{Stream: b.stream(s), MaxLen: b.MaxLen, Approx: true, Values: []any{"e", o.raw}})
			}
		}
		if also != nil {
			also(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("publish %d events: %w", len(es), err)
	}
	return nil
}

// DeadLetter is called with an event that exhausted its retries; its reply, if any, is
// published (the runtime answers with the undo event that fails the task).
type DeadLetter func(ctx context.Context, e cloudevents.Event, cause error) (*cloudevents.Event, error)

// Slots bound how many events a consumer handles at once: a fixed number (FixedSlots) or
// as many as an autoscaler decides.
type Slots interface {
	// Acquire blocks until at least one slot is free and takes up to max free slots.
	Acquire(ctx context.Context, max int) (int, error)
	// Release gives back n slots.
	Release(n int)
}

// FixedSlots is a constant number of slots.
func FixedSlots(n int) Slots { return &fixedSlots{sem: make(chan struct{}, max(n, 1))} }

type fixedSlots struct{ sem chan struct{} }

func (f *fixedSlots) Acquire(ctx context.Context, most int) (int, error) {
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	n := 1
	for n < most {
		select {
		case f.sem <- struct{}{}:
			n++
		default:
			return n, nil
		}
	}
	return n, nil
}

func (f *fixedSlots) Release(n int) {
	for range n {
		<-f.sem
	}
}

// readBatch is the most events one read takes from a stream.
const readBatch = 64

// Consume delivers subscriber's events to h, as many at once as slots allow, until ctx
// ends; then it waits for the events in hand. Each event is acknowledged only after h's
// reply is published, so a crash between the two redelivers it (handlers are idempotent):
// at once to the same function restarted, within seconds to another live consumer of the
// stream (shared/streams).
func (b *RedisBroker) Consume(ctx context.Context, subscriber string, slots Slots, h Handler, dead DeadLetter) error {
	// The default consumer name, the host's, is stable: a restarted function takes back
	// what it held at once; another live process of the same function takes another name.
	c, err := streams.Open(ctx, b.rdb, streams.Options{Stream: b.stream(subscriber), Group: group,
		ClaimIdle: b.ClaimIdle, Backoff: b.Backoff, Logger: b.log})
	if err != nil {
		return err
	}
	defer c.Close() // after the events in hand: they stay renewed until they end
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { b.keepTrimmed(ctx, subscriber) })
	for {
		n, err := slots.Acquire(ctx, readBatch)
		if err != nil {
			return nil // ctx ended
		}
		ms, err := c.Next(ctx, n)
		slots.Release(n - len(ms))
		if err != nil {
			return nil
		}
		for _, m := range ms {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer slots.Release(1)
				b.deliver(ctx, c, m, h, dead)
			}()
		}
	}
}

// Backlog is how many of subscriber's events wait in its stream, not yet delivered to
// any consumer: the queue an autoscaler looks at.
func (b *RedisBroker) Backlog(ctx context.Context, subscriber string) (int64, error) {
	groups, err := b.rdb.XInfoGroups(ctx, b.stream(subscriber)).Result()
	if err != nil {
		return 0, err
	}
	for _, g := range groups {
		if g.Name == group {
			return max(g.Lag, 0), nil
		}
	}
	return 0, nil
}

func (b *RedisBroker) deliver(ctx context.Context, c *streams.Consumer, m redis.XMessage, h Handler, dead DeadLetter) {
	stream := c.Stream()
	raw, _ := m.Values["e"].(string)
	var e cloudevents.Event
	if err := json.Unmarshal([]byte(raw), &e); err != nil {
		b.log.Error("undecodable event dropped", "stream", stream, "id", m.ID, "err", err)
		b.ack(ctx, c, m.ID)
		return
	}
	reply, err := b.handle(ctx, e, h)
	if err != nil && ctx.Err() != nil {
		c.Release(m.ID) // shutting down: leave it pending for redelivery
		return
	}
	if err != nil {
		b.log.Warn("event dead-lettered", "type", e.Type(), "subject", e.Subject(), "err", err)
		b.rdb.XAdd(ctx, &redis.XAddArgs{Stream: b.DeadLetterStream(), MaxLen: b.MaxLen, Approx: true,
			Values: []any{"e", raw, "error", err.Error(), "from", stream}})
		if dead != nil {
			reply, err = dead(ctx, e, err)
			if err != nil {
				b.log.Error("dead letter handler failed", "type", e.Type(), "err", err)
			}
		}
	}
	if reply != nil {
		// The reply and the acknowledgement go in one round trip. If it fails the event
		// stays pending and is redelivered; the handler replays its stored outcome.
		ack := func(p redis.Pipeliner) { c.AckIn(context.WithoutCancel(ctx), p, m.ID) }
		if err := b.publish(ctx, ack, *reply); err != nil {
			b.log.Error("publish reply", "type", reply.Type(), "err", err)
		}
		c.Release(m.ID)
		return
	}
	b.ack(ctx, c, m.ID)
}

// handle runs h with the retry policy: transient errors are retried with exponential
// backoff and jitter, permanent ones are returned at once.
func (b *RedisBroker) handle(ctx context.Context, e cloudevents.Event, h Handler) (*cloudevents.Event, error) {
	delay := b.Backoff
	var err error
	for attempt := 1; ; attempt++ {
		var reply *cloudevents.Event
		reply, err = h(ctx, e)
		if err == nil {
			return reply, nil
		}
		if errs.IsPermanent(err) || attempt >= b.MaxAttempts {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay + time.Duration(rand.Int64N(int64(delay)/2+1))):
		}
		delay *= 2
	}
}

func (b *RedisBroker) ack(ctx context.Context, c *streams.Consumer, id string) {
	if err := c.Ack(ctx, id); err != nil {
		b.log.Warn("ack", "err", err)
	}
}
