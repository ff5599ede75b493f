package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/streams"
)

// dispatcher reads EventsStream and the replay stream and hands each event to the worker
// of every subscription that wants it. Each subscription has its own bounded queue and
// worker, so a slow or dead sink holds up only its own deliveries. A full queue of a
// working subscription holds up reading (backpressure: its worker frees room soon); a
// full queue of a stalled one (its delivery has run longer than Options.Stall: a sink
// that hangs or keeps failing) takes nothing, and the event is dead-lettered at once. An entry is acknowledged when every
// delivery it was handed to has ended (delivered or dead-lettered), so one a stop cuts
// short is read again by the next run.
type dispatcher struct {
	s      *store.Store
	opts   Options
	client *http.Client
	log    *slog.Logger

	mu      sync.Mutex
	workers map[string]*worker
	ver     string
	loaded  time.Time
	wg      sync.WaitGroup // workers
}

// worker delivers one subscription's events in order.
type worker struct {
	sub     *store.Subscription
	visible bool // the owner may see the subscription's scope (checked at load)
	q       chan job
	cancel  context.CancelFunc
	busy    atomic.Int64 // when the delivery in hand began (unix ns), 0 when idle
}

// enqueue puts j on w's queue, waiting for room while w is not stalled. It reports
// whether w took j.
func (d *dispatcher) enqueue(ctx context.Context, w *worker, j job) bool {
	select {
	case w.q <- j:
		return true
	default:
	}
	for {
		wait := d.opts.Stall
		if since := w.busy.Load(); since != 0 {
			wait -= time.Since(time.Unix(0, since))
		}
		if wait <= 0 {
			return false
		}
		t := time.NewTimer(wait)
		select {
		case w.q <- j:
			t.Stop()
			return true
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

type job struct {
	e    *cloudevents.Event
	raw  []byte // structured JSON, for a dead letter
	done func()
}

// route hands one stream entry to the workers that want it; ack runs once they are all done.
func (d *dispatcher) route(ctx context.Context, raw []byte, only string, ack func()) {
	e := new(cloudevents.Event)
	if err := json.Unmarshal(raw, e); err != nil {
		d.log.Warn("notify: undecodable event", "err", err)
		ack()
		return
	}
	tenant, _ := e.Extensions()[ExtTenantID].(string)
	project, _ := e.Extensions()[ExtProjectID].(string)
	var targets []*worker
	d.mu.Lock()
	for id, w := range d.workers {
		if only != "" && id != only {
			continue
		}
		if w.visible && (only != "" || w.sub.Wants(e.Type(), e.Subject()) && matchesScope(w.sub, tenant, project)) {
			targets = append(targets, w)
		}
	}
	d.mu.Unlock()
	left := atomic.Int32{}
	left.Store(int32(len(targets)) + 1)
	done := func() {
		if left.Add(-1) == 0 {
			ack()
		}
	}
	for _, w := range targets {
		if !d.enqueue(ctx, w, job{e: e, raw: raw, done: done}) {
			if ctx.Err() == nil {
				d.deadLetter(ctx, w.sub, raw, 0, 0, errors.New("subscription stalled, its queue full"))
				done()
			}
		}
	}
	done()
}

// matchesScope reports whether an event belongs to a subscription's scope.
func matchesScope(sub *store.Subscription, tenant, project string) bool {
	switch {
	case sub.ProjectID != "":
		return project == sub.ProjectID
	case sub.TenantID != "":
		return tenant == sub.TenantID
	}
	return true
}

// mayReceive reports whether sub's owner may see its scope (MaySee).
func (d *dispatcher) mayReceive(ctx context.Context, sub *store.Subscription) (bool, error) {
	return MaySee(ctx, d.s, sub.Owner, sub.TenantID, sub.ProjectID)
}

// reload loads the subscriptions again if they changed or the owners' rights are due to
// be checked again (Options.Reload); it starts and stops workers accordingly.
func (d *dispatcher) reload(ctx context.Context, force bool) error {
	ver, err := d.s.Version(ctx, store.KindSubscription)
	if err != nil {
		return err
	}
	d.mu.Lock()
	stale := force || ver != d.ver || time.Since(d.loaded) > d.opts.Reload
	d.mu.Unlock()
	if !stale {
		return nil
	}
	subs := map[string]*store.Subscription{}
	cursor := ""
	for {
		page, err := d.s.ListSubscriptions(ctx, store.MaxPageSize, cursor)
		if err != nil {
			return err
		}
		for _, sub := range page.Items {
			subs[sub.ID] = sub
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	visible := make(map[string]bool, len(subs))
	for id, sub := range subs {
		if visible[id], err = d.mayReceive(ctx, sub); err != nil {
			return err
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, w := range d.workers {
		if _, ok := subs[id]; !ok {
			w.cancel()
			delete(d.workers, id)
		}
	}
	for id, sub := range subs {
		if w, ok := d.workers[id]; ok {
			w.sub, w.visible = sub, visible[id]
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		w := &worker{sub: sub, visible: visible[id], q: make(chan job, d.opts.QueueSize), cancel: cancel}
		d.workers[id] = w
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.work(wctx, w)
		}()
	}
	d.ver, d.loaded = ver, time.Now()
	return nil
}

// work delivers w's queue until ctx ends. Jobs left when the subscription is deleted are
// dropped (acknowledged); jobs left at a stop are not, so they are read again.
func (d *dispatcher) work(ctx context.Context, w *worker) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-w.q:
			d.mu.Lock()
			sub := w.sub
			d.mu.Unlock()
			w.busy.Store(time.Now().UnixNano())
			ended := d.deliver(ctx, sub, j)
			w.busy.Store(0)
			if ended || d.deleted(w) {
				j.done()
			}
		}
	}
}

// deleted reports whether w's subscription was deleted.
func (d *dispatcher) deleted(w *worker) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.workers[w.sub.ID] != w
}

// deliver posts j to the sink, retrying with backoff; after a permanent failure or the
// last attempt it records a dead letter. It reports whether the delivery ended (false
// only when ctx ended first).
func (d *dispatcher) deliver(ctx context.Context, sub *store.Subscription, j job) bool {
	var a attempt
	start := time.Now()
	for n := 1; ; n++ {
		actx, cancel := context.WithTimeout(ctx, d.opts.Timeout)
		a = post(actx, d.client, sub.Sink, sub.Secret, j.e, time.Now())
		cancel()
		if a.err == nil {
			measureDelivery(ctx, start, true)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if a.permanent || n >= d.opts.Attempts {
			d.deadLetter(ctx, sub, j.raw, n, a.status, a.err)
			measureDelivery(ctx, start, false)
			return true
		}
		if !sleepCtx(ctx, backoff(n, d.opts.Backoff, d.opts.MaxBackoff)) {
			return false
		}
	}
}

func (d *dispatcher) deadLetter(ctx context.Context, sub *store.Subscription, raw []byte, attempts, status int, cause error) {
	dl := &store.DeadLetter{SubscriptionID: sub.ID, Event: raw, Attempts: attempts, LastStatus: status, LastError: cause.Error()}
	if err := d.s.AddDeadLetter(context.WithoutCancel(ctx), dl); err != nil {
		d.log.Error("notify: dead letter lost", "subscription", sub.ID, "err", err)
		return
	}
	d.log.Warn("notify: dead letter", "subscription", sub.ID, "id", dl.ID, "attempts", attempts, "err", cause)
}

// run reads a stream (EventsStream, or the replay stream when replay) and routes its
// entries, until ctx ends; then it closes c.
func (d *dispatcher) run(ctx context.Context, c *streams.Consumer, replay bool) {
	defer c.Close()
	acks := &acker{c: c, log: d.log}
	defer acks.flush(context.WithoutCancel(ctx))
	for ctx.Err() == nil {
		if err := d.reload(ctx, false); err != nil && ctx.Err() == nil {
			d.log.Warn("notify: load subscriptions", "err", err)
		}
		msgs, err := c.Next(ctx, 256)
		if err != nil {
			continue // ctx ended
		}
		for _, m := range msgs {
			ce, _ := m.Values["ce"].(string)
			only := ""
			if replay {
				only, _ = m.Values["sub"].(string)
				if only == "" {
					only = "-" // matches no subscription
				}
			}
			d.route(ctx, []byte(ce), only, acks.add(m.ID))
		}
		acks.flush(ctx)
	}
}

// acker acknowledges entries in batches.
type acker struct {
	c   *streams.Consumer
	log *slog.Logger
	mu  sync.Mutex
	ids []string
}

// add returns the function that marks id done.
func (a *acker) add(id string) func() {
	return func() {
		a.mu.Lock()
		a.ids = append(a.ids, id)
		a.mu.Unlock()
	}
}

func (a *acker) flush(ctx context.Context) {
	a.mu.Lock()
	ids := a.ids
	a.ids = nil
	a.mu.Unlock()
	if err := a.c.Ack(ctx, ids...); err != nil {
		a.log.Warn("notify: acknowledge", "err", err)
	}
}
