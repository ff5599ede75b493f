package infra_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/infra"
)

// object is one parsed manifest document.
type object struct {
	file string
	doc  map[string]any
}

func (o object) kind() string { return str(o.doc, "apiVersion") + "/" + str(o.doc, "kind") }
func (o object) name() string { return str(o.doc, "metadata", "name") }
func (o object) String() string {
	return fmt.Sprintf("%s %s (%s)", o.kind(), o.name(), o.file)
}

// get follows path through maps; a number in path indexes a list.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

// load parses every document of every manifest under infra/knative.
func load(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("knative", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	var out []object
	for _, f := range files {
		r, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(r)
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if doc != nil {
				out = append(out, object{file: filepath.Base(f), doc: doc})
			}
		}
		r.Close()
	}
	return out
}

// TestTriggersMatchChain checks the Triggers against the chain table: every event type a
// function consumes has exactly one Trigger, to that function's Knative Service; no
// Trigger filters on a type no chain routes; every Trigger dead-letters to its
// subscriber and belongs to the photon Broker.
func TestTriggersMatchChain(t *testing.T) {
	want := map[string]string{} // event type → Service
	for _, fn := range events.Functions() {
		for _, et := range events.TypesFor(fn) {
			want[et] = infra.ServiceName(fn)
		}
	}
	for _, c := range events.Chains {
		for i := range c.Steps {
			if _, ok := want[c.InType(i)]; !ok {
				t.Errorf("step %d of %s consumes %s, which no function takes", i, c.Name, c.InType(i))
			}
		}
	}
	got := map[string]string{}
	for _, o := range load(t) {
		if o.kind() != "eventing.knative.dev/v1/Trigger" {
			continue
		}
		et := str(o.doc, "spec", "filter", "attributes", "type")
		svc := str(o.doc, "spec", "subscriber", "ref", "name")
		if attrs, _ := get(o.doc, "spec", "filter", "attributes").(map[string]any); len(attrs) != 1 {
			t.Errorf("%s filters on %v, want the type alone", o, attrs)
		}
		if _, dup := got[et]; dup {
			t.Errorf("%s: a second Trigger for %s", o, et)
		}
		got[et] = svc
		if w, ok := want[et]; !ok {
			t.Errorf("%s: orphan, no chain routes %q", o, et)
		} else if svc != w {
			t.Errorf("%s: %s goes to %s, want %s", o, et, svc, w)
		}
		if b := str(o.doc, "spec", "broker"); b != infra.Broker {
			t.Errorf("%s: broker %q", o, b)
		}
		if dl := str(o.doc, "spec", "delivery", "deadLetterSink", "ref", "name"); dl != svc {
			t.Errorf("%s: dead letters go to %q, want its subscriber %s", o, dl, svc)
		}
	}
	for et, svc := range want {
		if _, ok := got[et]; !ok {
			t.Errorf("no Trigger sends %s to %s", et, svc)
		}
	}
}

