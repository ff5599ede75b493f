package infra

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Monitoring renders the Grafana dashboards and the Prometheus alert rules, by name
// under infra/monitoring, from the families of package metrics (a test checks every
// expression against its catalogue).
func Monitoring() map[string]string {
	out := map[string]string{"alerts.yaml": AlertRules()}
	for _, d := range Dashboards() {
		out["dashboards/"+d.UID+".json"] = jsonText(d.grafana(), "  ")
	}
	return out
}

// A Dashboard is a Grafana dashboard of time series panels, on a Prometheus data source
// chosen when it is imported.
type Dashboard struct {
	UID, Title string
	Rows       []Row
}

// A Row is a heading and its panels, two to a line.
type Row struct {
	Title  string
	Panels []Panel
}

// A Panel plots its queries in a unit of Grafana's (s, short, bytes, percentunit, reqps).
type Panel struct {
	Title, Unit string
	Queries     []Query
}

// A Query is a PromQL expression and its legend.
type Query struct{ Expr, Legend string }

// quantile is the q-quantile of histogram family over 5 minutes, by the labels by.
func quantile(q float64, family, by string) string {
	return fmt.Sprintf("histogram_quantile(%g, sum by (le, %s) (rate(%s_bucket[5m])))", q, by, family)
}

// Dashboards are Photon's dashboards: the control plane (API, admission, functions,
// chains, Redis, subscriptions) and the fleet (hosts, capacity, VMs, vSphere).
func Dashboards() []Dashboard {
	return []Dashboard{{
		UID: "photon-control-plane", Title: "Photon: control plane",
		Rows: []Row{
			{"API", []Panel{
				{"Requests by method", "reqps", []Query{{`sum by (method) (rate(photon_api_requests_total[5m]))`, "{{method}}"}}},
				{"Errors by code", "reqps", []Query{{`sum by (code) (rate(photon_api_requests_total{code=~"4..|5.."}[5m]))`, "{{code}}"}}},
				{"Latency p99 by method", "s", []Query{{quantile(0.99, "photon_api_request_duration_seconds", "method"), "{{method}}"}}},
				{"Admission", "short", []Query{
					{`max(photon_admission_in_flight)`, "in flight"},
					{`max(photon_admission_limit)`, "limit"},
					{`sum by (reason) (rate(photon_admission_rejections_total[5m]))`, "rejected/s ({{reason}})"}}},
			}},
			{"Functions", []Panel{
				{"Events handled by function", "short", []Query{{`sum by (function, outcome) (rate(photon_function_events_handled_total[5m]))`, "{{function}} {{outcome}}"}}},
				{"Retries and dead letters", "short", []Query{
					{`sum by (function) (rate(photon_function_retries_total[5m]))`, "retries {{function}}"},
					{`sum by (function) (increase(photon_function_dead_letters_total[5m]))`, "dead letters {{function}}"}}},
				{"Step duration p95 by operation", "s", []Query{{quantile(0.95, "photon_function_step_duration_seconds", "operation"), "{{operation}}"}}},
				{"Backlog and pending", "short", []Query{
					{`max by (function) (photon_function_backlog)`, "backlog {{function}}"},
					{`sum by (function) (photon_function_events_pending)`, "pending {{function}}"}}},
				{"Workers the autoscalers chose", "short", []Query{{`sum by (function) (photon_function_workers)`, "{{function}}"}}},
			}},
			{"Chains", []Panel{
				{"Chain latency p50 and p99", "s", []Query{
					{quantile(0.5, "photon_chain_duration_seconds", "chain"), "p50 {{chain}}"},
					{quantile(0.99, "photon_chain_duration_seconds", "chain"), "p99 {{chain}}"}}},
				{"Chains ended by state", "short", []Query{{`sum by (chain, state) (rate(photon_chain_duration_seconds_count[5m]))`, "{{chain}} {{state}}"}}},
			}},
			{"Redis and subscriptions", []Panel{
				{"Redis round trip p99 by command", "s", []Query{{quantile(0.99, "photon_redis_command_duration_seconds", "command"), "{{command}}"}}},
				{"Redis errors", "short", []Query{{`sum by (command) (rate(photon_redis_command_duration_seconds_count{outcome="error"}[5m]))`, "{{command}}"}}},
				{"Subscription delivery p95", "s", []Query{{quantile(0.95, "photon_subscription_delivery_duration_seconds", "outcome"), "{{outcome}}"}}},
				{"Subscription queues", "short", []Query{
					{`sum(photon_subscription_queue_depth)`, "queued"},
					{`max(photon_subscriptions)`, "subscriptions"}}},
			}},
		},
	}, {
		UID: "photon-fleet", Title: "Photon: fleet",
		Rows: []Row{
			{"Hosts and VMs", []Panel{
				{"Hosts by state", "short", []Query{{`max by (state) (photon_hosts)`, "{{state}}"}}},
				{"VMs by state", "short", []Query{{`max by (state) (photon_vms)`, "{{state}}"}}},
			}},
			{"Reserved against capacity", []Panel{
				{"CPU", "percentunit", []Query{{`max(photon_fleet_cpus{kind="reserved"}) / max(photon_fleet_cpus{kind="capacity"})`, "vCPUs reserved / cores"}}},
				{"Memory", "percentunit", []Query{{`max(photon_fleet_memory_bytes{kind="reserved"}) / max(photon_fleet_memory_bytes{kind="capacity"})`, "reserved / capacity"}}},
				{"Datastore space", "percentunit", []Query{{`max(photon_fleet_datastore_bytes{kind="reserved"}) / max(photon_fleet_datastore_bytes{kind="capacity"})`, "reserved / capacity"}}},
				{"Capacity", "bytes", []Query{
					{`max by (kind) (photon_fleet_memory_bytes)`, "memory {{kind}}"},
					{`max by (kind) (photon_fleet_datastore_bytes)`, "datastore {{kind}}"}}},
			}},
			{"vSphere", []Panel{
				{"vSphere call p95 by method", "s", []Query{{quantile(0.95, "photon_vsphere_call_duration_seconds", "method"), "{{method}}"}}},
				{"vSphere faults and errors", "short", []Query{{`sum by (method, outcome) (rate(photon_vsphere_call_duration_seconds_count{outcome!="ok"}[5m]))`, "{{method}} {{outcome}}"}}},
			}},
		},
	}}
}

