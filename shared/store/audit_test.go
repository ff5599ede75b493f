package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// auditEvents makes n events a second apart and ending a minute ago, named by Message
// "0".."n-1", with subject, outcome and tenant chosen by attr.
func auditEvents(n int, attr func(i int) (subject, outcome, tenant string)) []store.AuditEvent {
	base := time.Now().Add(-time.Duration(n+60) * time.Second).UTC().Truncate(time.Millisecond)
	out := make([]store.AuditEvent, n)
	for i := range out {
		sub, outcome, ten := attr(i)
		out[i] = store.AuditEvent{
			Time: base.Add(time.Duration(i) * time.Second), Subject: sub, Outcome: outcome, TenantID: ten,
			Groups: []string{"admins"}, Method: "POST /v1/projects/{id}/vms", Path: "/v1/projects/p1/vms",
			Protocol: "rest", Source: "10.0.0.1", Status: 200, Message: fmt.Sprint(i),
		}
	}
	return out
}

// mixed: subjects alice/bob/"" in turn, every fourth event denied, tenants t0 and t1.
func mixed(i int) (string, string, string) {
	outcome := store.AuditAllowed
	if i%4 == 3 {
		outcome = store.AuditDenied
	}
	return []string{"alice", "bob", ""}[i%3], outcome, fmt.Sprint("t", i%2)
}

// messages names events by their Message.
func messages(events []store.AuditEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Message
	}
	return out
}

// newestFirst lists the messages of the events for which keep is true, newest first.
func newestFirst(events []store.AuditEvent, keep func(store.AuditEvent) bool) []string {
	out := []string{}
	for i := len(events) - 1; i >= 0; i-- {
		if keep(events[i]) {
			out = append(out, events[i].Message)
		}
	}
	return out
}

