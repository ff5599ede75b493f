package runtime

import (
	"context"
	"strconv"
	"time"

	"github.com/photon-cloud/photon/metrics"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// What the runtime measures (metrics.Families), the same on Redis Streams and behind
// Knative: each event's outcome and its step's duration (handle), dead letters
// (DeadLetter), each chain's end-to-end latency when its task ends, and, at each scrape,
// each autoscaled function's backlog, events in hand and workers (Local).
var (
	eventsHandled = metrics.NewCounter(&metrics.FunctionEvents)
	retries       = metrics.NewCounter(&metrics.FunctionRetries)
	deadLetters   = metrics.NewCounter(&metrics.FunctionDeadLetters)
	stepDuration  = metrics.NewHistogram(&metrics.StepDuration)
	chainDuration = metrics.NewHistogram(&metrics.ChainDuration)
)

// measureEvent counts one event fn handled: a transient error is a retry; a permanent
// one, or a step that failed for good (the undo chain starts) or whose undo parked, is
// failed; the rest is ok.
func measureEvent(ctx context.Context, fn string, c *Call, err error) {
	ctx = context.WithoutCancel(ctx)
	switch {
	case err != nil && !errs.IsPermanent(err):
		retries.Add(ctx, 1, fn)
	case err != nil || (c != nil && c.failed):
		eventsHandled.Add(ctx, 1, fn, "failed")
	default:
		eventsHandled.Add(ctx, 1, fn, "ok")
	}
}

// measureStep records how long one run of c's step (or its undo) took.
func measureStep(ctx context.Context, fn string, c *Call, undo bool, start time.Time) {
	stepDuration.Since(context.WithoutCancel(ctx), start, fn, string(c.Operation()), strconv.FormatBool(undo))
}

// measureChainEnd records the latency of t's chain, from its task queued to its end; the
// caller ended the task in this call (a replayed end is not counted again).
func measureChainEnd(ctx context.Context, c *Call, t *model.Task) {
	if t.EndTime == 0 || t.QueuedTime == 0 {
		return
	}
	chainDuration.Record(context.WithoutCancel(ctx), float64(t.EndTime-t.QueuedTime)/1000, string(c.Chain.Name), t.State)
}

// observe reports each autoscaled function's gauges at each scrape until ctx ends.
func (l *Local) observe(ctx context.Context) {
	stop := metrics.Observe(func(_ context.Context, o metrics.Observer) {
		for fn, s := range l.Scales() {
			o.Gauge(&metrics.FunctionBacklog, float64(s.Backlog), fn)
			o.Gauge(&metrics.FunctionPending, float64(s.InFlight), fn)
			o.Gauge(&metrics.FunctionWorkers, float64(s.Scale), fn)
		}
	}, &metrics.FunctionBacklog, &metrics.FunctionPending, &metrics.FunctionWorkers)
	<-ctx.Done()
	stop()
}
