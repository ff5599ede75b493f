// Package steptest is the harness of the step packages' tests: the function set wired as
// production wires it (functions.New) on a real Redis, fake hostds at the gRPC boundary
// (served over loopback mutual TLS, so the steps' own hostclient code dials them and pins
// each host's identity), builders of the store states a step starts from, and the
// delivery of a step's event through the runtime, as the broker delivers it.
//
// The tests drive steps through the runtime's handler rather than a function's Do, so
// that what they check is what a chain sees: the reply event, the task's step state, the
// retry contract (a returned error is retried, a permanent failure starts the undo chain).
package steptest

import (
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// The names the builders give what every test needs once.
const (
	Tenant    = "tenant-1"
	Project   = "project-1"
	Datastore = "ds-1"      // every host's VM datastore
	ImageDS   = "ds-images" // every host's image datastore, where uploads land
	PortGroup = "VM Network"
)

// Root is a caller every chain allows; Stranger is one authorize refuses everything in
// the project.
var (
	Root     = model.Caller{Subject: "root", Groups: []string{policy.SystemAdminsGroup}}
	Stranger = model.Caller{Subject: "stranger", Groups: []string{"elsewhere\\users"}}
)

// Env is one test's control plane: its store, its functions and its hosts.
type Env struct {
	Store *store.Store
	Set   *functions.Set
	ca    *pki.CA
}

// New returns an Env on a fresh key prefix of the test Redis, with a tenant and a project
// and no host; opts are passed to functions.New after the host TLS config.
func New(t testing.TB, opts ...functions.Option) *Env {
	t.Helper()
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := ca.ServiceClientTLS("functions")
	if err != nil {
		t.Fatal(err)
	}
	s := storetest.New(t)
	set := functions.New(s, append([]functions.Option{functions.WithHostTLS(clientTLS)}, opts...)...)
	t.Cleanup(set.Close)
	e := &Env{Store: s, Set: set, ca: ca}
	ctx := t.Context()
	must(t, s.CreateTenant(ctx, &model.Tenant{ID: Tenant, Name: Tenant, SecurityGroups: []string{Tenant + "\\admins"}}, e.done(model.KindTenant, Tenant)))
	must(t, s.CreateProject(ctx, &model.Project{ID: Project, TenantID: Tenant, Name: Project, SecurityGroups: []string{Tenant + "\\users"}}, e.done(model.KindProject, Project)))
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// done is a task that has ended: the creation of a record the test starts from.
func (e *Env) done(kind, id string) *model.Task {
	return e.Store.NewTask("setup-"+uuid.NewString(), "SETUP", model.Entity{ID: id, Kind: kind}, Root, nil)
}

// Do delivers the event that runs step i of task's chain to the step's function, through
// the runtime's handler, and returns its reply and error (an error is what the transport
// retries).
func (e *Env) Do(t testing.TB, chain *events.Chain, task *model.Task, i int) (*cloudevents.Event, error) {
	t.Helper()
	return e.deliver(t, chain, chain.InType(i), i, events.StepData{TaskID: task.ID, EntityID: task.Entity.ID})
}

// Undo delivers the event that undoes step i of task's chain after cause failed it.
func (e *Env) Undo(t testing.TB, chain *events.Chain, task *model.Task, i int, cause *errs.Error) (*cloudevents.Event, error) {
	t.Helper()
	return e.deliver(t, chain, chain.UndoType(i), i, events.StepData{TaskID: task.ID, EntityID: task.Entity.ID, Error: cause})
}

func (e *Env) deliver(t testing.TB, chain *events.Chain, typ string, i int, d events.StepData) (*cloudevents.Event, error) {
	t.Helper()
	fn := e.Set.Get(chain.Steps[i].Function)
	if fn == nil {
		t.Fatalf("no function %s", chain.Steps[i].Function)
	}
	return e.Set.Runtime.Handler(fn)(t.Context(), events.New("steptest", typ, Tenant, d))
}

// MustDo is Do for a step that must succeed: it fails the test unless the reply is the
// step's done event (or, after the last step, the chain's completed event).
func (e *Env) MustDo(t testing.TB, chain *events.Chain, task *model.Task, i int) {
	t.Helper()
	reply, err := e.Do(t, chain, task, i)
	want := chain.CompletedType()
	if i < len(chain.Steps)-1 {
		want = chain.DoneType(i)
	}
	if err != nil || reply == nil || reply.Type() != want {
		t.Fatalf("%s: reply %v, err %v; want %s", chain.Steps[i].Operation, typeOf(reply), err, want)
	}
}

func typeOf(e *cloudevents.Event) string {
	if e == nil {
		return "none"
	}
	return e.Type()
}

// The outcomes of delivering a step's event, as Outcome names them.
const (
	Done  = "done"  // the step completed: the reply is its done event
	Retry = "retry" // a transient error: the transport delivers the event again
)

// Failed is the outcome of a step that failed permanently with code: the reply starts the
// undo chain, or ends the chain as failed when nothing is to be undone.
func Failed(code string) string { return "failed " + code }

// Outcome names what delivering step i's event did, from the reply, the error and the
// task's step as stored: Done, Retry or Failed(code). Anything else is a test failure.
func (e *Env) Outcome(t testing.TB, chain *events.Chain, task *model.Task, i int, reply *cloudevents.Event, err error) string {
	t.Helper()
	step := e.Task(t, task.ID).Steps[i]
	switch {
	case err != nil && !errs.IsPermanent(err) && step.State == model.TaskQueued:
		return Retry
	case err != nil:
		t.Fatalf("%s: error %v (permanent %v), step %s", step.Operation, err, errs.IsPermanent(err), step.State)
	case step.State == model.TaskCompleted:
		want := chain.CompletedType()
		if i < len(chain.Steps)-1 {
			want = chain.DoneType(i)
		}
		if typeOf(reply) != want {
			t.Fatalf("%s completed, reply %s, want %s", step.Operation, typeOf(reply), want)
		}
		return Done
	case step.State == model.TaskError && len(step.Errors) > 0:
		want := chain.FailedType()
		if u := chain.UndoFrom(i, true); u >= 0 {
			want = chain.UndoType(u)
		}
		if typeOf(reply) != want {
			t.Fatalf("%s failed, reply %s, want %s", step.Operation, typeOf(reply), want)
		}
		return Failed(step.Errors[0].Code)
	}
	t.Fatalf("%s: step %s, reply %s", step.Operation, step.State, typeOf(reply))
	return ""
}

// Signal delivers signal s about subject to its function through the runtime's handler,
// as the broker delivers it, and returns the handler's error (a signal has no reply).
func (e *Env) Signal(t testing.TB, s events.Signal, subject string) error {
	t.Helper()
	fn := e.Set.Get(s.Function)
	if fn == nil {
		t.Fatalf("no function %s", s.Function)
	}
	reply, err := e.Set.Runtime.Handler(fn)(t.Context(), events.NewSignal("steptest", s, subject))
	if reply != nil {
		t.Errorf("signal %s answered %s", s.Type, reply.Type())
	}
	return err
}

// Replace puts the function build makes in the set, in place of the one of its name, for
// a test that gives a function what functions.New does not. build gets a pool of clients
// of the Env's hosts with the functions' credentials, closed at the test's end.
func (e *Env) Replace(t testing.TB, build func(hosts *hostclient.Pool) runtime.Function) {
	t.Helper()
	clientTLS, err := e.ca.ServiceClientTLS("functions")
	must(t, err)
	hosts := hostclient.New(e.Store, clientTLS)
	t.Cleanup(hosts.Close)
	fn := build(hosts)
	for i, f := range e.Set.Functions {
		if f.Name() == fn.Name() {
			e.Set.Functions[i] = fn
			return
		}
	}
	t.Fatalf("no function %s to replace", fn.Name())
}