// listAll follows next tokens to the end, checking that every page is within its limit.
func listAll(t *testing.T, s *store.Store, q store.AuditQuery) []store.AuditEvent {
	t.Helper()
	var all []store.AuditEvent
	for pages := 0; ; pages++ {
		page, next, err := s.ListAudit(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Limit > 0 && len(page) > q.Limit {
			t.Fatalf("page of %d, limit %d", len(page), q.Limit)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		if pages > 10_000 {
			t.Fatal("paging does not end")
		}
		q.PageToken = next
	}
}

// onBackends runs fn in parallel on a fresh store of each backend.
func onBackends(t *testing.T, fn func(t *testing.T, s *store.Store)) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

func TestAuditAppendAndList(t *testing.T) {
	onBackends(t, func(t *testing.T, s *store.Store) {
		events := auditEvents(5, mixed)
		if err := s.AppendAudit(t.Context(), events...); err != nil {
			t.Fatal(err)
		}
		got, next, err := s.ListAudit(t.Context(), store.AuditQuery{})
		if err != nil || next != "" {
			t.Fatalf("list: next %q, %v", next, err)
		}
		if len(got) != len(events) {
			t.Fatalf("got %d events, want %d", len(got), len(events))
		}
		for i, e := range got {
			want := events[len(events)-1-i]
			if e.ID == "" || !strings.HasPrefix(e.ID, fmt.Sprint(want.Time.UnixMilli(), "-")) {
				t.Errorf("event %s: id %q does not carry its time %d", e.Message, e.ID, want.Time.UnixMilli())
			}
			e.ID = ""
			if !reflect.DeepEqual(e, want) {
				t.Errorf("event %d:\n got %+v\nwant %+v", i, e, want)
			}
		}
	})
}

// TestAuditIDsGrow: events written out of time order, or from the future, still get
// growing ids, and a list returns them in the order they were stored.
func TestAuditIDsGrow(t *testing.T) {
	onBackends(t, func(t *testing.T, s *store.Store) {
		now := time.Now()
		events := []store.AuditEvent{
			{Time: now.Add(-time.Minute), Message: "a"},
			{Time: now.Add(-time.Hour), Message: "b"}, // older than the stream's newest
			{Time: now.Add(time.Hour), Message: "c"},  // from the future: clamped to now
			{Time: now.Add(-time.Hour), Message: "d"},
		}
		for _, e := range events { // one call each, and all in one call
			if err := s.AppendAudit(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.AppendAudit(t.Context(), events...); err != nil {
			t.Fatal(err)
		}
		got, _, err := s.ListAudit(t.Context(), store.AuditQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"d", "c", "b", "a", "d", "c", "b", "a"}; !reflect.DeepEqual(messages(got), want) {
			t.Fatalf("got %v, want %v", messages(got), want)
		}
		ms, _, _ := strings.Cut(got[0].ID, "-")
		if ms > fmt.Sprint(time.Now().Add(time.Minute).UnixMilli()) { // numbers of equal length
			t.Fatalf("id %s ahead of the clock", got[0].ID)
		}
	})
}

func TestAuditFilters(t *testing.T) {
	events := auditEvents(40, mixed)
	at := func(i int) time.Time { return events[i].Time }
	cases := []struct {
		name string
		q    store.AuditQuery
		keep func(store.AuditEvent) bool
	}{
		{"all", store.AuditQuery{}, func(store.AuditEvent) bool { return true }},
		{"subject", store.AuditQuery{Subject: "bob"}, func(e store.AuditEvent) bool { return e.Subject == "bob" }},
		{"outcome", store.AuditQuery{Outcome: store.AuditDenied}, func(e store.AuditEvent) bool { return e.Outcome == store.AuditDenied }},
		{"tenant", store.AuditQuery{TenantID: "t1"}, func(e store.AuditEvent) bool { return e.TenantID == "t1" }},
		{"since", store.AuditQuery{Since: at(30)}, func(e store.AuditEvent) bool { return !e.Time.Before(at(30)) }},
		{"until", store.AuditQuery{Until: at(5)}, func(e store.AuditEvent) bool { return e.Time.Before(at(5)) }},
		{"since and until between events", store.AuditQuery{Since: at(10).Add(time.Millisecond), Until: at(20).Add(time.Millisecond)},
			func(e store.AuditEvent) bool { return e.Time.After(at(10)) && !e.Time.After(at(20)) }},
		{"all filters", store.AuditQuery{Subject: "alice", Outcome: store.AuditAllowed, TenantID: "t0", Since: at(6), Until: at(36)},
			func(e store.AuditEvent) bool {
				return e.Subject == "alice" && e.Outcome == store.AuditAllowed && e.TenantID == "t0" &&
					!e.Time.Before(at(6)) && e.Time.Before(at(36))
			}},
		{"no match", store.AuditQuery{Subject: "carol"}, func(store.AuditEvent) bool { return false }},
	}
	onBackends(t, func(t *testing.T, s *store.Store) {
		if err := s.AppendAudit(t.Context(), events...); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			for _, limit := range []int{0, 3} { // one page, and paging across the filter
				t.Run(fmt.Sprint(c.name, "/limit=", limit), func(t *testing.T) {
					q := c.q
					q.Limit = limit
					got := messages(listAll(t, s, q))
					if want := newestFirst(events, c.keep); !reflect.DeepEqual(got, want) {
						t.Fatalf("got %v, want %v", got, want)
					}
				})
			}
		}
	})
}

// TestAuditPaging: an unfiltered page that reaches the start has no next token; a filter
// that matches nothing in the scan bound returns a short page and a token to go on.
func TestAuditPaging(t *testing.T) {
	s := storetest.New(t)
	ctx := t.Context()
	rare := func(i int) (string, string, string) {
		if i == 0 {
			return "rare", store.AuditFailed, "t"
		}
		return "common", store.AuditAllowed, "t"
	}
	events := auditEvents(12_000, rare)
	if err := s.AppendAudit(ctx, events...); err != nil {
		t.Fatal(err)
	}
	page, next, err := s.ListAudit(ctx, store.AuditQuery{Limit: 2000})
	if err != nil || len(page) != 1000 || next == "" {
		t.Fatalf("limit above the maximum: %d events, next %q, %v", len(page), next, err)
	}
	page, next, err = s.ListAudit(ctx, store.AuditQuery{Limit: 10, Since: events[len(events)-10].Time})
	if err != nil || len(page) != 10 || next != "" {
		t.Fatalf("a page that ends at Since: %d events, next %q, %v", len(page), next, err)
	}
	page, next, err = s.ListAudit(ctx, store.AuditQuery{Subject: "rare"})
	if err != nil || len(page) != 0 || next == "" {
		t.Fatalf("first scan of a rare filter: %d events, next %q, %v; want none and a token", len(page), next, err)
	}
	if got := messages(listAll(t, s, store.AuditQuery{Subject: "rare"})); !reflect.DeepEqual(got, []string{"0"}) {
		t.Fatalf("rare filter: got %v", got)
	}
	for _, token := range []string{"!!", "bm90LWFuLWlk"} { // not base64; "not-an-id"
		if _, _, err := s.ListAudit(ctx, store.AuditQuery{PageToken: token}); !errors.Is(err, errs.ErrInvalid) {
			t.Errorf("token %q: got %v, want InvalidEntity", token, err)
		}
	}
}

// TestAuditRetention: the stream keeps about MaxEvents events (approximately: Redis trims
// whole nodes of at most 100 entries) and drops events older than MaxAge.
func TestAuditRetention(t *testing.T) {
	const node = 100 // stream-node-max-entries, the most approximate trimming leaves over
	cases := []struct {
		name     string
		r        store.AuditRetention
		old, new int // events two hours old, then events of now
	}{
		{"by count", store.AuditRetention{MaxEvents: 300}, 0, 2000},
		{"by age", store.AuditRetention{MaxAge: 90 * time.Minute}, 1000, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			onBackends(t, func(t *testing.T, s *store.Store) {
				l := store.NewAuditLog(s, c.r, nil)
				now := time.Now()
				for i := range c.old {
					l.Record(store.AuditEvent{Time: now.Add(-2 * time.Hour), Subject: "old", Message: fmt.Sprint(i)})
				}
				for i := range c.new {
					l.Record(store.AuditEvent{Time: now, Subject: "new", Message: fmt.Sprint(i)})
				}
				if err := l.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
				n, err := s.Redis().XLen(t.Context(), s.Key("audit")).Result()
				if err != nil {
					t.Fatal(err)
				}
				got := listAll(t, s, store.AuditQuery{Limit: 1000})
				if int64(len(got)) != n {
					t.Fatalf("listed %d of %d events", len(got), n)
				}
				if c.r.MaxEvents > 0 && (n < c.r.MaxEvents || n > c.r.MaxEvents+node) {
					t.Fatalf("%d events kept, want %d to %d", n, c.r.MaxEvents, c.r.MaxEvents+node)
				}
				if c.r.MaxEvents > 0 && got[0].Message != fmt.Sprint(c.new-1) {
					t.Fatalf("newest kept is %s, want %d", got[0].Message, c.new-1)
				}
				old := 0
				for _, e := range got {
					if e.Subject == "old" {
						old++
					}
				}
				if c.r.MaxAge > 0 && (old > node || int(n)-old != c.new) {
					t.Fatalf("kept %d old events and %d new, want at most %d and %d", old, int(n)-old, node, c.new)
				}
			})
		})
	}
}

// TestAuditLogConcurrent: events recorded from many goroutines are all stored, once.
func TestAuditLogConcurrent(t *testing.T) {
	onBackends(t, func(t *testing.T, s *store.Store) {
		l := store.NewAuditLog(s, store.AuditRetention{}, nil)
		const writers, each = 32, 250
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					l.Record(store.AuditEvent{Subject: fmt.Sprint("w", w), Message: fmt.Sprint(i), Outcome: store.AuditAllowed})
				}
			})
		}
		wg.Wait()
		if err := l.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range listAll(t, s, store.AuditQuery{Limit: 1000}) {
			k := e.Subject + "/" + e.Message
			if seen[k] {
				t.Fatalf("%s stored twice", k)
			}
			seen[k] = true
		}
		if len(seen) != writers*each {
			t.Fatalf("%d events stored, want %d", len(seen), writers*each)
		}
	})
}

