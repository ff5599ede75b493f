package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/devredis"
	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// delivery is one request a sink received.
type delivery struct {
	ID, Type, Subject string
	Header            http.Header
	Body              []byte
	Status            int // what the sink answered
}

// sink is an HTTP sink on 127.0.0.1 that answers with status(n) to its n-th request
// (from 0) and records them all.
type sink struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	status func(n int) int
	signal chan struct{}
}

func newSink(t testing.TB, status func(n int) int) *sink {
	k := &sink{status: status, signal: make(chan struct{}, 1)}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		k.mu.Lock()
		code := http.StatusOK
		if k.status != nil {
			code = k.status(len(k.got))
		}
		k.got = append(k.got, delivery{ID: r.Header.Get("ce-id"), Type: r.Header.Get("ce-type"), Subject: r.Header.Get("ce-subject"),
			Header: r.Header.Clone(), Body: body, Status: code})
		k.mu.Unlock()
		select {
		case k.signal <- struct{}{}:
		default:
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(k.Close)
	return k
}

func (k *sink) setStatus(f func(n int) int) {
	k.mu.Lock()
	k.status = f
	k.mu.Unlock()
}

func (k *sink) deliveries() []delivery {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.got)
}

// wait waits until ok holds of what the sink received.
func (k *sink) wait(t testing.TB, what string, ok func([]delivery) bool) []delivery {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := k.deliveries(); ok(got) {
			return got
		}
		select {
		case <-k.signal:
		case <-deadline:
			t.Fatalf("sink %s: waited in vain for %s; got %v", k.URL, what, typesOf(k.deliveries()))
		}
	}
}

func typesOf(ds []delivery) []string {
	var out []string
	for _, d := range ds {
		if d.Status/100 == 2 {
			out = append(out, d.Type+" "+d.Subject)
		}
	}
	return out
}

// fastOptions retry at once and notice changes quickly; they do not trim events:out
// within a test (TrimEvery is an hour), since the tests read it after the fact.
func fastOptions() notify.Options {
	return notify.Options{Consumer: "test", Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, Attempts: 3,
		Block: 20 * time.Millisecond, Reload: time.Hour, Timeout: 5 * time.Second, TrimEvery: time.Hour, Logger: slog.New(slog.DiscardHandler),
		Sinks: &egress.Policy{Allow: egress.Loopback}} // the test sinks are on loopback
}

// redisStore is a store with the client and key prefix it was made with, which the
// service is given beside it.
type redisStore struct {
	*store.Store
	rdb    redis.UniversalClient
	prefix string
}

func newRedisStore(rdb redis.UniversalClient, prefix string) redisStore {
	return redisStore{store.New(rdb, prefix), rdb, prefix}
}

func start(t testing.TB, s redisStore, o notify.Options) *notify.Service {
	t.Helper()
	sv, err := notify.Start(t.Context(), s.rdb, s.prefix, s.Store, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sv.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return sv
}

// waitIdle waits until the service has derived every outbox entry and ended every
// delivery of every event: nothing unread or unacknowledged in either stream.
func waitIdle(t testing.TB, s redisStore) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	idle := func(stream, group string) bool {
		groups, err := s.rdb.XInfoGroups(t.Context(), stream).Result()
		if err != nil {
			return false
		}
		last, err := s.rdb.XRevRangeN(t.Context(), stream, "+", "-", 1).Result()
		if err != nil {
			return false
		}
		for _, g := range groups {
			if g.Name == group {
				return g.Pending == 0 && (len(last) == 0 || g.LastDeliveredID == last[0].ID)
			}
		}
		return false
	}
	for !idle(s.OutboxStream(), notify.DeriveGroup) || !idle(notify.EventsStream(s.prefix), notify.DispatchGroup) {
		if time.Now().After(deadline) {
			t.Fatal("the service did not become idle")
		}
		<-tick.C
	}
}

