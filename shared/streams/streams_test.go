package streams_test

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/store/storetest"
	"github.com/photon-cloud/photon/shared/streams"
)

const group = "g"

// fixture is a stream with n entries and a group on it.
type fixture struct {
	rdb    redis.UniversalClient
	stream string
	ids    []string
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	// The stream's name is a hash tag: the keys a test writes beside it in one
	// transaction (stream + ":done") share its slot on a cluster.
	f := &fixture{rdb: storetest.Client(t), stream: storetest.Prefix(t) + "{s}"}
	if err := f.rdb.XGroupCreateMkStream(t.Context(), f.stream, group, "0").Err(); err != nil {
		t.Fatal(err)
	}
	f.add(t, n)
	return f
}

func (f *fixture) add(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id, err := f.rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: f.stream, Values: []any{"n", i}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	f.ids = append(f.ids, ids...)
	return ids
}

// readAs reads up to n new entries as consumer name without acknowledging them: what a
// consumer that then died leaves behind.
func (f *fixture) readAs(t *testing.T, name string, n int) []string {
	t.Helper()
	if n == 0 {
		return nil
	}
	res, err := f.rdb.XReadGroup(t.Context(), &redis.XReadGroupArgs{Group: group, Consumer: name,
		Streams: []string{f.stream, ">"}, Count: int64(n), Block: -1}).Result()
	if err != nil {
		t.Fatal(err)
	}
	return idsOf(res[0].Messages)
}

func (f *fixture) open(t *testing.T, name string, claimIdle time.Duration) *streams.Consumer {
	t.Helper()
	c, err := streams.Open(t.Context(), f.rdb, streams.Options{Stream: f.stream, Group: group, Consumer: name,
		ClaimIdle: claimIdle, Block: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// pending maps each pending entry to its consumer.
func (f *fixture) pending(t *testing.T) map[string]string {
	t.Helper()
	ps, err := f.rdb.XPendingExt(t.Context(), &redis.XPendingExtArgs{Stream: f.stream, Group: group, Start: "-", End: "+", Count: 1000}).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range ps {
		out[p.ID] = p.Consumer
	}
	return out
}

func idsOf(ms []redis.XMessage) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

// sameIDs reports whether a and b hold the same ids, each once.
func sameIDs(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b) && len(slices.Compact(a)) == len(b)
}

// collect reads with c until it has want entries or the deadline passes.
func collect(t *testing.T, c *streams.Consumer, want int, within time.Duration) []string {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(within); len(got) < want && time.Now().Before(deadline); {
		ms, err := c.Next(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, idsOf(ms)...)
	}
	return got
}

// TestTakeOver: what a consumer read and never acknowledged (it never heartbeats: it is
// dead) reaches a consumer of another name once idle for a heartbeat, and at once a
// consumer of the same name.
func TestTakeOver(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		deadRead  int    // entries the dead consumer read
		restart   string // name of the consumer started after
		claimIdle time.Duration
		wantFirst int // entries the first read returns: the consumer's own, else new ones
	}{
		{"another name takes over idle entries", 3, "b", 300 * time.Millisecond, 2},
		{"the same name resumes at once", 3, "a", time.Hour, 3},
		{"nothing pending: new entries only", 0, "b", 300 * time.Millisecond, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 5)
			dead := f.readAs(t, "a", tc.deadRead)
			read := time.Now()
			c := f.open(t, tc.restart, tc.claimIdle)
			first, err := c.Next(t.Context(), 100)
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != tc.wantFirst {
				t.Fatalf("first read %v, want %d entries", idsOf(first), tc.wantFirst)
			}
			got := append(idsOf(first), collect(t, c, len(f.ids)-len(first), 10*time.Second)...)
			if !sameIDs(got, f.ids) {
				t.Fatalf("read %v, want every entry once: %v", got, f.ids)
			}
			if tc.restart != "a" && len(dead) > 0 && time.Since(read) < tc.claimIdle {
				t.Fatalf("a dead consumer's entries were taken over before ClaimIdle")
			}
			for id, owner := range f.pending(t) {
				if owner != tc.restart {
					t.Errorf("entry %s pending for %s, want %s", id, owner, tc.restart)
				}
			}
		})
	}
}