// fakeRedis stands in for Redis under an AuditLog to stall or fail its writes: it answers
// the audit script only and keeps the events it was given.
type fakeRedis struct {
	redis.UniversalClient               // nil: nothing else is called
	gate                  chan struct{} // when not nil, writes wait for it to close
	mu                    sync.Mutex
	fail                  int // how many writes fail before they succeed
	events                []store.AuditEvent
}

func (f *fakeRedis) EvalSha(ctx context.Context, _ string, _ []string, args ...any) *redis.Cmd {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return redis.NewCmdResult(nil, ctx.Err())
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail > 0 {
		f.fail--
		return redis.NewCmdResult(nil, errors.New("injected failure"))
	}
	for i := 3; i < len(args); i += 2 { // ARGV: max events, max age, then time and JSON
		var e store.AuditEvent
		if err := json.Unmarshal(args[i].([]byte), &e); err != nil {
			return redis.NewCmdResult(nil, err)
		}
		f.events = append(f.events, e)
	}
	return redis.NewCmdResult(int64(0), nil)
}

func (f *fakeRedis) Eval(ctx context.Context, _ string, keys []string, args ...any) *redis.Cmd {
	return f.EvalSha(ctx, "", keys, args...)
}

func (f *fakeRedis) stored() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return messages(f.events)
}

func seq(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}

