package devcloud_test

import (
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/metrics"
)

// exposition is one scrape of /metrics, by family name.
type exposition map[string]*dto.MetricFamily

// scrape reads GET /metrics as Prometheus does: without a token.
func scrape(t *testing.T, base string) exposition {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+metrics.Path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", res.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value is the sum, over the samples of family name whose labels include want, of the
// counter's or gauge's value, or of a histogram's count.
func (x exposition) value(name string, want map[string]string) (v float64, found bool) {
	f := x[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v, found
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, w := range want {
		if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == k && l.GetValue() == w }) {
			return false
		}
	}
	return true
}

// TestMetrics: GET /metrics answers without a token, holds only the catalogue's families
// with the catalogue's types and labels, and one VM create through the REST API moves
// what it should: the API call by method and code, each function of the create chain's
// events and step durations, the chain's latency, hostd's vSphere calls and Redis's
// round trips; the gauges of the fleet, the VMs, admission, the autoscalers and the
// notifier are there.
func TestMetrics(t *testing.T) {
	cl, c := cloud(t, 2)
	f := setup(t, c, 10)
	before := scrape(t, c.base)

	tk := c.wait(c.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "web-1")).ID)
	if tk.State != "COMPLETED" {
		t.Fatalf("create: %s %+v", tk.State, tk.Steps)
	}
	after := scrape(t, c.base)

	type moved struct {
		family string
		labels map[string]string
	}
	want := []moved{
		{metrics.APIRequests.Name, map[string]string{"method": "photon.v1.Vms/CreateVm", "protocol": "rest", "code": "201"}},
		{metrics.APIRequestDuration.Name, map[string]string{"method": "photon.v1.Vms/CreateVm", "protocol": "rest"}},
		{metrics.ChainDuration.Name, map[string]string{"chain": string(events.VMCreate.Name), "state": "COMPLETED"}},
		{metrics.VSphereDuration.Name, map[string]string{"method": "CreateVM_Task", "outcome": "ok"}},
		{metrics.VSphereDuration.Name, map[string]string{"method": "PowerOnVM_Task", "outcome": "ok"}},
		{metrics.RedisDuration.Name, map[string]string{"outcome": "ok"}},
	}
	for _, s := range events.VMCreate.Steps {
		want = append(want,
			moved{metrics.FunctionEvents.Name, map[string]string{"function": s.Function, "outcome": "ok"}},
			moved{metrics.StepDuration.Name, map[string]string{"function": s.Function, "operation": string(s.Operation), "undo": "false"}})
	}
	for _, w := range want {
		was, _ := before.value(w.family, w.labels)
		now, ok := after.value(w.family, w.labels)
		if !ok || now < was+1 {
			t.Errorf("%s%v: %g before the create, %g after (found %v); want one more at least", w.family, w.labels, was, now, ok)
		}
	}

	var vm vm
	if st := c.do("GET", "/v1/vms/"+tk.Entity.ID, nil, &vm); st != http.StatusOK {
		t.Fatalf("get vm: %d", st)
	}
	gauges := []moved{
		{metrics.Hosts.Name, map[string]string{"state": "READY"}},
		{metrics.FleetCPUs.Name, map[string]string{"kind": "capacity"}},
		{metrics.FleetMemory.Name, map[string]string{"kind": "reserved"}},
		{metrics.VMs.Name, map[string]string{"state": vm.State}},
		{metrics.AdmissionLimit.Name, nil},
		{metrics.AdmissionInFlight.Name, nil},
		{metrics.FunctionWorkers.Name, map[string]string{"function": "place"}},
		{metrics.FunctionBacklog.Name, map[string]string{"function": "place"}},
		{metrics.Subscriptions.Name, nil},
	}
	for _, g := range gauges {
		v, ok := after.value(g.family, g.labels)
		if !ok {
			t.Errorf("no %s%v", g.family, g.labels)
		}
		if g.family == metrics.Hosts.Name && v < float64(len(cl.HostIDs)) {
			t.Errorf("%s%v = %g, want %d at least", g.family, g.labels, v, len(cl.HostIDs))
		}
	}

	// Every family Photon exports is the catalogue's, with its type and labels exactly.
	var names []string
	for name, fam := range after {
		if !strings.HasPrefix(name, "photon_") {
			continue
		}
		names = append(names, name)
		cf, ok := metrics.Lookup(name)
		if !ok {
			t.Errorf("%s is not in the catalogue (metrics.Families)", name)
			continue
		}
		if got := strings.ToLower(fam.GetType().String()); got != string(cf.Kind) {
			t.Errorf("%s is a %s, the catalogue says %s", name, got, cf.Kind)
		}
		for _, m := range fam.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName())
			}
			sort.Strings(labels)
			wantLabels := slices.Sorted(slices.Values(cf.Labels))
			if !slices.Equal(labels, wantLabels) {
				t.Errorf("%s has labels %v, the catalogue says %v", name, labels, wantLabels)
				break
			}
		}
	}
	t.Logf("families: %s", strings.Join(slices.Sorted(slices.Values(names)), " "))
}