// TestNoTakeOverFromLive: entries a live consumer holds, however long, are not handed to
// another; when it dies (stops renewing) they are, once.
func TestNoTakeOverFromLive(t *testing.T) {
	t.Parallel()
	const idle = 400 * time.Millisecond
	f := newFixture(t, 5)
	ctx, kill := context.WithCancel(t.Context())
	a, err := streams.Open(ctx, f.rdb, streams.Options{Stream: f.stream, Group: group, Consumer: "a",
		ClaimIdle: idle, Block: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	held, err := a.Next(ctx, 100)
	if err != nil || len(held) != 5 {
		t.Fatalf("a read %v: %v", idsOf(held), err)
	}
	b := f.open(t, "b", idle)
	// Four times ClaimIdle: b looks for idle entries several times meanwhile.
	for deadline := time.Now().Add(4 * idle); time.Now().Before(deadline); {
		ms, err := b.Next(t.Context(), 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 0 {
			t.Fatalf("b got %v while a holds them", idsOf(ms))
		}
	}
	kill()
	a.Close()
	got := collect(t, b, 5, 10*time.Second)
	if !sameIDs(got, f.ids) {
		t.Fatalf("b took over %v, want %v", got, f.ids)
	}
	if more := collect(t, b, 1, 2*idle); len(more) > 0 {
		t.Fatalf("b got %v again", more)
	}
}

// TestLiveConsumersShare: two consumers reading at once get each entry exactly once.
func TestLiveConsumersShare(t *testing.T) {
	t.Parallel()
	const n = 200
	f := newFixture(t, 0)
	a, b := f.open(t, "a", time.Minute), f.open(t, "b", time.Minute)
	f.add(t, n)
	var read atomic.Int64
	type result struct {
		ids []string
		err error
	}
	done := make(chan result, 2)
	for _, c := range []*streams.Consumer{a, b} {
		go func() {
			var r result
			for deadline := time.Now().Add(10 * time.Second); read.Load() < n && time.Now().Before(deadline); {
				ms, err := c.Next(t.Context(), 7)
				if err == nil {
					err = c.Ack(t.Context(), idsOf(ms)...)
				}
				if err != nil {
					r.err = err
					break
				}
				r.ids = append(r.ids, idsOf(ms)...)
				read.Add(int64(len(ms)))
			}
			done <- r
		}()
	}
	var all []string
	for range 2 {
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		all = append(all, r.ids...)
	}
	if !sameIDs(all, f.ids) {
		t.Fatalf("%d entries read in all, want each of %d once", len(all), len(f.ids))
	}
	if p := f.pending(t); len(p) != 0 {
		t.Fatalf("pending after every ack: %v", p)
	}
}

// TestAck: an acknowledged entry is done, alone or in a transaction with other writes; a
// released one comes back after ClaimIdle.
func TestAck(t *testing.T) {
	t.Parallel()
	const idle = 200 * time.Millisecond
	cases := []struct {
		name      string
		finish    func(t *testing.T, f *fixture, c *streams.Consumer, id string)
		wantAgain bool
	}{
		{"ack", func(t *testing.T, f *fixture, c *streams.Consumer, id string) {
			if err := c.Ack(t.Context(), id); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"ack in a transaction", func(t *testing.T, f *fixture, c *streams.Consumer, id string) {
			_, err := f.rdb.TxPipelined(t.Context(), func(p redis.Pipeliner) error {
				p.Set(t.Context(), f.stream+":done", id, 0)
				c.AckIn(t.Context(), p, id)
				return nil
			})
			c.Release(id)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := f.rdb.Get(t.Context(), f.stream+":done").Result(); got != id {
				t.Fatalf("the transaction's write: %q", got)
			}
		}, false},
		{"release", func(t *testing.T, f *fixture, c *streams.Consumer, id string) { c.Release(id) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 1)
			c := f.open(t, "a", idle)
			got := collect(t, c, 1, 10*time.Second)
			if len(got) != 1 {
				t.Fatalf("read %v", got)
			}
			tc.finish(t, f, c, got[0])
			again := collect(t, c, 1, 3*idle)
			if tc.wantAgain != (len(again) == 1) {
				t.Fatalf("read again: %v, want again %v", again, tc.wantAgain)
			}
			if n := len(f.pending(t)); n != map[bool]int{true: 1, false: 0}[tc.wantAgain] {
				t.Fatalf("%d pending", n)
			}
		})
	}
}