// TestAuditLogBackPressure: with Redis stalled, Record fills the queue and then waits;
// nothing is dropped, and everything is written, in order, once Redis answers.
func TestAuditLogBackPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRedis{gate: make(chan struct{})}
		l := store.NewAuditLog(store.New(f, ""), store.AuditRetention{}, nil)
		const total = 10_000 // more than the queue and a batch hold
		var recorded atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range total {
				l.Record(store.AuditEvent{Message: fmt.Sprint(i)})
				recorded.Add(1)
			}
		}()
		synctest.Wait() // the writer waits on Redis; Record, on room in the queue
		if n := recorded.Load(); n == 0 || n == total {
			t.Fatalf("%d of %d events recorded with Redis stalled, want Record to wait once the queue is full", n, total)
		}
		close(f.gate)
		<-done
		if err := l.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := f.stored(); !reflect.DeepEqual(got, seq(total)) {
			t.Fatalf("stored %d events, want %d in order", len(got), total)
		}
	})
}

// TestAuditLogFlush: a batch is written when it is full or a short while after its first
// event, whichever comes first; Close writes what is queued without waiting; an event
// recorded after Close is written at once.
func TestAuditLogFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeRedis{}
		l := store.NewAuditLog(store.New(f, ""), store.AuditRetention{}, nil)
		start := time.Now() // the bubble's clock: it moves only when everything waits
		for i := range 3 {
			l.Record(store.AuditEvent{Message: fmt.Sprint(i)})
		}
		synctest.Wait()
		if got := f.stored(); len(got) != 0 {
			t.Fatalf("%d events written at once, want them batched", len(got))
		}
		time.Sleep(time.Second) // the bubble's clock: the batch's interval passes
		synctest.Wait()
		if got := f.stored(); !reflect.DeepEqual(got, seq(3)) {
			t.Fatalf("after the interval: stored %v", got)
		}
		start = time.Now()
		for i := 3; i < 1000; i++ {
			l.Record(store.AuditEvent{Message: fmt.Sprint(i)})
		}
		synctest.Wait()
		if got := f.stored(); len(got) <= 3 || time.Since(start) != 0 {
			t.Fatalf("a full batch: %d stored after %v, want some at once", len(got), time.Since(start))
		}
		if err := l.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := f.stored(); !reflect.DeepEqual(got, seq(1000)) || time.Since(start) != 0 {
			t.Fatalf("Close: stored %d after %v, want 1000 at once", len(got), time.Since(start))
		}
		l.Record(store.AuditEvent{Message: "1000"})
		if got := f.stored(); !reflect.DeepEqual(got, seq(1001)) {
			t.Fatalf("Record after Close: stored %d, want 1001", len(got))
		}
	})
}

// TestAuditLogWriteErrors: a failed write is tried again once; events that still cannot
// be written are logged one by one, as is what is left when Close gives up.
func TestAuditLogWriteErrors(t *testing.T) {
	cases := []struct {
		name       string
		fail       int
		stall      bool // Redis never answers and Close gives up
		wantStored int
		wantLost   int
	}{
		{"one failure", 1, false, 5, 0},
		{"two failures", 2, false, 0, 5},
		{"stalled", 0, true, 0, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := &fakeRedis{fail: c.fail}
				if c.stall {
					f.gate = make(chan struct{})
				}
				var logs bytes.Buffer
				l := store.NewAuditLog(store.New(f, ""), store.AuditRetention{}, slog.New(slog.NewTextHandler(&logs, nil)))
				for i := range 5 {
					l.Record(store.AuditEvent{Message: fmt.Sprint(i)})
				}
				ctx, cancel := context.WithTimeout(t.Context(), time.Second) // less than a write's timeout
				defer cancel()
				err := l.Close(ctx)
				if c.stall != errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("Close: %v", err)
				}
				if err := l.Close(t.Context()); err != nil { // again: waits for the writer to stop
					t.Fatal(err)
				}
				if got := len(f.stored()); got != c.wantStored {
					t.Errorf("stored %d events, want %d", got, c.wantStored)
				}
				if got := strings.Count(logs.String(), "event not stored"); got != c.wantLost {
					t.Errorf("logged %d lost events, want %d:\n%s", got, c.wantLost, logs.String())
				}
			})
		})
	}
}

// BenchmarkAuditRecord: the cost to an API call of recording an event, with the writer
// keeping up (the timing includes Close, which writes what is left).
func BenchmarkAuditRecord(b *testing.B) {
	s := storetest.New(b)
	l := store.NewAuditLog(s, store.AuditRetention{}, nil)
	e := auditEvents(1, mixed)[0]
	e.Time = time.Time{}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Record(e)
		}
	})
	if err := l.Close(b.Context()); err != nil {
		b.Fatal(err)
	}
}
