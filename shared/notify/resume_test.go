package notify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/store"
)

// TestNotifierResumesPending: a notifier killed between reading entries and acknowledging
// them leaves them pending; one started after under another consumer name takes them
// over, and every event reaches the sink exactly once.
func TestNotifierResumesPending(t *testing.T) {
	t.Parallel()
	const claimIdle = 300 * time.Millisecond
	cases := []struct {
		name string
		hang bool // the sink hangs on its first request
		// kill runs the first notifier (or what it leaves behind) and kills it after it
		// read and before it acknowledged.
		kill func(t *testing.T, w *world, hung <-chan struct{})
	}{
		{"deriver", false, func(t *testing.T, w *world, _ <-chan struct{}) {
			// A deriver that read the outbox and died before its transaction.
			ctx := t.Context()
			if err := w.s.rdb.XGroupCreateMkStream(ctx, w.s.OutboxStream(), notify.DeriveGroup, "0").Err(); err != nil {
				t.Fatal(err)
			}
			w.vmLife(t, w.p1, "vm-a")
			w.vmLife(t, w.p1, "vm-b")
			res, err := w.s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: notify.DeriveGroup, Consumer: "a",
				Streams: []string{w.s.OutboxStream(), ">"}, Block: -1}).Result()
			if err != nil || len(res[0].Messages) == 0 {
				t.Fatalf("read the outbox: %v %v", res, err)
			}
		}},
		{"dispatcher", true, func(t *testing.T, w *world, hung <-chan struct{}) {
			// A notifier whose first delivery hangs: it is killed while the event is in
			// flight, the others read or queued behind it.
			o := fastOptions()
			o.Consumer, o.ClaimIdle = "a", claimIdle
			sv, err := notify.Start(t.Context(), w.s.rdb, w.s.prefix, w.s.Store, o)
			if err != nil {
				t.Fatal(err)
			}
			w.vmLife(t, w.p1, "vm-a")
			w.vmLife(t, w.p1, "vm-b")
			select {
			case <-hung:
			case <-time.After(10 * time.Second):
				t.Fatal("no delivery began")
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
			defer cancel()
			if err := sv.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			k := newOnceSink(t, tc.hang)
			w.subscribe(t, &store.Subscription{Owner: w.admin, Sink: k.URL, Types: []string{"io.photon.vm.*"}})
			tc.kill(t, w, k.hung)
			o := fastOptions()
			o.Consumer, o.ClaimIdle = "b", claimIdle
			start(t, w.s, o)
			waitIdle(t, w.s)
			want := []string{"io.photon.vm.created vm-a", "io.photon.vm.created vm-b", "io.photon.vm.started vm-a", "io.photon.vm.started vm-b"}
			got := k.delivered()
			if !slices.Equal(got, want) {
				t.Fatalf("delivered %q, want each of %q once", got, want)
			}
		})
	}
}

// onceSink accepts requests and records them; when it hangs, it does so on its first
// request until the client gives up, and records it not.
type onceSink struct {
	*httptest.Server
	hung chan struct{}
	mu   sync.Mutex
	n    int
	got  map[string][]string // event id: type and subject of each accepted delivery
}

func newOnceSink(t *testing.T, hang bool) *onceSink {
	k := &onceSink{hung: make(chan struct{}), got: map[string][]string{}}
	k.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.n++
		first := hang && k.n == 1
		k.mu.Unlock()
		if first {
			io.Copy(io.Discard, r.Body) // so the server notices the client going away
			close(k.hung)
			<-r.Context().Done()
			return
		}
		k.mu.Lock()
		k.got[r.Header.Get("ce-id")] = append(k.got[r.Header.Get("ce-id")], r.Header.Get("ce-type")+" "+r.Header.Get("ce-subject"))
		k.mu.Unlock()
	}))
	t.Cleanup(k.Close)
	return k
}

// delivered lists the accepted deliveries, sorted, an event delivered twice twice.
func (k *onceSink) delivered() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, ds := range k.got {
		out = append(out, ds...)
	}
	slices.Sort(out)
	return out
}