// grafana is d in Grafana's dashboard JSON model.
func (d Dashboard) grafana() map[string]any {
	ds := map[string]any{"type": "prometheus", "uid": "${datasource}"}
	var panels []any
	y, id := 0, 1
	for _, r := range d.Rows {
		panels = append(panels, map[string]any{"id": id, "type": "row", "title": r.Title, "collapsed": false,
			"gridPos": map[string]int{"h": 1, "w": 24, "x": 0, "y": y}, "panels": []any{}})
		id++
		y++
		for i, p := range r.Panels {
			var targets []any
			for j, q := range p.Queries {
				targets = append(targets, map[string]any{"datasource": ds, "expr": q.Expr, "legendFormat": q.Legend, "refId": string(rune('A' + j))})
			}
			panels = append(panels, map[string]any{"id": id, "type": "timeseries", "title": p.Title, "datasource": ds,
				"gridPos":     map[string]int{"h": 8, "w": 12, "x": 12 * (i % 2), "y": y + 8*(i/2)},
				"fieldConfig": map[string]any{"defaults": map[string]any{"unit": p.Unit}, "overrides": []any{}},
				"targets":     targets})
			id++
		}
		y += 8 * ((len(r.Panels) + 1) / 2)
	}
	return map[string]any{
		"uid": d.UID, "title": d.Title, "tags": []string{"photon"}, "editable": true, "schemaVersion": 39,
		"time": map[string]string{"from": "now-1h", "to": "now"}, "refresh": "30s",
		"templating": map[string]any{"list": []any{map[string]any{"name": "datasource", "label": "Prometheus",
			"type": "datasource", "query": "prometheus"}}},
		"panels": panels,
	}
}

// An Alert is a Prometheus alerting rule.
type Alert struct {
	Name, Expr, For, Severity, Summary string
}

// Alerts are the conditions someone must look at: a function's backlog that does not
// move, dead letters, hosts in ERROR, and admission near or at its limit.
func Alerts() []Alert {
	return []Alert{
		{"PhotonBacklogStuck", `(max by (function) (min_over_time(photon_function_backlog[15m])) > 0) unless on (function) (sum by (function) (increase(photon_function_events_handled_total[15m])) > 0)`,
			"5m", "critical", "Function {{ $labels.function }} has had events waiting for 15 minutes and handled none."},
		{"PhotonDeadLetters", `sum by (function) (increase(photon_function_dead_letters_total[15m])) > 0`,
			"0m", "warning", "Function {{ $labels.function }} dead-lettered {{ $value }} events in 15 minutes: their tasks failed or parked (POST /v1/tasks/{id}/retry)."},
		{"PhotonHostsInError", `max(photon_hosts{state="ERROR"}) > 0`,
			"5m", "warning", "{{ $value }} hosts are in ERROR: silent, or their hostd failed (GET /v1/infrastructure/hosts)."},
		{"PhotonAdmissionSaturated", `max(photon_admission_in_flight) / max(photon_admission_limit > 0) > 0.9`,
			"5m", "warning", "Chains in flight are above 90% of --max-in-flight: calls will soon be refused with 429."},
		{"PhotonAdmissionRejecting", `sum(rate(photon_admission_rejections_total[5m])) > 0`,
			"10m", "critical", "The API has been refusing calls with 429 (admission) for 10 minutes."},
	}
}

// AlertRules renders Alerts as a PrometheusRule (the Prometheus Operator's kind), whose
// spec is also a plain Prometheus rules file.
func AlertRules() string {
	var b strings.Builder
	b.WriteString(header("Prometheus alert rules on the families of package metrics (a PrometheusRule; its spec is a plain rules file too)."))
	b.WriteString(head("monitoring.coreos.com/v1", "PrometheusRule", "photon"))
	b.WriteString("spec:\n  groups:\n    - name: photon\n      rules:\n")
	for _, a := range Alerts() {
		fmt.Fprintf(&b, "        - alert: %s\n          expr: %s\n          for: %s\n          labels:\n            severity: %s\n          annotations:\n            summary: %s\n",
			a.Name, yamlString(a.Expr), a.For, a.Severity, yamlString(a.Summary))
	}
	return b.String()
}

// yamlString quotes s for YAML (a JSON string is a YAML double-quoted scalar).
func yamlString(s string) string { return strings.TrimSuffix(jsonText(s, ""), "\n") }

// jsonText is v as JSON, indented by indent (none: one line), with PromQL's < > and &
// as they are, and a newline.
func jsonText(v any, indent string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		panic(err) // maps and slices of strings and numbers
	}
	return b.String()
}
