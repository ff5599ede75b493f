package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
)

// TestCatalogue: every family follows Prometheus's naming (photon_ prefix, _total on
// counters only, a base unit suffix on histograms, sorted buckets) and no two share a name.
func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Families {
		t.Run(f.Name, func(t *testing.T) {
			for _, s := range f.Series() {
				if seen[s] {
					t.Errorf("%s is exported twice", s)
				}
				seen[s] = true
			}
			if !model.LegacyValidation.IsValidMetricName(f.Name) || !strings.HasPrefix(f.Name, "photon_") {
				t.Errorf("name %q: want a legacy Prometheus name starting photon_", f.Name)
			}
			if f.Help == "" {
				t.Error("no help")
			}
			if total := strings.HasSuffix(f.Name, "_total"); total != (f.Kind == KindCounter) {
				t.Errorf("a %s named %s: counters, and only counters, end in _total", f.Kind, f.Name)
			}
			if f.Kind == KindHistogram {
				if !strings.HasSuffix(f.Name, "_seconds") || f.Unit != "s" {
					t.Errorf("histogram %s: want seconds", f.Name)
				}
				if len(f.Buckets) == 0 || !slices.IsSorted(f.Buckets) {
					t.Errorf("histogram %s: buckets %v", f.Name, f.Buckets)
				}
			}
			for _, l := range f.Labels {
				if !model.LegacyValidation.IsValidLabelName(l) || strings.HasPrefix(l, "__") {
					t.Errorf("label %q", l)
				}
			}
		})
	}
}

// TestObserveAfterHandler: gauges whose instruments were made before the provider was
// installed take callbacks registered after it, and a scrape reports them.
func TestObserveAfterHandler(t *testing.T) {
	f := &Family{Name: "photon_test_gauge", Kind: KindGauge, Help: "test", Labels: []string{"state"}}
	Observe(func(context.Context, Observer) {}, f)() // the instrument, before Handler
	h := Handler()
	stop := Observe(func(_ context.Context, o Observer) { o.Gauge(f, 3, "READY") }, f)
	defer stop()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if body := rec.Body.String(); !strings.Contains(body, `photon_test_gauge{state="READY"} 3`) {
		t.Errorf("scrape has no gauge:\n%s", body)
	}
}
