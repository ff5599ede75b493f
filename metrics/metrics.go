// Package metrics exposes what every Photon process measures to Prometheus: one
// OpenTelemetry meter provider per process, exported by OpenTelemetry's Prometheus
// exporter at GET /metrics (Handler), and the catalogue of the families Photon exports
// (families.go), the one home of their names, labels and buckets. Instruments live beside
// the code they measure and are made from the catalogue (NewCounter, NewHistogram,
// Observe), so a family's labels are the catalogue's; infra's dashboards and alert rules
// are checked against it.
//
// Labels are bounded: methods, codes, functions, operations, chains, states. Never an
// entity's, a task's or a tenant's id, so /metrics needs no login (Prometheus scrapes it)
// and tells nothing but counts.
package metrics

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Path is where every Photon process serves its metrics.
const Path = "/metrics"

// Handler is the process's /metrics handler. Its first call installs the process's
// meter provider (otel.SetMeterProvider), to which the instruments made before it are
// handed over; until then instruments record nothing.
func Handler() http.Handler { return setup() }

var setup = sync.OnceValue(func() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The catalogue's names are Prometheus names already (units and _total included), so
	// the exporter adds no suffix; scope labels and target_info say nothing Prometheus's
	// job and instance labels do not.
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo(),
		otelprom.WithTranslationStrategy(otlptranslator.UnderscoreEscapingWithoutSuffixes))
	if err != nil {
		panic(fmt.Sprintf("metrics: prometheus exporter: %v", err)) // only a duplicate registration fails
	}
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp)))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
})

// Serve serves Handler on addr (the parts without an HTTP listener of their own:
// --metrics-addr) until stop; it answers the address it listens on.
func Serve(addr string) (bound string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen for metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

// photonMeter is the one meter every instrument and callback is made with: taken from
// the global provider before Handler installs the SDK's, it hands them all over to it
// then, so instruments and callbacks made before and after stay of one implementation.
var photonMeter = otel.Meter("photon")

func meter() metric.Meter { return photonMeter }

// attrs pairs f's labels with values, in order; a missing value is "".
func (f *Family) attrs(values []string) metric.MeasurementOption {
	kv := make([]attribute.KeyValue, len(f.Labels))
	for i, l := range f.Labels {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		kv[i] = attribute.String(l, v)
	}
	return metric.WithAttributeSet(attribute.NewSet(kv...))
}

// Counter counts, by its family's labels.
type Counter struct {
	f *Family
	c metric.Float64Counter
}

// NewCounter makes the counter of family f (a Counter of the catalogue).
func NewCounter(f *Family) Counter {
	c, err := meter().Float64Counter(f.Name, metric.WithDescription(f.Help), metric.WithUnit(f.Unit))
	if err != nil {
		panic(fmt.Sprintf("metrics: %s: %v", f.Name, err))
	}
	return Counter{f: f, c: c}
}

// Add adds v with the label values, in the order of the family's labels.
func (c Counter) Add(ctx context.Context, v float64, labels ...string) {
	c.c.Add(ctx, v, c.f.attrs(labels))
}

// Histogram records observations in its family's buckets.
type Histogram struct {
	f *Family
	h metric.Float64Histogram
}

// NewHistogram makes the histogram of family f.
func NewHistogram(f *Family) Histogram {
	h, err := meter().Float64Histogram(f.Name, metric.WithDescription(f.Help), metric.WithUnit(f.Unit),
		metric.WithExplicitBucketBoundaries(f.Buckets...))
	if err != nil {
		panic(fmt.Sprintf("metrics: %s: %v", f.Name, err))
	}
	return Histogram{f: f, h: h}
}

// Record records v with the label values.
func (h Histogram) Record(ctx context.Context, v float64, labels ...string) {
	h.h.Record(ctx, v, h.f.attrs(labels))
}

// Since records the seconds since start.
func (h Histogram) Since(ctx context.Context, start time.Time, labels ...string) {
	h.Record(ctx, time.Since(start).Seconds(), labels...)
}

// Observer is what an Observe callback reports gauges to.
type Observer struct {
	o      metric.Observer
	gauges map[*Family]metric.Float64ObservableGauge
}

// Gauge reports the value of gauge f (one of those given to Observe) with the label values.
func (o Observer) Gauge(f *Family, v float64, labels ...string) {
	if g, ok := o.gauges[f]; ok {
		o.o.ObserveFloat64(g, v, f.attrs(labels))
	}
}

var (
	gaugesMu sync.Mutex
	gauges   = map[*Family]metric.Float64ObservableGauge{}
)

func gauge(f *Family) metric.Float64ObservableGauge {
	gaugesMu.Lock()
	defer gaugesMu.Unlock()
	g, ok := gauges[f]
	if !ok {
		var err error
		if g, err = meter().Float64ObservableGauge(f.Name, metric.WithDescription(f.Help), metric.WithUnit(f.Unit)); err != nil {
			panic(fmt.Sprintf("metrics: %s: %v", f.Name, err))
		}
		gauges[f] = g
	}
	return g
}

// ObserveTimeout bounds one Observe callback: a scrape waits for it.
const ObserveTimeout = 5 * time.Second

// Observe calls fn at every scrape to report the gauges fs, read where they are kept
// (a count Redis keeps, an index in memory: never a scan of the fleet). The returned
// function stops it; a part calls it when it closes.
func Observe(fn func(ctx context.Context, o Observer), fs ...*Family) (stop func()) {
	obs := Observer{gauges: map[*Family]metric.Float64ObservableGauge{}}
	insts := make([]metric.Observable, len(fs))
	for i, f := range fs {
		g := gauge(f)
		obs.gauges[f], insts[i] = g, g
	}
	reg, err := meter().RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, ObserveTimeout)
		defer cancel()
		obs := obs
		obs.o = o
		fn(ctx, obs)
		return nil
	}, insts...)
	if err != nil {
		panic(fmt.Sprintf("metrics: register gauges: %v", err))
	}
	return func() { reg.Unregister() }
}
