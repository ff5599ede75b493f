package gateway

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// withStart gives each task the event that starts chain for it (events.Chain.WithStart).
func withStart(ctx context.Context, chain *events.Chain, tenantID string, tasks ...*model.Task) {
	chain.WithStart(ctx, "photon/gateway", tenantID, tasks...)
}

// relay publishes the starts stream's events to the broker (see store.StartsStream):
// every gateway runs one, under a name of its own, and claims what a relay that died
// left unacknowledged.
type relay struct {
	store  *store.Store
	broker events.Broker
	log    *slog.Logger
	name   string
	// ClaimIdle is how long a start may stay unacknowledged before another relay takes it
	// over; Backoff is the first wait after a failed publish, doubling up to a second.
	claimIdle, backoff time.Duration
}

// relayBatch is the most starts one publish carries (a bulk create's are read together).
const relayBatch = 512

func newRelay(s *store.Store, b events.Broker, log *slog.Logger, name string, claimIdle time.Duration) *relay {
	return &relay{store: s, broker: b, log: log, name: name, claimIdle: claimIdle, backoff: 50 * time.Millisecond}
}

// run relays until ctx ends. Starts it reads stay pending until published; when ctx
// ends with some in hand, another relay claims them. It first forgets the relays of
// gateways long gone, so that the group does not grow with every gateway ever started.
func (r *relay) run(ctx context.Context) {
	if err := r.store.PruneStartConsumers(ctx, 10*r.claimIdle); err != nil && ctx.Err() == nil {
		r.log.Warn("relay: prune", "err", err)
	}
	var starts *store.StartsReader
	for ctx.Err() == nil {
		var err error
		if starts, err = r.store.OpenStarts(ctx, r.name, r.claimIdle, r.log); err == nil {
			break
		}
		r.log.Warn("relay: open the starts stream", "err", err)
		r.wait(ctx, time.Second)
	}
	if starts == nil {
		return
	}
	defer starts.Close()
	for ctx.Err() == nil {
		batch, err := starts.Next(ctx, relayBatch)
		if err == nil {
			r.publish(ctx, starts, batch)
		}
	}
}

// publish sends batch to the broker until it takes it (or ctx ends), then acknowledges
// it; the reader renews its hold on the batch meanwhile, so no other relay takes it over
// while the broker is down. A start the broker refuses for good fails its task.
func (r *relay) publish(ctx context.Context, starts *store.StartsReader, batch []store.Start) {
	if len(batch) == 0 {
		return
	}
	es := make([]cloudevents.Event, 0, len(batch))
	ids := make([]string, 0, len(batch))
	for _, st := range batch {
		var e cloudevents.Event
		if err := json.Unmarshal(st.Event, &e); err != nil {
			r.log.Error("relay: undecodable start dropped", "id", st.ID, "err", err)
		} else {
			es = append(es, e)
		}
		ids = append(ids, st.ID)
	}
	for delay := r.backoff; ctx.Err() == nil; delay = min(2*delay, time.Second) {
		err := r.broker.Publish(ctx, es...)
		if err == nil {
			break
		}
		if errs.IsPermanent(err) {
			r.refused(ctx, es)
			break
		}
		r.log.Warn("relay: publish starts", "events", len(es), "err", err)
		r.wait(ctx, delay)
	}
	if ctx.Err() != nil {
		starts.Release(ids...) // left pending: this or another relay publishes them again
		return
	}
	if err := starts.Ack(ctx, ids...); err != nil {
		r.log.Warn("relay: acknowledge starts", "err", err) // published again after claimIdle: steps replay
	}
}

// refused publishes es one by one after the broker refused them together, and fails the
// task of each one it refuses for good, so that its entity is released.
func (r *relay) refused(ctx context.Context, es []cloudevents.Event) {
	for _, e := range es {
		for delay := r.backoff; ctx.Err() == nil; delay = min(2*delay, time.Second) {
			err := r.broker.Publish(ctx, e)
			if err == nil {
				break
			}
			if errs.IsPermanent(err) {
				task, _ := e.Extensions()[events.ExtTaskID].(string)
				if task == "" {
					r.log.Error("relay: signal refused", "type", e.Type(), "subject", e.Subject(), "err", err)
					break // a signal (events.Signal) has no task to fail
				}
				r.log.Error("relay: start refused, task failed", "task", task, "type", e.Type(), "err", err)
				cause := errs.New(errs.CodeUnavailable, "could not start %s: %v", e.Type(), err)
				if ferr := r.store.FailStart(context.WithoutCancel(ctx), task, cause); ferr != nil {
					r.log.Error("relay: fail task", "task", task, "err", ferr)
				}
				break
			}
			r.wait(ctx, delay)
		}
	}
}

func (r *relay) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// wakeEvery is how often a gateway wakes the awaiting steps whose deadline passed.
const wakeEvery = time.Second

// wakeDue wakes, until ctx ends, the steps that await past their deadline
// (store.WakeDue): their events go to the starts stream for the relay. Every gateway
// does it; a wake is one script, so two at once wake a step once.
func (c *core) wakeDue(ctx context.Context) {
	t := time.NewTicker(wakeEvery)
	defer t.Stop()
	for {
		if _, err := c.store.WakeDue(ctx, relayBatch); err != nil && ctx.Err() == nil {
			c.log.Warn("relay: wake due steps", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
