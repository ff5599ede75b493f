package notify

import (
	"context"
	"time"

	"github.com/photon-cloud/photon/metrics"
)

var deliveryDuration = metrics.NewHistogram(&metrics.SubscriptionDelivery)

// measureDelivery records one delivery that ended: delivered, or dead-lettered after its
// last attempt or a permanent failure.
func measureDelivery(ctx context.Context, start time.Time, delivered bool) {
	outcome := "dead_letter"
	if delivered {
		outcome = "delivered"
	}
	deliveryDuration.Since(context.WithoutCancel(ctx), start, outcome)
}

// observe reports the subscriptions' queues at each scrape until ctx ends: no
// subscription's id, only the sum.
func (d *dispatcher) observe(ctx context.Context) {
	stop := metrics.Observe(func(_ context.Context, o metrics.Observer) {
		d.mu.Lock()
		subs, queued := len(d.workers), 0
		for _, w := range d.workers {
			queued += len(w.q)
		}
		d.mu.Unlock()
		o.Gauge(&metrics.Subscriptions, float64(subs))
		o.Gauge(&metrics.SubscriptionQueue, float64(queued))
	}, &metrics.Subscriptions, &metrics.SubscriptionQueue)
	<-ctx.Done()
	stop()
}
