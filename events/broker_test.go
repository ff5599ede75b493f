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

// TestBrokerRetryBudget: with the default policy, a step whose host is unavailable for
// as long as a hostd restart takes succeeds once the host is back, and a permanent error
// is dead-lettered at its first attempt.
func TestBrokerRetryBudget(t *testing.T) {
	cases := []struct {
		name     string
		down     time.Duration // the handler fails as unavailable this long after its first call
		perm     bool
		wantDead bool
	}{
		{"host restarting for 3s", 3 * time.Second, false, false},
		{"permanent", 0, true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rdb := storetest.Client(t)
			b := events.NewRedisBroker(rdb, storetest.Prefix(t), nil)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var first time.Time
			var runs atomic.Int32
			done := make(chan error, 2)
			h := func(context.Context, cloudevents.Event) (*cloudevents.Event, error) {
				if runs.Add(1) == 1 {
					first = time.Now()
				}
				if tc.perm {
					return nil, errs.Invalid("no")
				}
				if time.Since(first) < tc.down {
					return nil, errs.New(errs.CodeUnavailable, "host is restarting")
				}
				done <- nil
				return nil, nil
			}
			go b.Consume(ctx, "authorize", events.FixedSlots(1), h, func(_ context.Context, _ cloudevents.Event, cause error) (*cloudevents.Event, error) {
				done <- cause
				return nil, nil
			})
			if err := b.Publish(ctx, events.New("test", events.VMCreate.StartType(), "", events.StepData{TaskID: "t", EntityID: "vm"})); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			select {
			case err := <-done:
				if (err != nil) != tc.wantDead {
					t.Fatalf("dead-lettered: %v, want %v", err, tc.wantDead)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("nothing delivered")
			}
			if tc.perm && (runs.Load() != 1 || time.Since(start) > time.Second) {
				t.Fatalf("a permanent error ran %d times in %v", runs.Load(), time.Since(start))
			}
		})
	}
}
