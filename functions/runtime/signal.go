package runtime

import (
	"context"
	"fmt"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/tracing"
)

// Signaled is implemented by a function that takes signals (events.Signal): work outside
// any chain, with no task to record it and no event to answer. Its error follows the
// contract of a step's: permanent is dropped, any other retried, then dead-lettered
// (which, with no task to fail, drops it).
type Signaled interface {
	Signal(ctx context.Context, s events.Signal, e cloudevents.Event) error
}

// signal hands a signal's event to fn.
func (r *Runtime) signal(ctx context.Context, fn Function, route events.Route, e cloudevents.Event) error {
	sf, ok := fn.(Signaled)
	if !ok {
		return errs.Permanent(fmt.Errorf("function %s takes no signal %s", fn.Name(), e.Type()))
	}
	ctx = tracing.Extract(ctx, e)
	ctx, span := tracing.Tracer("function").Start(ctx, fn.Name()+" "+e.Type(), trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("cloudevents.subject", e.Subject()), attribute.String("cloudevents.type", e.Type())))
	defer span.End()
	err := sf.Signal(ctx, *route.Signal, e)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}