// world is a tenant with two projects, each with a security group of its users.
type world struct {
	s                 redisStore
	tenant            *model.Tenant
	p1, p2            *model.Project
	admin, t1, u1, u2 model.Caller
}

func newWorld(t *testing.T) *world { return newWorldOn(t, testStore(t)) }

// testStore is a store on the test Redis.
func testStore(t testing.TB) redisStore {
	return newRedisStore(storetest.Client(t), storetest.Prefix(t))
}

// embedded is a store on the dev cloud's in-process Redis.
func embedded(t *testing.T) redisStore {
	e, err := devredis.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	opt, _ := keyspace.ParseURL(e.URL())
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return newRedisStore(c, "")
}

func newWorldOn(t *testing.T, s redisStore) *world {
	ctx := t.Context()
	w := &world{s: s,
		admin: model.Caller{Subject: "root", Groups: []string{policy.SystemAdminsGroup}},
		t1:    model.Caller{Subject: "ta", Groups: []string{"acme-admins"}},
		u1:    model.Caller{Subject: "u1", Groups: []string{"p1-users"}},
		u2:    model.Caller{Subject: "u2", Groups: []string{"p2-users"}},
	}
	w.tenant = &model.Tenant{ID: "acme", Name: "acme", SecurityGroups: []string{"acme-admins"}, CreatedAt: s.Now()}
	if err := s.CreateTenant(ctx, w.tenant, s.NewTask("tt", "CREATE_TENANT", model.Entity{ID: "acme", Kind: model.KindTenant}, w.admin, nil)); err != nil {
		t.Fatal(err)
	}
	for i, p := range []**model.Project{&w.p1, &w.p2} {
		id := fmt.Sprintf("p%d", i+1)
		*p = &model.Project{ID: id, TenantID: "acme", Name: id, SecurityGroups: []string{id + "-users"}, CreatedAt: s.Now()}
		if err := s.CreateProject(ctx, *p, s.NewTask("t"+id, "CREATE_PROJECT", model.Entity{ID: id, Kind: model.KindProject}, w.t1, nil)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *world) subscribe(t *testing.T, sub *store.Subscription) *store.Subscription {
	t.Helper()
	if err := w.s.CreateSubscription(t.Context(), sub, nil); err != nil {
		t.Fatal(err)
	}
	return sub
}

// vmLife creates a VM with its task and starts it, then completes the task.
func (w *world) vmLife(t *testing.T, p *model.Project, id string) {
	t.Helper()
	ctx := t.Context()
	task := w.s.NewTask("task-"+id, "CREATE_VM", model.Entity{ID: id, Kind: model.KindVM}, w.u1, []string{"boot"})
	task.TenantID, task.ProjectID = p.TenantID, p.ID
	vm := &model.VM{ID: id, Name: id, TenantID: p.TenantID, ProjectID: p.ID, State: model.VMCreating, ActiveTask: task.ID, CreatedAt: w.s.Now()}
	if err := w.s.CreateVM(ctx, vm, task); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(ctx, w.s.Store, model.KindVM, id, func(v *model.VM) error { v.State, v.ActiveTask = model.VMStarted, ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.UpdateTask(ctx, task.ID, func(tk *model.Task) error { tk.State = model.TaskCompleted; return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestSubscriptionFilters(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	type sub struct {
		name string
		sub  store.Subscription
		want []string // exactly these, in order; nil: check only All
		all  []string // at least these
	}
	subs := []*sub{
		{name: "system, administrator", sub: store.Subscription{Owner: w.admin},
			all: []string{"io.photon.vm.created vm-a", "io.photon.vm.started vm-a", "io.photon.vm.created vm-b", "io.photon.task.completed task-vm-b"}},
		{name: "system, not an administrator", sub: store.Subscription{Owner: w.u1}, want: []string{}},
		{name: "project p1, vm events", sub: store.Subscription{Owner: w.u1, TenantID: "acme", ProjectID: "p1", Types: []string{"io.photon.vm.*"}},
			want: []string{"io.photon.vm.created vm-a", "io.photon.vm.started vm-a"}},
		{name: "project p1, owner of p2 only", sub: store.Subscription{Owner: w.u2, TenantID: "acme", ProjectID: "p1"}, want: []string{}},
		{name: "tenant, completed tasks", sub: store.Subscription{Owner: w.t1, TenantID: "acme", Types: []string{"io.photon.task.completed"}},
			want: []string{"io.photon.task.completed task-vm-a", "io.photon.task.completed task-vm-b"}},
		{name: "subject prefix", sub: store.Subscription{Owner: w.admin, SubjectPrefix: "vm-b", Types: []string{"io.photon.vm.started", "io.photon.vm.created"}},
			want: []string{"io.photon.vm.created vm-b", "io.photon.vm.started vm-b"}},
	}
	sinks := make([]*sink, len(subs))
	for i, sc := range subs {
		sinks[i] = newSink(t, nil)
		sc.sub.Sink = sinks[i].URL + "/hook"
		w.subscribe(t, &sc.sub)
	}
	start(t, w.s, fastOptions())
	w.vmLife(t, w.p1, "vm-a")
	w.vmLife(t, w.p2, "vm-b")
	waitIdle(t, w.s)
	for i, sc := range subs {
		t.Run(sc.name, func(t *testing.T) {
			got := typesOf(sinks[i].deliveries())
			if sc.want != nil && !slices.Equal(got, sc.want) && !(len(got) == 0 && len(sc.want) == 0) {
				t.Errorf("got %q, want %q", got, sc.want)
			}
			for _, x := range sc.all {
				if !slices.Contains(got, x) {
					t.Errorf("%s missing from %q", x, got)
				}
			}
			for _, d := range sinks[i].deliveries() {
				if err := notify.Verify(sc.sub.Secret, d.Header.Get(notify.SignatureHeader), d.Body, time.Minute); err != nil {
					t.Errorf("delivery %s: %v", d.ID, err)
				}
				var data notify.Data
				if err := json.Unmarshal(d.Body, &data); err != nil || data.ID != d.Subject {
					t.Errorf("delivery %s body %s: %v", d.ID, d.Body, err)
				}
				if d.Header.Get("ce-specversion") != "1.0" || d.Header.Get("ce-source") != notify.Source ||
					d.Header.Get("Content-Type") != "application/json" || d.Header.Get("ce-tenantid") != data.TenantID ||
					d.Header.Get("ce-projectid") != data.ProjectID {
					t.Errorf("delivery %s headers: %v", d.ID, d.Header)
				}
			}
		})
	}
}

func TestDerivedEvents(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(*testing.T) redisStore{"redis": func(t *testing.T) redisStore { return testStore(t) }, "embedded": embedded} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testDerivedEvents(t, newWorldOn(t, open(t)))
		})
	}
}

func testDerivedEvents(t *testing.T, w *world) {
	ctx := t.Context()
	s := w.s
	start(t, s, fastOptions())
	w.vmLife(t, w.p1, "vm-a")
	if err := s.RegisterHost(ctx, model.Host{ID: "h1", CPUCores: 4, MemoryMB: 1024, State: model.HostReady}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := s.HeartbeatHost(ctx, "h1", model.HostUsage{CPUUsedMhz: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateHost(ctx, "h1", func(h *model.Host) error { h.State = model.HostMaintenance; return nil }); err != nil {
		t.Fatal(err)
	}
	failed := s.NewTask("tf", "STOP_VM", model.Entity{ID: "vm-a", Kind: model.KindVM}, w.u1, []string{"poweroff"})
	if err := s.Apply(ctx, s.AddTask(new(store.Batch), failed)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateTask(ctx, "tf", func(tk *model.Task) error { tk.State = model.TaskError; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveVM(ctx, &model.VM{ID: "vm-a", ProjectID: "p1"}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, s)
	msgs, err := s.rdb.XRange(ctx, notify.EventsStream(s.prefix), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		var e struct{ Type, Subject string }
		if err := json.Unmarshal([]byte(m.Values["ce"].(string)), &e); err != nil || e.Type != m.Values["type"] {
			t.Fatalf("entry %v: %v", m.Values, err)
		}
		got = append(got, e.Type+" "+e.Subject)
	}
	want := []string{
		"io.photon.tenant.created acme", "io.photon.task.completed tt",
		"io.photon.project.created p1", "io.photon.task.completed tp1",
		"io.photon.project.created p2", "io.photon.task.completed tp2",
		"io.photon.vm.created vm-a", "io.photon.vm.started vm-a", "io.photon.task.completed task-vm-a",
		"io.photon.host.created h1", "io.photon.host.maintenance h1",
		"io.photon.task.failed tf", "io.photon.vm.deleted vm-a",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
	if n, _ := s.rdb.XLen(ctx, s.OutboxStream()).Result(); n > 100 {
		t.Errorf("the outbox was not trimmed: %d entries", n)
	}
}

func TestDeliveryFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		status       []int // per request; the last repeats
		wantRequests int
		wantDead     int // attempts of the dead letter, 0 for none
	}{
		{"retry then success", []int{503, 429, 200}, 3, 0},
		{"timeouts then success", []int{408, 200}, 2, 0},
		{"permanent refusal", []int{400}, 1, 1},
		{"gone", []int{404}, 1, 1},
		{"retries exhausted", []int{500}, 3, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			ctx := t.Context()
			k := newSink(t, func(n int) int { return tc.status[min(n, len(tc.status)-1)] })
			sub := w.subscribe(t, &store.Subscription{Owner: w.admin, Sink: k.URL, Types: []string{"io.photon.vm.created"}})
			start(t, w.s, fastOptions())
			w.vmLife(t, w.p1, "vm-a")
			waitIdle(t, w.s)
			got := k.deliveries()
			if len(got) != tc.wantRequests {
				t.Fatalf("%d requests, want %d", len(got), tc.wantRequests)
			}
			for _, d := range got {
				if d.ID != got[0].ID {
					t.Fatalf("a retry changed the event id: %s, %s", got[0].ID, d.ID)
				}
			}
			dls, err := w.s.ListDeadLetters(ctx, sub.ID, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantDead == 0 {
				if len(dls.Items) != 0 {
					t.Fatalf("dead letters: %+v", dls.Items)
				}
				return
			}
			if len(dls.Items) != 1 || dls.Items[0].Attempts != tc.wantDead || dls.Items[0].LastStatus != tc.status[len(tc.status)-1] {
				t.Fatalf("dead letters: %+v", dls.Items)
			}
			var e struct{ ID string }
			if err := json.Unmarshal(dls.Items[0].Event, &e); err != nil || e.ID != got[0].ID {
				t.Fatalf("dead letter event %s: %v", dls.Items[0].Event, err)
			}
			// The sink is fixed; the replay delivers the event (and only to this sink).
			k.setStatus(func(int) int { return http.StatusOK })
			if err := w.s.ReplayDeadLetter(ctx, dls.Items[0].ID); err != nil {
				t.Fatal(err)
			}
			k.wait(t, "the replayed event", func(ds []delivery) bool {
				return len(ds) == tc.wantRequests+1 && ds[len(ds)-1].ID == got[0].ID && ds[len(ds)-1].Status == http.StatusOK
			})
			if dls, _ := w.s.ListDeadLetters(ctx, sub.ID, 0, ""); len(dls.Items) != 0 {
				t.Fatalf("dead letters after the replay: %+v", dls.Items)
			}
		})
	}
}

// TestHangingSinkDoesNotDelayOthers: a sink that never answers holds up only its own
// subscription, whose small queue overflows into dead letters; the other sink gets every
// event at once.
func TestHangingSinkDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) }) // runs before hang.Close
	good := newSink(t, nil)
	slow := w.subscribe(t, &store.Subscription{Owner: w.admin, Sink: hang.URL, Types: []string{"io.photon.vm.created"}})
	w.subscribe(t, &store.Subscription{Owner: w.admin, Sink: good.URL, Types: []string{"io.photon.vm.created"}})
	o := fastOptions()
	o.Timeout, o.QueueSize, o.Stall = time.Minute, 2, 50*time.Millisecond
	start(t, w.s, o)
	const n = 8
	began := time.Now()
	for i := range n {
		w.vmLife(t, w.p1, fmt.Sprintf("vm-%d", i))
	}
	// A burst larger than the queues: the working sink's worker keeps up, the hanging
	// one's is stalled.
	good.wait(t, "every vm.created", func(ds []delivery) bool { return len(ds) == n })
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the working sink took %v", d)
	}
	// The hanging sink holds one event and queues two; the rest become dead letters as its
	// stalled queue refuses them, which may end after the working sink has all of them.
	var got int
	for deadline := time.Now().Add(5 * time.Second); ; {
		dls, err := w.s.ListDeadLetters(t.Context(), slow.ID, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if got = len(dls.Items); got >= n-3 || time.Now().After(deadline) {
			break
		}
	}
	if got < n-3 {
		t.Errorf("%d dead letters for the hanging sink, want at least %d", got, n-3)
	}
}

// BenchmarkDispatch measures delivery throughput to one fast sink.
func BenchmarkDispatch(b *testing.B) {
	s := testStore(b)
	ctx := b.Context()
	var mu sync.Mutex
	got, want := 0, 0
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		got++
		if got == want {
			close(done)
		}
		mu.Unlock()
	}))
	b.Cleanup(srv.Close)
	if err := s.CreateSubscription(ctx, &store.Subscription{Owner: model.Caller{Groups: []string{policy.SystemAdminsGroup}}, Sink: srv.URL}, nil); err != nil {
		b.Fatal(err)
	}
	e, _ := notify.Derive(notify.Change{ID: "1-0", Kind: model.KindVM, Op: store.OutboxCreate, EntityID: "vm1",
		New: []byte(`{"id":"vm1","name":"web","tenantId":"t","projectId":"p","state":"CREATING"}`)})
	ce, _ := json.Marshal(e[0])
	want = b.N
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for range b.N {
			p.XAdd(ctx, &redis.XAddArgs{Stream: notify.EventsStream(s.prefix), Values: []any{"type", e[0].Type(), "ce", ce}})
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	began := time.Now()
	start(b, s, fastOptions())
	<-done
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "events/s")
}

// TestSinkRefusedAtDelivery: a sink whose name resolves to loopback when it is delivered
// to (after it passed the gateway's check: DNS rebinding, as shared/egress tests) gets
// nothing; the refusal is a dead letter at once, saying why.
func TestSinkRefusedAtDelivery(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	k := newSink(t, nil)
	_, port, _ := net.SplitHostPort(k.Listener.Addr().String())
	sub := w.subscribe(t, &store.Subscription{Owner: w.admin, Sink: "https://sink.example.com:" + port + "/hook", Types: []string{"io.photon.vm.created"}})
	o := fastOptions()
	o.Sinks = &egress.Policy{Resolver: egress.ResolverFunc(func(context.Context, string, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})}
	start(t, w.s, o)
	w.vmLife(t, w.p1, "vm-a")
	waitIdle(t, w.s)
	if got := k.deliveries(); len(got) != 0 {
		t.Fatalf("the sink on loopback got %d requests", len(got))
	}
	dls, err := w.s.ListDeadLetters(t.Context(), sub.ID, 0, "")
	if err != nil || len(dls.Items) != 1 || dls.Items[0].Attempts != 1 || !strings.Contains(dls.Items[0].LastError, "loopback") {
		t.Fatalf("dead letters: %+v %v", dls.Items, err)
	}
}
