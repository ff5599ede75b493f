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

// BenchmarkBrokerConsume measures the hot path of a chain: a consumer reads an event,
// runs a handler that replies with the next step's event, and publishes the reply and
// the acknowledgement in one transaction.
func BenchmarkBrokerConsume(b *testing.B) {
	rdb := storetest.Client(b)
	br := events.NewRedisBroker(rdb, storetest.Prefix(b), nil)
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	start := make([]cloudevents.Event, b.N)
	for i := range start {
		start[i] = events.New("bench", events.VMCreate.StartType(), "", events.StepData{TaskID: "t", EntityID: "vm"})
	}
	for i := 0; i < len(start); i += 1000 {
		if err := br.Publish(ctx, start[i:min(i+1000, len(start))]...); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	done := make(chan struct{})
	h := func(_ context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
		next := events.Next(e, "bench", events.VMCreate.DoneType(0), events.StepData{TaskID: "t", EntityID: "vm"})
		if n.Add(1) == int64(b.N) {
			close(done)
		}
		return &next, nil
	}
	b.ResetTimer()
	began := time.Now()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		br.Consume(ctx, events.Subscribers(events.VMCreate.StartType())[0], events.FixedSlots(64), h, nil)
	}()
	<-done
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "events/s")
	b.StopTimer()
	cancel()
	<-stopped
}
