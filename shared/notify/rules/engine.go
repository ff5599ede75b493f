package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/part"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/streams"
)

const (
	// MaxDepth stops rules firing each other: an action of a rule fired by a change
	// that a rule's action made is one level deeper, and no rule fires at this depth.
	MaxDepth = 3
	// ForEachHostVMs repeats an action for each VM on the event's host.
	ForEachHostVMs = "hostVms"
	// Group is the engines' consumer group on the events stream.
	Group = "rules"
)

// Actor starts operations on behalf of rules; the gateway is one.
type Actor interface {
	// ActAs sends inbound event e as the owner of rule r: authorized, rate limited and
	// audited (naming r) as the owner's own API call would be. It calls started with the
	// id of the task the call makes, before the task is written.
	ActAs(ctx context.Context, r *store.Rule, e cloudevents.Event, started func(task string)) error
}

// Options tune the engine; zero values take the defaults.
type Options struct {
	// Consumer names the engine in the group (default: the host name; shared/streams).
	Consumer string
	// ClaimIdle is how long events a stopped engine read and left unacknowledged wait
	// before a running one takes them over (default 1m).
	ClaimIdle time.Duration
	// Block is how long a read waits for events (default 1s).
	Block  time.Duration
	Logger *slog.Logger
}

// Engine fires the rules on the outbound events until Close.
type Engine struct {
	s      *store.Store
	act    Actor
	log    *slog.Logger
	c      *streams.Consumer
	cancel context.CancelFunc
	wg     sync.WaitGroup

	rules  []*store.Rule
	loaded string // the version of rules; "-" is none yet
}

// Start makes the consumer group and starts the engine: it reads the events stream with
// rdb (its key under prefix), the rules and the depths through s, and acts through act.
func Start(ctx context.Context, rdb redis.UniversalClient, prefix string, s *store.Store, act Actor, o Options) (*Engine, error) {
	defer part.Enter(ctx, part.Rules)()
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c, err := streams.Open(ctx, rdb, streams.Options{Stream: notify.EventsStream(prefix), Group: Group, Consumer: o.Consumer,
		StartID: "$", ClaimIdle: o.ClaimIdle, Block: o.Block, Logger: o.Logger})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("rules: %w", err)
	}
	en := &Engine{s: s, act: act, log: o.Logger, c: c, cancel: cancel, loaded: "-"}
	en.wg.Add(1)
	go func() {
		defer en.wg.Done()
		c.Run(ctx, 64, en.handle)
	}()
	return en, nil
}

// Close stops the engine and waits for it, or for ctx. Events whose rules were cut short
// are not acknowledged: an engine takes them over later.
func (en *Engine) Close(ctx context.Context) error {
	en.cancel()
	done := make(chan struct{})
	go func() { en.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handle fires the rules on a batch of events, acknowledging each event once its rules
// have acted.
func (en *Engine) handle(ctx context.Context, msgs []redis.XMessage) {
	if err := en.load(ctx); err != nil {
		en.log.Warn("rules: read rules; the events are read again later", "err", err)
		return
	}
	for _, m := range msgs {
		if raw, ok := m.Values["ce"].(string); ok {
			var e cloudevents.Event
			if err := json.Unmarshal([]byte(raw), &e); err == nil {
				en.fire(ctx, e)
			}
		}
		if ctx.Err() != nil {
			return // stopped midway: this event and the rest stay pending
		}
		if err := en.c.Ack(ctx, m.ID); err != nil {
			en.log.Warn("rules: acknowledge", "err", err)
		}
	}
}

// load reads the rules as they are now: their version is read for each batch of events
// and the rules again when it changed, so a rule acts on the events that follow its
// creation and not on those after its deletion.
func (en *Engine) load(ctx context.Context) error {
	ver, err := en.s.Version(ctx, store.KindRule)
	if err != nil || ver == en.loaded {
		return err
	}
	rs, err := en.s.AllRules(ctx)
	if err != nil {
		return err
	}
	en.rules, en.loaded = rs, ver
	return nil
}

// fire runs the actions of the rules e matches.
func (en *Engine) fire(ctx context.Context, e cloudevents.Event) {
	depth := -1
	for _, r := range en.rules {
		if !matches(r, e) {
			continue
		}
		if depth < 0 {
			task, _ := e.Extensions()["taskid"].(string)
			d, err := en.s.RuleDepth(ctx, task)
			if err != nil {
				en.log.Warn("rules: read depth", "err", err)
				return
			}
			depth = d
		}
		if depth >= MaxDepth {
			en.log.Warn("rules: not fired: too deep", "rule", r.ID, "event", e.ID(), "depth", depth)
			continue
		}
		ok, err := en.s.Allow(ctx, store.RateCheck{Key: "rule:" + r.ID,
			Limit: store.RateLimit{Rate: float64(r.MaxPerMinute) / 60, Burst: r.MaxPerMinute}})
		if err != nil || !ok.OK {
			en.log.Warn("rules: not fired: over its rate", "rule", r.ID, "event", e.ID(), "err", err)
			continue
		}
		en.actOn(ctx, r, e, depth+1)
	}
}

// actOn sends r's actions for e as r's owner; the tasks they start are recorded at depth.
func (en *Engine) actOn(ctx context.Context, r *store.Rule, e cloudevents.Event, depth int) {
	started := func(task string) {
		if err := en.s.RuleCause(ctx, task, depth); err != nil {
			en.log.Warn("rules: record depth", "rule", r.ID, "task", task, "err", err)
		}
	}
	var data map[string]any
	_ = json.Unmarshal(e.Data(), &data)
	view := map[string]any{"Type": e.Type(), "Subject": e.Subject(), "ID": e.ID(), "Data": data, "Ext": e.Extensions()}
	for i, a := range r.Actions {
		items := []string{""}
		if a.ForEach == ForEachHostVMs {
			vms, err := en.s.VMsOnHost(ctx, e.Subject())
			if err != nil {
				en.log.Warn("rules: host's VMs", "rule", r.ID, "host", e.Subject(), "err", err)
				continue
			}
			items = items[:0]
			for _, vm := range vms {
				items = append(items, vm.ID)
			}
		}
		for _, item := range items {
			view["Item"] = item
			out, err := action(r, i, a, e, item, view)
			if err == nil {
				err = en.act.ActAs(ctx, r, out, started)
			}
			if err != nil {
				en.log.Warn("rules: action failed", "rule", r.ID, "action", i, "event", e.ID(), "err", err)
			}
		}
	}
}
