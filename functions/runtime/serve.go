package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"knative.dev/pkg/network/handlers"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/metrics"
	"github.com/photon-cloud/photon/shared/errs"
)

// The paths a function's Knative container serves besides "/", where the Broker pushes
// the events of its Triggers, and metrics.Path, where Prometheus scrapes it.
const (
	// PathDeadLetter receives the events whose deliveries ran out of retries (the
	// Triggers' deadLetterSink).
	PathDeadLetter = "/deadletter"
	// PathLive answers the liveness probe: the process serves.
	PathLive = "/healthz"
	// PathReady answers the readiness probe: Redis answers.
	PathReady = "/readyz"
)

// KnativeHandler serves one function as a Knative Broker's subscriber: a CloudEvent in
// the request (binary or structured content mode), the next event of the chain in the
// response (Knative reply chaining), and the HTTP status as the retry contract: 4xx for
// what no retry can fix (the Broker drops it), 5xx for a transient error (the Broker
// retries with the Trigger's delivery policy, then sends it to the dead-letter sink).
type KnativeHandler struct {
	rt     *Runtime
	fn     Function
	handle events.Handler
	dead   events.DeadLetter
	broker events.Broker
}

// NewKnativeHandler serves fn on rt. broker, when set, is where the reply to a dead
// letter goes: Knative drops what a dead-letter sink answers, so the runtime publishes
// the undo or failed event itself (to the Broker's ingress, K_SINK).
func NewKnativeHandler(rt *Runtime, fn Function, broker events.Broker) *KnativeHandler {
	return &KnativeHandler{rt: rt, fn: fn, handle: rt.Handler(fn), dead: rt.DeadLetter(fn), broker: broker}
}

// ServeHTTP implements http.Handler.
func (k *KnativeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var step events.Handler
	switch r.URL.Path {
	case PathLive, PathReady:
		k.Probe(w, r)
		return
	case metrics.Path:
		metrics.Handler().ServeHTTP(w, r)
		return
	case "/":
		step = k.handle
	case PathDeadLetter:
		step = k.deadLetter
	default:
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST a CloudEvent", http.StatusMethodNotAllowed)
		return
	}
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		http.Error(w, "not a CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	// Knative's Broker carries the trace context in the W3C traceparent header when the
	// event has no traceparent extension of its own.
	for _, h := range []string{events.ExtTraceParent, events.ExtTraceState} {
		if _, ok := e.Extensions()[h]; !ok && r.Header.Get(h) != "" {
			e.SetExtension(h, r.Header.Get(h))
		}
	}
	reply, err := step(r.Context(), *e)
	if err != nil {
		if k.rt.Log != nil {
			k.rt.Log.Warn("event refused", "function", k.fn.Name(), "type", e.Type(), "id", e.ID(), "permanent", errs.IsPermanent(err), "err", err)
		}
		http.Error(w, err.Error(), StatusOf(err))
		return
	}
	if reply == nil {
		w.WriteHeader(http.StatusAccepted) // the chain ended here
		return
	}
	if err := cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(reply), http.StatusOK, w); err != nil && k.rt.Log != nil {
		k.rt.Log.Error("write reply", "function", k.fn.Name(), "type", reply.Type(), "err", err)
	}
}

// StatusOf is the HTTP status that tells a Knative Broker what to do with an event whose
// handling failed with err: 400 (never retried) for a permanent error, 500 (retried,
// then dead-lettered) for any other.
func StatusOf(err error) int {
	if errs.IsPermanent(err) {
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// Probe answers a liveness probe (PathLive) with 200 and any other probe with 200 once
// Redis answers, 503 until then.
func (k *KnativeHandler) Probe(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PathLive {
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := k.rt.Store.Ping(r.Context()); err != nil {
		http.Error(w, "redis: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// deadLetter fails the task of an event whose deliveries ran out, as the local broker's
// dead letter does, and publishes the reply. It serves the events of any function: the
// dead letter marks a step failed or undone without running the function's code, so the
// Broker's own dead-letter sink may point at any function.
func (k *KnativeHandler) deadLetter(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	cause := fmt.Errorf("delivery of %s failed", e.Type())
	if code, ok := e.Extensions()["knativeerrorcode"]; ok {
		cause = fmt.Errorf("delivery of %s failed with HTTP %v to %v", e.Type(), code, e.Extensions()["knativeerrordest"])
	}
	if k.rt.Log != nil {
		k.rt.Log.Warn("event dead-lettered", "type", e.Type(), "subject", e.Subject(), "err", cause)
	}
	reply, err := k.dead(ctx, e, cause)
	if err != nil || reply == nil || k.broker == nil {
		return reply, err
	}
	if err := k.broker.Publish(ctx, *reply); err != nil {
		return nil, err // the dead letter is retried too
	}
	return nil, nil
}

// ServeOptions tune ServeKnative.
type ServeOptions struct {
	// DrainQuiet is how long no request may have arrived, after ctx ended, before the
	// server stops; default 5s. Knative's queue-proxy has drained the pod before the
	// container gets its SIGTERM, so this is short.
	DrainQuiet time.Duration
	// ShutdownTimeout bounds the wait for requests in flight after the drain; default 30s.
	ShutdownTimeout time.Duration
	Log             *slog.Logger
}

// ServeKnative serves k on ln until ctx ends (SIGTERM), with the function's Background
// work if it has some. Then it drains with knative.dev/pkg's Drainer: probes fail at
// once, and the server stops once DrainQuiet has passed without a new request and every
// request in flight has been answered.
func ServeKnative(ctx context.Context, ln net.Listener, k *KnativeHandler, o ServeOptions) error {
	if o.DrainQuiet <= 0 {
		o.DrainQuiet = 5 * time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	d := &handlers.Drainer{Inner: k, HealthCheck: k.Probe, QuietPeriod: o.DrainQuiet}
	srv := &http.Server{Handler: d, ReadHeaderTimeout: 30 * time.Second}
	var wg sync.WaitGroup
	defer wg.Wait()
	bgCtx, stopBg := context.WithCancel(ctx)
	defer stopBg()
	if bg, ok := k.fn.(Background); ok {
		wg.Go(func() { bg.Background(bgCtx) })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if o.Log != nil {
		o.Log.Info("draining", "function", k.fn.Name(), "quiet", o.DrainQuiet)
	}
	d.Drain()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
