package notify_test

import (
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/notify"
)

// TestStreamsTrimmed: once every consumer group of events:out has read and acknowledged
// the events, the service trims them, as the deriver trims the outbox; a group that has
// not read them keeps them.
func TestStreamsTrimmed(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		slow     bool // another reader's group that reads nothing
		wantLeft func(derived int64) int64
	}{
		{"every group read them", false, func(int64) int64 { return 1 }},
		{"a group that has not read keeps them", true, func(derived int64) int64 { return derived }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			w := newWorld(t)
			s := w.s
			events := notify.EventsStream(s.prefix)
			if tc.slow {
				if err := s.rdb.XGroupCreateMkStream(ctx, events, "slow", "0").Err(); err != nil {
					t.Fatal(err)
				}
			}
			o := fastOptions()
			o.TrimEvery = 5 * time.Millisecond
			start(t, s, o)
			for _, id := range []string{"vm-a", "vm-b", "vm-c"} {
				w.vmLife(t, w.p1, id)
			}
			waitIdle(t, s)
			const derived = 15 // tenant, two projects, three VMs: each created and its task completed; VMs started
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for deadline := time.Now().Add(10 * time.Second); ; <-tick.C {
				n, outbox := s.rdb.XLen(ctx, events).Val(), s.rdb.XLen(ctx, s.OutboxStream()).Val()
				info, _ := s.rdb.XInfoStream(ctx, events).Result()
				if n <= tc.wantLeft(derived) && outbox <= 1 && info.EntriesAdded == derived {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("events:out holds %d of %d events (want %d), the outbox %d entries", n, info.EntriesAdded, tc.wantLeft(derived), outbox)
				}
			}
			if n := s.rdb.XLen(ctx, events).Val(); n != tc.wantLeft(derived) {
				t.Fatalf("events:out holds %d events, want %d", n, tc.wantLeft(derived))
			}
		})
	}
}
