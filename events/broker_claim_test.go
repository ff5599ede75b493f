package events_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestBrokerResumesPending: an event a worker was handling when it stopped is not
// acknowledged; a worker started after handles it, exactly once.
func TestBrokerResumesPending(t *testing.T) {
	t.Parallel()
	rdb := storetest.Client(t)
	b := events.NewRedisBroker(rdb, storetest.Prefix(t), nil)
	b.ClaimIdle = 300 * time.Millisecond
	sub := events.Subscribers(events.VMCreate.StartType())[0]

	ctx, kill := context.WithCancel(t.Context())
	inHand := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		b.Consume(ctx, sub, events.FixedSlots(1), func(ctx context.Context, _ cloudevents.Event) (*cloudevents.Event, error) {
			close(inHand)
			<-ctx.Done()
			return nil, ctx.Err()
		}, nil)
	}()
	if err := b.Publish(t.Context(), events.New("test", events.VMCreate.StartType(), "", events.StepData{TaskID: "t", EntityID: "vm"})); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inHand:
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered")
	}
	kill()
	<-stopped

	var runs atomic.Int32
	handled := make(chan struct{}, 2)
	ctx2, stop := context.WithCancel(t.Context())
	defer stop()
	go b.Consume(ctx2, sub, events.FixedSlots(4), func(context.Context, cloudevents.Event) (*cloudevents.Event, error) {
		runs.Add(1)
		handled <- struct{}{}
		return nil, nil
	}, nil)
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("the pending event was not taken over")
	}
	// Two more ClaimIdle: it is acknowledged, so nobody handles it again.
	for deadline := time.After(2 * b.ClaimIdle); ; {
		select {
		case <-handled:
			t.Fatalf("handled %d times", runs.Load())
		case <-deadline:
			return
		}
	}
}
