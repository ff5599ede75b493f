package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/streams"
)

// Consumer groups of the service. Other readers of EventsStream use groups of their own.
const (
	DeriveGroup   = "notify-derive"
	DispatchGroup = "notify-dispatch"
)

// EventsMaxLen bounds EventsStream (MAXLEN ~); an entry is about 1 KB.
const EventsMaxLen = 1_000_000

// DefaultEventsMaxAge is how long EventsStream keeps an event some consumer group has not
// read (Options.EventsMaxAge); what every group read goes sooner (Service trims it).
const DefaultEventsMaxAge = 24 * time.Hour

// EventsStream is the stream of outbound events, <prefix>{store}:events:out. Each entry has the
// fields "type" (the event type, for readers that filter before decoding) and "ce" (the
// CloudEvent in structured JSON form, data inline). Entries are in commit order of the
// changes they come from. Read it with a consumer group of your own.
//
// It is in the store's key space (keyspace.Store): the deriver appends to it and
// acknowledges the outbox in one MULTI.
func EventsStream(prefix string) string { return keyspace.Space(prefix, keyspace.Store) + "events:out" }

// deriver turns outbox entries into outbound events.
type deriver struct {
	rdb     redis.UniversalClient
	c       *streams.Consumer
	out     string // EventsStream
	backoff time.Duration
	log     *slog.Logger
}

func (d *deriver) run(ctx context.Context) {
	d.c.Run(ctx, 256, func(ctx context.Context, msgs []redis.XMessage) {
		// The same batch again until it is written: the events stay in commit order.
		for n := 1; ; n++ {
			err := d.handle(ctx, msgs)
			if err == nil || ctx.Err() != nil {
				return
			}
			d.log.Warn("notify: derive", "err", err)
			if !sleepCtx(ctx, backoff(n, d.backoff, 5*time.Second)) {
				return
			}
		}
	})
}

// handle derives the events of msgs and, in one transaction, appends them to the events
// stream and acknowledges msgs: a crash before leaves msgs pending for the next run, which
// derives the same events (ids included) again.
func (d *deriver) handle(ctx context.Context, msgs []redis.XMessage) error {
	ids := make([]string, len(msgs))
	_, err := d.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, m := range msgs {
			ids[i] = m.ID
			evs, err := Derive(changeOf(m.ID, m.Values))
			if err != nil {
				d.log.Warn("notify: skip outbox entry", "id", m.ID, "err", err) // a record that does not decode will not later
				continue
			}
			for _, e := range evs {
				ce, err := json.Marshal(e)
				if err != nil {
					return err
				}
				p.XAdd(ctx, &redis.XAddArgs{Stream: d.out, MaxLen: EventsMaxLen, Approx: true,
					Values: []any{"type", e.Type(), "ce", ce}})
			}
		}
		d.c.AckIn(ctx, p, ids...)
		return nil
	})
	if err != nil {
		return err
	}
	return d.trim(ctx)
}

// trim drops the outbox entries every deriver is done with (streams.Trim).
func (d *deriver) trim(ctx context.Context) error {
	_, err := streams.Trim(ctx, d.rdb, streams.Retention{Stream: d.c.Stream(), Acked: true})
	return err
}
