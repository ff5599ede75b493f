package runtime_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

const traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// published records what a handler publishes (the reply to a dead letter).
type published struct {
	mu sync.Mutex
	es []cloudevents.Event
}

func (p *published) Publish(_ context.Context, es ...cloudevents.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.es = append(p.es, es...)
	return nil
}

func (p *published) types() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.es {
		out = append(out, e.Type())
	}
	return out
}

// knativeCloud is the real function set on a real Redis with a project, a VM in it and
// tasks on that VM for an allowed and a refused caller.
type knativeCloud struct {
	store *store.Store
	set   *functions.Set
}

func newKnativeCloud(t *testing.T) *knativeCloud {
	t.Helper()
	s := storetest.New(t)
	ctx := t.Context()
	setup := func(kind, id string) *model.Task {
		return s.NewTask("", "SETUP", model.Entity{ID: id, Kind: kind}, model.Caller{Subject: "root"}, nil)
	}
	for _, err := range []error{
		s.CreateTenant(ctx, &model.Tenant{ID: "a", Name: "a"}, setup(model.KindTenant, "a")),
		s.CreateProject(ctx, &model.Project{ID: "p1", TenantID: "a", Name: "p1", SecurityGroups: []string{"a\\p1"}}, setup(model.KindProject, "p1")),
		s.CreateVM(ctx, &model.VM{ID: "vm-1", Name: "vm-1", TenantID: "a", ProjectID: "p1", State: model.VMStopped}, setup(model.KindVM, "vm-1")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	set := functions.New(s)
	t.Cleanup(set.Close)
	return &knativeCloud{store: s, set: set}
}

// task adds a vm.start task on vm-1 for a caller of group.
func (c *knativeCloud) task(t *testing.T, id, group string) {
	t.Helper()
	task := c.store.NewTask(id, string(events.VMStart.Operation), model.Entity{ID: "vm-1", Kind: model.KindVM},
		model.Caller{Subject: "u-" + id, Groups: []string{group}}, opsOf(&events.VMStart))
	if err := c.store.Apply(t.Context(), c.store.AddTask(new(store.Batch), task)); err != nil {
		t.Fatal(err)
	}
}

// post sends e as a Knative Broker does, in binary or structured content mode.
func post(t *testing.T, url string, e cloudevents.Event, structured bool, header http.Header) *http.Response {
	t.Helper()
	ctx := binding.WithForceBinary(t.Context())
	if structured {
		ctx = binding.WithForceStructured(t.Context())
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) *http.Response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestKnativeContract drives the authorize function's container as a Knative Broker
// would: the reply event in the response (reply chaining) with the chain's next type,
// the same subject, task and trace; 4xx for what retrying cannot fix, 5xx for what it
// may; probes; dead letters.
func TestKnativeContract(t *testing.T) {
	c := newKnativeCloud(t)
	for _, id := range []string{"binary", "structured", "w3c", "deadletter"} {
		c.task(t, id, "a\\p1")
	}
	c.task(t, "refused", "a\\p2")
	bus := &published{}
	authorize := c.set.Get("authorize")
	srv := httptest.NewServer(runtime.NewKnativeHandler(c.set.Runtime, authorize, bus))
	defer srv.Close()
	// The same function on a Redis that does not answer.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close()
	dead := store.New(redis.NewClient(&redis.Options{Addr: deadAddr, MaxRetries: -1, DialTimeout: time.Second}), "dead:")
	deadSrv := httptest.NewServer(runtime.NewKnativeHandler(&runtime.Runtime{Store: dead}, authorize, nil))
	defer deadSrv.Close()

	start := func(task string) cloudevents.Event {
		e := events.New("test", events.VMStart.StartType(), "a", events.StepData{TaskID: task, EntityID: "vm-1"})
		if task != "w3c" {
			e.SetExtension(events.ExtTraceParent, traceParent)
		}
		return e
	}
	loop := start("binary")
	loop.SetExtension(events.ExtHops, events.MaxHops+1)
	cases := []struct {
		name       string
		url        string // default srv.URL
		event      cloudevents.Event
		structured bool
		header     http.Header
		raw        *http.Request // sent instead of event
		wantStatus int
		wantType   string // of the reply
	}{
		{name: "binary mode: the next step's event", event: start("binary"), wantStatus: 200, wantType: events.VMStart.DoneType(0)},
		{name: "structured mode: the next step's event", event: start("structured"), structured: true, wantStatus: 200, wantType: events.VMStart.DoneType(0)},
		{name: "W3C traceparent header", event: start("w3c"), header: http.Header{"Traceparent": {traceParent}}, wantStatus: 200, wantType: events.VMStart.DoneType(0)},
		{name: "a redelivery answers as the first time", event: start("binary"), wantStatus: 200, wantType: events.VMStart.DoneType(0)},
		{name: "a refused step answers with the failed event", event: start("refused"), wantStatus: 200, wantType: events.VMStart.FailedType()},
		{name: "unknown task is permanent", event: start("nope"), wantStatus: 400},
		{name: "an event type the function does not take", event: events.New("test", events.VMCreate.DoneType(0), "a",
			events.StepData{TaskID: "binary", EntityID: "vm-1"}), wantStatus: 400},
		{name: "no payload", event: func() cloudevents.Event { e := start("binary"); e.DataEncoded = nil; return e }(), wantStatus: 400},
		{name: "hop limit", event: loop, wantStatus: 400},
		{name: "redis unreachable is retryable", url: deadSrv.URL, event: start("binary"), wantStatus: 500},
		{name: "binary mode without an id", raw: rawRequest(t, srv.URL, map[string]string{"Ce-Specversion": "1.0",
			"Ce-Type": events.VMStart.StartType(), "Ce-Source": "test", "Content-Type": "application/json"}, `{"taskId":"binary","entityId":"vm-1"}`), wantStatus: 400},
		{name: "structured mode, not JSON", raw: rawRequest(t, srv.URL, map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":`), wantStatus: 400},
		{name: "no CloudEvent at all", raw: rawRequest(t, srv.URL, map[string]string{"Content-Type": "application/json"}, `{}`), wantStatus: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			if tc.raw != nil {
				resp = do(t, tc.raw)
			} else {
				url := tc.url
				if url == "" {
					url = srv.URL
				}
				resp = post(t, url, tc.event, tc.structured, tc.header)
			}
			if resp.StatusCode != tc.wantStatus {
				body, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if tc.wantType == "" {
				return
			}
			reply, err := cehttp.NewEventFromHTTPResponse(resp)
			if err != nil {
				t.Fatalf("reply: %v", err)
			}
			if reply.Type() != tc.wantType || reply.Subject() != tc.event.Subject() ||
				reply.Extensions()[events.ExtTaskID] != tc.event.Extensions()[events.ExtTaskID] {
				t.Fatalf("reply %s subject %s task %v, want %s for %s task %v", reply.Type(), reply.Subject(),
					reply.Extensions()[events.ExtTaskID], tc.wantType, tc.event.Subject(), tc.event.Extensions()[events.ExtTaskID])
			}
			if tp, _ := reply.Extensions()[events.ExtTraceParent].(string); !strings.Contains(tp, "4bf92f3577b34da6a3ce929d0e0e4736") {
				t.Fatalf("reply traceparent %q is not of the request's trace", tp)
			}
			if events.Hops(*reply) != events.Hops(tc.event)+1 {
				t.Fatalf("reply hops %d", events.Hops(*reply))
			}
		})
	}

	t.Run("every function refuses another's event", func(t *testing.T) {
		for _, name := range events.Functions() {
			fn := c.set.Get(name)
			if fn == nil {
				t.Fatalf("no function %s in the set", name)
			}
			h := runtime.NewKnativeHandler(c.set.Runtime, fn, nil)
			for _, other := range events.Functions() {
				if other == name {
					continue
				}
				e := events.New("test", events.TypesFor(other)[0], "a", events.StepData{TaskID: "binary", EntityID: "vm-1"})
				req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", nil)
				if err := cehttp.WriteRequest(t.Context(), binding.ToMessage(&e), req); err != nil {
					t.Fatal(err)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 400 || !strings.Contains(w.Body.String(), "does not take") {
					t.Fatalf("%s given %s: %d %s", name, e.Type(), w.Code, w.Body)
				}
			}
		}
	})

	t.Run("probes", func(t *testing.T) {
		for _, p := range []struct {
			url  string
			want int
		}{
			{srv.URL + runtime.PathLive, 200}, {srv.URL + runtime.PathReady, 200},
			{deadSrv.URL + runtime.PathLive, 200}, {deadSrv.URL + runtime.PathReady, 503},
			{srv.URL + "/nowhere", 404}, {srv.URL + "/", 405},
		} {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, p.url, nil)
			if resp := do(t, req); resp.StatusCode != p.want {
				t.Errorf("GET %s: %d, want %d", p.url, resp.StatusCode, p.want)
			}
		}
	})

	t.Run("dead letter fails the task and publishes the reply", func(t *testing.T) {
		e := start("deadletter")
		e.SetExtension("knativeerrorcode", 500)
		e.SetExtension("knativeerrordest", "http://photon-authorize.photon.svc.cluster.local")
		resp := post(t, srv.URL+runtime.PathDeadLetter, e, false, nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("dead letter: %d", resp.StatusCode)
		}
		if got := bus.types(); len(got) != 1 || got[0] != events.VMStart.FailedType() {
			t.Fatalf("published %v, want %s", got, events.VMStart.FailedType())
		}
		task, err := c.store.GetTask(t.Context(), "deadletter")
		if err != nil {
			t.Fatal(err)
		}
		if task.State != model.TaskError || task.Steps[0].State != model.TaskError {
			t.Fatalf("task %s, step %s", task.State, task.Steps[0].State)
		}
	})
}

func rawRequest(t *testing.T, url string, header map[string]string, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return req
}

// TestServeKnative serves a function as its container does: kubelet and queue-proxy
// probes answer from the Drainer, events go through, and when the context ends (SIGTERM)
// the probes fail at once and the server stops after its quiet period.
func TestServeKnative(t *testing.T) {
	c := newKnativeCloud(t)
	c.task(t, "t1", "a\\p1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runtime.ServeKnative(ctx, ln, runtime.NewKnativeHandler(c.set.Runtime, c.set.Get("authorize"), nil),
			runtime.ServeOptions{DrainQuiet: 2 * time.Second})
	}()
	probe := func() int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+runtime.PathReady, nil)
		req.Header.Set("User-Agent", "kube-probe/1.33")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := probe(); got != 200 {
		t.Fatalf("probe before drain: %d", got)
	}
	e := events.New("test", events.VMStart.StartType(), "a", events.StepData{TaskID: "t1", EntityID: "vm-1"})
	if resp := post(t, url, e, false, nil); resp.StatusCode != 200 {
		t.Fatalf("event: %d", resp.StatusCode)
	}
	cancel()
	deadline := time.Now().Add(10 * time.Second)
	for probe() != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("probes did not fail while draining")
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop after draining")
	}
}