// TestManifestsWellFormed checks every document offline: apiVersion, kind and a DNS
// label name; the fields each kind requires; and that every reference (subscriber,
// dead-letter sink, binding subject, Service selector, ConfigMap and Secret keys) names
// something the manifests define. There is no kubectl nor schema here to validate against,
// so this is a hand-written structural check of the kinds Photon uses; a document of
// another kind fails until a check is written for it.
func TestManifestsWellFormed(t *testing.T) {
	objs := load(t)
	defined := map[string]bool{} // kind/name
	for _, o := range objs {
		key := o.kind() + "/" + o.name()
		if defined[key] {
			t.Errorf("%s defined twice", o)
		}
		defined[key] = true
	}
	dns := regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	ref := func(o object, what string, r any, allowExternal bool) {
		t.Helper()
		k := str(r, "apiVersion") + "/" + str(r, "kind") + "/" + str(r, "name")
		if str(r, "apiVersion") == "" || str(r, "kind") == "" || str(r, "name") == "" {
			t.Errorf("%s: %s %v is not a reference", o, what, r)
		} else if !defined[k] && !allowExternal {
			t.Errorf("%s: %s %s is defined nowhere", o, what, k)
		}
	}
	delivery := func(o object, d any) {
		t.Helper()
		if d == nil {
			t.Errorf("%s: no delivery", o)
			return
		}
		if n, ok := get(d, "retry").(int); !ok || n < 1 {
			t.Errorf("%s: delivery.retry %v", o, get(d, "retry"))
		}
		if p := str(d, "backoffPolicy"); p != "exponential" && p != "linear" {
			t.Errorf("%s: backoffPolicy %q", o, p)
		}
		if !regexp.MustCompile(`^PT[0-9.]+S$`).MatchString(str(d, "backoffDelay")) {
			t.Errorf("%s: backoffDelay %q is not an ISO 8601 duration", o, str(d, "backoffDelay"))
		}
		ref(o, "deadLetterSink", get(d, "deadLetterSink", "ref"), false)
	}
	containers := func(o object, spec any) {
		t.Helper()
		cs, _ := get(spec, "containers").([]any)
		if len(cs) == 0 {
			t.Errorf("%s: no containers", o)
		}
		for i := range cs {
			if str(spec, "containers", i, "image") == "" {
				t.Errorf("%s: container %d has no image", o, i)
			}
			for _, probe := range []string{"readinessProbe", "livenessProbe"} {
				p := get(spec, "containers", i, probe)
				if p != nil && get(p, "httpGet") == nil && get(p, "exec") == nil && get(p, "tcpSocket") == nil {
					t.Errorf("%s: %s has no handler", o, probe)
				}
			}
		}
	}
	workloadLabels := map[string]map[string]any{} // pod labels of each Deployment and StatefulSet
	for _, o := range objs {
		if str(o.doc, "apiVersion") == "" || str(o.doc, "kind") == "" || !dns.MatchString(o.name()) || len(o.name()) > 63 {
			t.Errorf("%s: needs apiVersion, kind and a DNS label name", o)
		}
		spec := get(o.doc, "spec")
		switch o.kind() {
		case "serving.knative.dev/v1/Service":
			containers(o, get(spec, "template", "spec"))
			if len(get(spec, "template", "spec", "containers").([]any)) != 1 {
				t.Errorf("%s: Knative serves one container", o)
			}
			for _, probe := range []string{"readinessProbe", "livenessProbe"} {
				if get(spec, "template", "spec", "containers", 0, probe, "httpGet", "port") != nil {
					t.Errorf("%s: Knative probes the serving port; %s names another", o, probe)
				}
			}
		case "eventing.knative.dev/v1/Trigger":
			if str(spec, "broker") == "" || str(spec, "filter", "attributes", "type") == "" {
				t.Errorf("%s: needs broker and a type filter", o)
			}
			ref(o, "subscriber", get(spec, "subscriber", "ref"), false)
			delivery(o, get(spec, "delivery"))
		case "eventing.knative.dev/v1/Broker":
			delivery(o, get(spec, "delivery"))
		case "sources.knative.dev/v1/SinkBinding":
			subj := get(spec, "subject")
			if str(subj, "apiVersion") == "" || str(subj, "kind") == "" || (str(subj, "name") == "" && get(subj, "selector") == nil) {
				t.Errorf("%s: subject %v", o, subj)
			}
			if str(subj, "name") != "" {
				ref(o, "subject", subj, false)
			}
			ref(o, "sink", get(spec, "sink", "ref"), false)
		case "apps/v1/Deployment", "apps/v1/StatefulSet":
			sel, _ := get(spec, "selector", "matchLabels").(map[string]any)
			labels, _ := get(spec, "template", "metadata", "labels").(map[string]any)
			if len(sel) == 0 {
				t.Errorf("%s: no selector", o)
			}
			for k, v := range sel {
				if labels[k] != v {
					t.Errorf("%s: the selector's %s=%v is not a pod label", o, k, v)
				}
			}
			workloadLabels[o.name()] = labels
			containers(o, get(spec, "template", "spec"))
			if o.kind() == "apps/v1/StatefulSet" && !defined["v1/Service/"+str(spec, "serviceName")] {
				t.Errorf("%s: serviceName %q is defined nowhere", o, str(spec, "serviceName"))
			}
		case "v1/Service":
			if ports, _ := get(spec, "ports").([]any); len(ports) == 0 {
				t.Errorf("%s: no ports", o)
			}
		case "v1/ConfigMap":
			if get(o.doc, "data") == nil {
				t.Errorf("%s: no data", o)
			}
		default:
			t.Errorf("%s: no check for this kind", o)
		}
	}
	// A Service selects some workload's pods; env comes from ConfigMaps defined here
	// (Secrets are the operator's: infra/README.md says which).
	for _, o := range objs {
		switch o.kind() {
		case "v1/Service":
			sel, _ := get(o.doc, "spec", "selector").(map[string]any)
			if !slices.ContainsFunc(mapsValues(workloadLabels), func(labels map[string]any) bool { return subset(sel, labels) }) {
				t.Errorf("%s: selector %v matches no workload", o, sel)
			}
		case "apps/v1/Deployment":
			for _, env := range get(o.doc, "spec", "template", "spec", "containers", 0, "env").([]any) {
				if cm := str(env, "valueFrom", "configMapKeyRef", "name"); cm != "" {
					key := str(env, "valueFrom", "configMapKeyRef", "key")
					var found bool
					for _, c := range objs {
						found = found || (c.kind() == "v1/ConfigMap" && c.name() == cm && get(c.doc, "data", key) != nil)
					}
					if !found {
						t.Errorf("%s: ConfigMap %s has no key %s", o, cm, key)
					}
				}
			}
		}
	}
	// Every function has its Knative Service, and Knative runs it as ServeKnative expects.
	for _, fn := range events.Functions() {
		if !defined["serving.knative.dev/v1/Service/"+infra.ServiceName(fn)] {
			t.Errorf("no Knative Service for function %s", fn)
		}
	}
	for _, o := range objs {
		if o.kind() == "serving.knative.dev/v1/Service" {
			args := fmt.Sprint(get(o.doc, "spec", "template", "spec", "containers", 0, "args"))
			if !strings.HasPrefix(args, "[function "+strings.TrimPrefix(o.name(), "photon-")+" ") || !strings.Contains(args, infra.RedisURL) {
				t.Errorf("%s: args %s", o, args)
			}
		}
	}
}

func subset(sel, labels map[string]any) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func mapsValues(m map[string]map[string]any) []map[string]any {
	var out []map[string]any
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
