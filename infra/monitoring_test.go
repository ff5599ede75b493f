package infra_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/photon-cloud/photon/infra"
	"github.com/photon-cloud/photon/metrics"
)

var (
	metricName = regexp.MustCompile(`\b(photon_[a-z0-9_]+)(\{([^}]*)\})?`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)`)
	grouping   = regexp.MustCompile(`\b(?:by|on|ignoring|without)\s*\(([^)]*)\)`)
)

// checkExpr checks that expr names only families of the catalogue (metrics.Families),
// selects and groups by only their labels (and le, a histogram bucket's), and that
// histogram_quantile reads a histogram's buckets.
func checkExpr(t *testing.T, where, expr string) {
	t.Helper()
	labels := map[string]bool{}
	ms := metricName.FindAllStringSubmatch(expr, -1)
	if len(ms) == 0 {
		t.Errorf("%s: %q names no Photon family", where, expr)
	}
	for _, m := range ms {
		f, ok := metrics.Lookup(m[1])
		if !ok {
			t.Errorf("%s: %s is no family of the catalogue (metrics.Families)", where, m[1])
			continue
		}
		if f.Kind == metrics.KindHistogram && m[1] == f.Name {
			t.Errorf("%s: histogram %s is read by its series (_bucket, _sum, _count)", where, f.Name)
		}
		for _, l := range f.Labels {
			labels[l] = true
		}
		if strings.HasSuffix(m[1], "_bucket") {
			labels["le"] = true
		}
		for _, mm := range matcher.FindAllStringSubmatch(m[3], -1) {
			if !slices.Contains(f.Labels, mm[1]) {
				t.Errorf("%s: %s has no label %s (it has %v)", where, f.Name, mm[1], f.Labels)
			}
		}
	}
	for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(g[1], ",") {
			if l = strings.TrimSpace(l); l != "" && !labels[l] {
				t.Errorf("%s: groups by %s, a label of none of its families", where, l)
			}
		}
	}
	if strings.Contains(expr, "histogram_quantile") && !strings.Contains(expr, "_bucket[") {
		t.Errorf("%s: histogram_quantile without buckets", where)
	}
}

// TestMonitoringNamesWhatIsExported: every dashboard query and alert expression names
// families the code exports, by their labels; the files parse, and every alert has what
// Prometheus needs.
func TestMonitoringNamesWhatIsExported(t *testing.T) {
	files := infra.Monitoring()
	for _, d := range infra.Dashboards() {
		var model struct {
			UID    string `json:"uid"`
			Panels []struct {
				Title   string `json:"title"`
				Type    string `json:"type"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		name := "dashboards/" + d.UID + ".json"
		if err := json.Unmarshal([]byte(files[name]), &model); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if model.UID != d.UID {
			t.Errorf("%s: uid %q", name, model.UID)
		}
		for _, p := range model.Panels {
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", name, p.Title)
			}
			for _, q := range p.Targets {
				checkExpr(t, name+": "+p.Title, q.Expr)
			}
		}
	}

	var rule struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Groups []struct {
				Name  string `yaml:"name"`
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Expr        string            `yaml:"expr"`
					For         string            `yaml:"for"`
					Labels      map[string]string `yaml:"labels"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal([]byte(files["alerts.yaml"]), &rule); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	if rule.Kind != "PrometheusRule" || len(rule.Spec.Groups) == 0 {
		t.Fatalf("alerts.yaml: kind %q, %d groups", rule.Kind, len(rule.Spec.Groups))
	}
	var alerts []string
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || !regexp.MustCompile(`^[0-9]+[smh]$`).MatchString(r.For) {
				t.Errorf("alert %s: severity %q, summary %q, for %q", r.Alert, r.Labels["severity"], r.Annotations["summary"], r.For)
			}
			checkExpr(t, "alert "+r.Alert, r.Expr)
		}
	}
	for _, want := range []string{"PhotonBacklogStuck", "PhotonDeadLetters", "PhotonHostsInError", "PhotonAdmissionSaturated"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s", want)
		}
	}
}
