package events_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestBrokerTrims: a function's stream loses the events its group acknowledged, and the
// dead-letter stream those older than DeadLetterMaxAge, while the function consumes.
func TestBrokerTrims(t *testing.T) {
	t.Parallel()
	rdb := storetest.Client(t)
	b := events.NewRedisBroker(rdb, storetest.Prefix(t), nil)
	b.TrimEvery, b.DeadLetterMaxAge = 5*time.Millisecond, time.Hour
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	for _, id := range []string{"1000-1", "*"} { // a dead letter from long ago, and one of now
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: b.DeadLetterStream(), ID: id, Values: []any{"e", "{}"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	const n = 40
	var handled atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Consume(ctx, "authorize", events.FixedSlots(4), func(context.Context, cloudevents.Event) (*cloudevents.Event, error) {
			handled.Add(1)
			return nil, nil
		}, nil)
	}()
	for range n {
		if err := b.Publish(ctx, events.New("test", events.VMCreate.StartType(), "", events.StepData{TaskID: "t", EntityID: "vm"})); err != nil {
			t.Fatal(err)
		}
	}
	stream := events.Stream(storetest.Prefix(t), "authorize")
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(20 * time.Second); ; <-tick.C {
		left, dead := rdb.XLen(ctx, stream).Val(), rdb.XLen(ctx, b.DeadLetterStream()).Val()
		if handled.Load() == n && left <= 1 && dead == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handled %d of %d; the stream holds %d entries, the dead-letter stream %d", handled.Load(), n, left, dead)
		}
	}
	cancel()
	<-done
}
