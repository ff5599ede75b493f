package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/notify/rules"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// actor records the actions it accepts; at its block-th call it signals blocked and
// waits for the engine to be stopped, so the event in hand is neither acted on nor
// acknowledged.
type actor struct {
	mu      sync.Mutex
	calls   int
	block   int // 0: never
	blocked chan struct{}
	acted   map[string][]string // the matching event's id: the actions' subjects
	changed chan struct{}
}

func newActor(block int) *actor {
	return &actor{block: block, blocked: make(chan struct{}), acted: map[string][]string{}, changed: make(chan struct{}, 1)}
}

func (a *actor) ActAs(ctx context.Context, r *store.Rule, e cloudevents.Event, started func(string)) error {
	a.mu.Lock()
	a.calls++
	block := a.calls == a.block
	a.mu.Unlock()
	if block {
		close(a.blocked)
		<-ctx.Done()
		return ctx.Err()
	}
	started("task-" + e.ID())
	a.mu.Lock()
	a.acted[e.Subject()] = append(a.acted[e.Subject()], e.ID())
	a.mu.Unlock()
	select {
	case a.changed <- struct{}{}:
	default:
	}
	return nil
}

// snapshot is how often each subject was acted on.
func (a *actor) snapshot() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for s, ids := range a.acted {
		out[s] = len(ids)
	}
	return out
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestRuleEngineResumesPending: an engine killed between reading events and
// acknowledging them leaves them pending; an engine started after under another consumer
// name acts on them, and every event is acted on exactly once.
func TestRuleEngineResumesPending(t *testing.T) {
	t.Parallel()
	const n, killAt = 10, 4
	ctx := t.Context()
	rdb, prefix := storetest.Client(t), storetest.Prefix(t)
	s := store.New(rdb, prefix)
	admin := model.Caller{Subject: "root"}
	r := &store.Rule{ID: "r1", Name: "tag", Owner: admin, MaxPerMinute: 600, CreatedAt: s.Now(),
		Filter:  store.RuleFilter{Types: []string{"io.photon.vm.error"}},
		Actions: []store.RuleAction{{Type: "io.photon.vm.tag.requested", Subject: "{{.Subject}}", Data: `{"value":"seen"}`}}}
	if err := s.CreateRule(ctx, r, s.NewTask("t-r1", "CREATE_RULE", model.Entity{ID: r.ID, Kind: store.KindRule}, admin, nil)); err != nil {
		t.Fatal(err)
	}

	a := newActor(killAt)
	first, err := rules.Start(ctx, rdb, prefix, s, a, rules.Options{Consumer: "a", Block: 10 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	_, err = rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range n {
			vm := fmt.Sprintf("vm-%02d", i)
			want = append(want, vm)
			ce, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "e-" + vm, "source": notify.Source,
				"type": "io.photon.vm.error", "subject": vm})
			p.XAdd(ctx, &redis.XAddArgs{Stream: notify.EventsStream(prefix), Values: []any{"type", "io.photon.vm.error", "ce", ce}})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.blocked:
	case <-time.After(10 * time.Second):
		t.Fatal("the engine did not act")
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	before := a.snapshot()
	if len(before) != killAt-1 {
		t.Fatalf("acted on %v before the kill, want %d events", before, killAt-1)
	}

	second, err := rules.Start(ctx, rdb, prefix, s, a, rules.Options{Consumer: "b", ClaimIdle: 300 * time.Millisecond,
		Block: 10 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { second.Close(context.WithoutCancel(ctx)) })
	deadline := time.After(10 * time.Second)
	for len(a.snapshot()) < n || pending(t, rdb, prefix) > 0 {
		select {
		case <-a.changed:
		case <-time.After(20 * time.Millisecond): // the last acknowledgement follows the last action
		case <-deadline:
			t.Fatalf("acted on %v, %d pending", a.snapshot(), pending(t, rdb, prefix))
		}
	}
	got := a.snapshot()
	for _, vm := range want {
		if got[vm] != 1 {
			t.Errorf("%s acted on %d times, want once", vm, got[vm])
		}
	}
	if d, err := s.RuleDepth(ctx, "task-"+ruleEventID(t, a, want[n-1])); err != nil || d != 1 {
		t.Errorf("the depth of a rule's task: %d (%v), want 1", d, err)
	}
}

// pending is how many events the engines' group has read and not acknowledged.
func pending(t *testing.T, rdb redis.UniversalClient, prefix string) int64 {
	p, err := rdb.XPending(t.Context(), notify.EventsStream(prefix), rules.Group).Result()
	if err != nil {
		t.Fatal(err)
	}
	return p.Count
}

func ruleEventID(t *testing.T, a *actor, subject string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.acted[subject]) == 0 {
		t.Fatalf("no action on %s", subject)
	}
	return a.acted[subject][0]
}

// TestRuleMatching: which events a rule acts on, and the inbound events it sends.
func TestRuleMatching(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	rdb, prefix := storetest.Client(t), storetest.Prefix(t)
	s := store.New(rdb, prefix)
	owner := model.Caller{Subject: "pat"}
	r := &store.Rule{ID: "r1", Name: "reap", ProjectID: "p1", Owner: owner, MaxPerMinute: 600, CreatedAt: s.Now(),
		Filter: store.RuleFilter{Types: []string{"io.photon.vm.*"}, SubjectPrefix: "vm-", Data: map[string]string{"state": "ERROR"}},
		Actions: []store.RuleAction{{Type: "io.photon.vm.delete.requested", Subject: "{{.Subject}}"},
			{Type: "io.photon.vm.tag.requested", Subject: "{{.Subject}}", Data: `{"value":"was-{{.Data.name}}"}`}}}
	task := func(id, kind string) *model.Task {
		return s.NewTask("t-"+id, "CREATE", model.Entity{ID: id, Kind: kind}, owner, nil)
	}
	// The rule's project must exist for the store to take the rule.
	if err := s.CreateTenant(ctx, &model.Tenant{ID: "t1", Name: "t1"}, task("t1", model.KindTenant)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProject(ctx, &model.Project{ID: "p1", TenantID: "t1", Name: "p1"}, task("p1", model.KindProject)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRule(ctx, r, task("r1", store.KindRule)); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                  string
		typ, subject, project string
		data                  map[string]any
		wantActs              int
	}{
		{"matches", "io.photon.vm.error", "vm-1", "p1", map[string]any{"state": "ERROR", "name": "web"}, 2},
		{"another project", "io.photon.vm.error", "vm-2", "p2", map[string]any{"state": "ERROR"}, 0},
		{"another type", "io.photon.disk.error", "vm-3", "p1", map[string]any{"state": "ERROR"}, 0},
		{"another subject", "io.photon.vm.error", "disk-4", "p1", map[string]any{"state": "ERROR"}, 0},
		{"another state", "io.photon.vm.stopped", "vm-5", "p1", map[string]any{"state": "STOPPED"}, 0},
	}
	rec := &recorder{}
	en, err := rules.Start(ctx, rdb, prefix, s, rec, rules.Options{Block: 10 * time.Millisecond, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { en.Close(context.WithoutCancel(ctx)) })
	for _, tc := range cases {
		ce, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "e-" + tc.subject, "source": notify.Source, "type": tc.typ,
			"subject": tc.subject, "projectid": tc.project, "datacontenttype": "application/json", "data": tc.data})
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: notify.EventsStream(prefix), Values: []any{"type", tc.typ, "ce", ce}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Read, then acknowledged: in this order, so no event is still in hand.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); !allRead(t, rdb, prefix) || pending(t, rdb, prefix) > 0; <-tick.C {
		if time.Now().After(deadline) {
			t.Fatal("the engine did not read every event")
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := rec.on(tc.subject)
			if len(got) != tc.wantActs {
				t.Fatalf("%d actions, want %d: %v", len(got), tc.wantActs, got)
			}
			if tc.wantActs == 0 {
				return
			}
			if got[0].Type() != "io.photon.vm.delete.requested" || got[1].Type() != "io.photon.vm.tag.requested" ||
				string(got[1].Data()) != `{"value":"was-web"}` || got[0].Source() != "photon/rules/r1" || got[0].ID() == got[1].ID() {
				t.Fatalf("actions %v", got)
			}
		})
	}
}

// recorder is an actor that records every action.
type recorder struct {
	mu   sync.Mutex
	sent []cloudevents.Event
}

func (rc *recorder) ActAs(_ context.Context, _ *store.Rule, e cloudevents.Event, _ func(string)) error {
	rc.mu.Lock()
	rc.sent = append(rc.sent, e)
	rc.mu.Unlock()
	return nil
}

func (rc *recorder) on(subject string) []cloudevents.Event {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []cloudevents.Event
	for _, e := range rc.sent {
		if e.Subject() == subject {
			out = append(out, e)
		}
	}
	return out
}

// allRead reports whether the engines' group has read the stream's last entry.
func allRead(t *testing.T, rdb redis.UniversalClient, prefix string) bool {
	last, err := rdb.XRevRangeN(t.Context(), notify.EventsStream(prefix), "+", "-", 1).Result()
	if err != nil || len(last) == 0 {
		return false
	}
	gs, err := rdb.XInfoGroups(t.Context(), notify.EventsStream(prefix)).Result()
	return err == nil && slices.ContainsFunc(gs, func(g redis.XInfoGroup) bool {
		return g.Name == rules.Group && g.LastDeliveredID == last[0].ID
	})
}
