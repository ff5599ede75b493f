// Package tracing sets up OpenTelemetry for every Photon process and carries the trace
// context through CloudEvents (the traceparent extension), so one VM create is one trace
// from the gateway call through every function step to every hostd call.
package tracing

import (
	"context"
	"fmt"
	"io"
	"os"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// Exporters Setup knows.
const (
	ExporterNone   = "none"
	ExporterStdout = "stdout"
	ExporterOTLP   = "otlp"
)

// Options choose where spans go.
type Options struct {
	Exporter string // none (default), stdout or otlp
	// Endpoint is the OTLP gRPC endpoint (host:port); empty uses OTEL_EXPORTER_OTLP_ENDPOINT.
	Endpoint string
	Service  string
	// Writer receives stdout spans; default os.Stdout.
	Writer io.Writer
	// Exporter of spans used instead of the above (tests use an in-memory one).
	SpanExporter sdktrace.SpanExporter
}

// Setup installs the global tracer provider and W3C propagator. With exporter "none"
// spans are still created (so trace ids flow) but not exported. The returned function
// flushes and stops the provider.
func Setup(ctx context.Context, o Options) (func(context.Context) error, error) {
	var exp sdktrace.SpanExporter
	switch {
	case o.SpanExporter != nil:
		exp = o.SpanExporter
	case o.Exporter == "" || o.Exporter == ExporterNone:
	case o.Exporter == ExporterStdout:
		w := o.Writer
		if w == nil {
			w = os.Stdout
		}
		e, err := stdouttrace.New(stdouttrace.WithWriter(w))
		if err != nil {
			return nil, err
		}
		exp = e
	case o.Exporter == ExporterOTLP:
		opts := []otlptracegrpc.Option{}
		if o.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpoint(o.Endpoint), otlptracegrpc.WithInsecure())
		}
		e, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, err
		}
		exp = e
	default:
		return nil, fmt.Errorf("unknown trace exporter %q (want none, stdout or otlp)", o.Exporter)
	}
	popts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(orDefault(o.Service, "photon")))),
	}
	if exp != nil {
		if o.SpanExporter != nil {
			popts = append(popts, sdktrace.WithSyncer(exp))
		} else {
			popts = append(popts, sdktrace.WithBatcher(exp))
		}
	}
	tp := sdktrace.NewTracerProvider(popts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Tracer is the tracer Photon code uses.
func Tracer(name string) trace.Tracer { return otel.Tracer("photon/" + name) }

// eventCarrier exposes a CloudEvent's traceparent/tracestate extensions to propagators.
type eventCarrier struct{ e *cloudevents.Event }

func (c eventCarrier) Get(key string) string {
	v, ok := c.e.Extensions()[key]
	if !ok {
		return ""
	}
	s, _ := v.(string)
	return s
}

func (c eventCarrier) Set(key, value string) {
	if key == "traceparent" || key == "tracestate" {
		c.e.SetExtension(key, value)
	}
}

func (c eventCarrier) Keys() []string { return []string{"traceparent", "tracestate"} }

// Inject writes ctx's span context into e's traceparent extension.
func Inject(ctx context.Context, e *cloudevents.Event) {
	otel.GetTextMapPropagator().Inject(ctx, eventCarrier{e})
}

// Extract returns ctx joined to the trace named by e's traceparent extension.
func Extract(ctx context.Context, e cloudevents.Event) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, eventCarrier{&e})
}
