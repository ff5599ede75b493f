package events_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestBrokerDelivery: events reach the subscribing function, replies are published on,
// transient errors are retried and exhausted retries reach the dead letter.
func TestBrokerDelivery(t *testing.T) {
	cases := []struct {
		name     string
		failures int32 // transient failures before success
		perm     bool
		wantDead bool
		wantRuns int32
	}{
		{"ok", 0, false, false, 1},
		{"retried", 2, false, false, 3},
		{"exhausted", 100, false, true, 3},
		{"permanent", 0, true, true, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb := storetest.Client(t)
			b := events.NewRedisBroker(rdb, storetest.Prefix(t), nil)
			b.MaxAttempts, b.Backoff = 3, time.Millisecond
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()

			var runs atomic.Int32
			replied := make(chan cloudevents.Event, 1)
			dead := make(chan error, 1)
			authorize := func(_ context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
				n := runs.Add(1)
				if tc.perm {
					return nil, errs.Permanent(errors.New("no"))
				}
				if n <= tc.failures {
					return nil, errors.New("flaky")
				}
				next := events.Next(e, "test", events.VMCreate.DoneType(0), events.StepData{TaskID: "t", EntityID: "vm"})
				return &next, nil
			}
			quota := func(_ context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
				replied <- e
				return nil, nil
			}
			go b.Consume(ctx, "authorize", events.FixedSlots(2), authorize, func(_ context.Context, _ cloudevents.Event, cause error) (*cloudevents.Event, error) {
				dead <- cause
				return nil, nil
			})
			go b.Consume(ctx, "quota", events.FixedSlots(2), quota, nil)
			if err := b.Publish(ctx, events.New("test", events.VMCreate.StartType(), "", events.StepData{TaskID: "t", EntityID: "vm"})); err != nil {
				t.Fatal(err)
			}
			select {
			case e := <-replied:
				if tc.wantDead || e.Type() != events.VMCreate.DoneType(0) || events.Hops(e) != 1 {
					t.Fatalf("reply %s hops %d", e.Type(), events.Hops(e))
				}
			case err := <-dead:
				if !tc.wantDead {
					t.Fatalf("dead-lettered: %v", err)
				}
				n, _ := rdb.XLen(ctx, b.DeadLetterStream()).Result()
				if n != 1 {
					t.Fatalf("dead-letter stream has %d entries", n)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("nothing delivered")
			}
			if got := runs.Load(); got != tc.wantRuns {
				t.Fatalf("handler ran %d times, want %d", got, tc.wantRuns)
			}
		})
	}
}
