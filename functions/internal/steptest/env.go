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
	"crypto/tls"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/nsxsim"
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
	Root     = store.Caller{Subject: "root", Groups: []string{policy.SystemAdminsGroup}}
	Stranger = store.Caller{Subject: "stranger", Groups: []string{"elsewhere\\users"}}
)

// Env is one test's control plane: its store, its functions and its hosts.
type Env struct {
	Store *store.Store
	Set   *functions.Set
	ca    *pki.CA
	tls   *tls.Config
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
	e := &Env{Store: s, Set: set, ca: ca, tls: clientTLS}
	ctx := t.Context()
	must(t, s.CreateTenant(ctx, &store.Tenant{ID: Tenant, Name: Tenant, SecurityGroups: []string{Tenant + "\\admins"}}, e.done(store.KindTenant, Tenant)))
	must(t, s.CreateProject(ctx, &store.Project{ID: Project, TenantID: Tenant, Name: Project, SecurityGroups: []string{Tenant + "\\users"}}, e.done(store.KindProject, Project)))
	return e
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// done is a task that has ended: the creation of a record the test starts from.
func (e *Env) done(kind, id string) *store.Task {
	return e.Store.NewTask("setup-"+uuid.NewString(), "SETUP", store.Entity{ID: id, Kind: kind}, Root, nil)
}

// AddHost starts a fake hostd for host id and registers the host READY, with a VM
// datastore, an image datastore and a port group.
func (e *Env) AddHost(t testing.TB, id string) *Host {
	t.Helper()
	h := serve(t, e.ca, id)
	must(t, e.Store.RegisterHost(t.Context(), store.Host{ID: id, Name: id, Address: h.Addr, State: store.HostReady,
		CPUCores: 16, MemoryMB: 64 << 10, Networks: []string{PortGroup},
		Datastores: []store.Datastore{
			{ID: id + "-" + Datastore, Name: Datastore, Type: store.DatastoreVMFS, CapacityBytes: 1 << 40, FreeBytes: 1 << 40},
			{ID: id + "-" + ImageDS, Name: ImageDS, Type: store.DatastoreVMFS, CapacityBytes: 1 << 40, FreeBytes: 1 << 40},
		}}))
	return h
}

// NewTask is a QUEUED task of chain on entity id, by caller, not yet written: the
// builder of the entity writes it with the entity, as the gateway does.
func (e *Env) NewTask(chain *events.Chain, id string, caller store.Caller, props map[string]string) *store.Task {
	var ops []string
	for _, s := range chain.Steps {
		ops = append(ops, s.Operation)
	}
	t := e.Store.NewTask("task-"+uuid.NewString()[:8], chain.Operation, store.Entity{ID: id, Kind: chain.Kind}, caller, ops)
	t.TenantID, t.ProjectID, t.Properties = Tenant, Project, props
	return t
}

// VM writes vm, in the project, held by task (a chain on it) or by nothing when task is
// nil.
func (e *Env) VM(t testing.TB, vm *store.VM, task *store.Task) {
	t.Helper()
	vm.TenantID, vm.ProjectID = Tenant, Project
	if task == nil {
		task = e.done(store.KindVM, vm.ID)
	} else {
		vm.ActiveTask = task.ID
	}
	must(t, e.Store.CreateVM(t.Context(), vm, task))
}

// Place reserves room for VM vm on host h's VM datastore, as placement does.
func (e *Env) Place(t testing.TB, vm string, h *Host) {
	t.Helper()
	_, _, err := e.Store.ReserveHost(t.Context(), vm, store.HostReservation{HostID: h.ID, Datastore: Datastore, CPU: 1, MemoryMB: 512},
		store.Ratios{CPU: 1, Mem: 1, Disk: 1}, 0)
	must(t, err)
}

// Image writes img held by task, or by nothing when task is nil; a READY image is open
// to new VMs.
func (e *Env) Image(t testing.TB, img *store.Image, task *store.Task) {
	t.Helper()
	if task == nil {
		task = e.done(store.KindImage, img.ID)
	} else {
		img.ActiveTask = task.ID
	}
	must(t, e.Store.CreateImage(t.Context(), img, task))
	if img.State == store.ImageReady {
		must(t, e.Store.OpenImage(t.Context(), img.ID))
	}
}

// Subnet writes a port-group subnet, held by nothing.
func (e *Env) Subnet(t testing.TB, sn *store.Subnet) {
	t.Helper()
	must(t, e.Store.CreatePortGroupSubnet(t.Context(), sn, e.done(store.KindSubnet, sn.ID)))
}

// Task reads task id.
func (e *Env) Task(t testing.TB, id string) *store.Task {
	t.Helper()
	tk, err := e.Store.GetTask(t.Context(), id)
	must(t, err)
	return tk
}

// GetVM reads VM id.
func (e *Env) GetVM(t testing.TB, id string) *store.VM {
	t.Helper()
	vm, err := store.Get[store.VM](t.Context(), e.Store, store.KindVM, id)
	must(t, err)
	return vm
}

// Do delivers the event that runs step i of task's chain to the step's function, through
// the runtime's handler, and returns its reply and error (an error is what the transport
// retries).
func (e *Env) Do(t testing.TB, chain *events.Chain, task *store.Task, i int) (*cloudevents.Event, error) {
	t.Helper()
	return e.deliver(t, chain, chain.InType(i), i, events.StepData{TaskID: task.ID, EntityID: task.Entity.ID})
}

// Undo delivers the event that undoes step i of task's chain after cause failed it.
func (e *Env) Undo(t testing.TB, chain *events.Chain, task *store.Task, i int, cause *errs.Error) (*cloudevents.Event, error) {
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
func (e *Env) MustDo(t testing.TB, chain *events.Chain, task *store.Task, i int) {
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
func (e *Env) Outcome(t testing.TB, chain *events.Chain, task *store.Task, i int, reply *cloudevents.Event, err error) string {
	t.Helper()
	step := e.Task(t, task.ID).Steps[i]
	switch {
	case err != nil && !errs.IsPermanent(err) && step.State == store.TaskQueued:
		return Retry
	case err != nil:
		t.Fatalf("%s: error %v (permanent %v), step %s", step.Operation, err, errs.IsPermanent(err), step.State)
	case step.State == store.TaskCompleted:
		want := chain.CompletedType()
		if i < len(chain.Steps)-1 {
			want = chain.DoneType(i)
		}
		if typeOf(reply) != want {
			t.Fatalf("%s completed, reply %s, want %s", step.Operation, typeOf(reply), want)
		}
		return Done
	case step.State == store.TaskError && len(step.Errors) > 0:
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

// Quota sets the project's quota limits.
func (e *Env) Quota(t testing.TB, limits ...store.QuotaLineItem) {
	t.Helper()
	_, err := e.Store.ChangeQuota(t.Context(), store.KindProject, Project, store.QuotaSet, limits, e.done(store.KindProject, Project))
	must(t, err)
}

// Used reads how much of the project's quota key is in use.
func (e *Env) Used(t testing.TB, key string) float64 {
	t.Helper()
	_, used, _, err := e.Store.QuotaUsage(t.Context(), Project)
	must(t, err)
	return used[key]
}

// Report has host id report the image disk paths on its datastore ds, as its heartbeat
// would.
func (e *Env) Report(t testing.TB, id, ds string, paths ...string) {
	t.Helper()
	_, err := e.Store.UpdateHost(t.Context(), id, func(h *store.Host) error {
		for i := range h.Datastores {
			if h.Datastores[i].Name == ds {
				h.Datastores[i].Images = append(h.Datastores[i].Images, paths...)
			}
		}
		return nil
	})
	must(t, err)
}

// NSX starts an NSX-T Manager simulator for the test and returns it with a client of it,
// to pass to New as functions.WithNSX(client).
func NSX(t testing.TB) (*nsxsim.Server, *nsx.Client) {
	t.Helper()
	sim, err := nsxsim.Start(t.Context(), nsxsim.Options{})
	must(t, err)
	t.Cleanup(sim.Close)
	c, err := nsx.New(nsx.Config{ManagerURL: sim.URL, User: nsxsim.DefaultUser, Password: nsxsim.DefaultPassword})
	must(t, err)
	return sim, c
}

// Router writes r in the project, held by task, or READY and held by nothing when task
// is nil.
func (e *Env) Router(t testing.TB, r *store.Router, task *store.Task) {
	t.Helper()
	r.TenantID, r.ProjectID = Tenant, Project
	if task == nil {
		task, r.State = e.done(store.KindRouter, r.ID), store.NetReady
	} else {
		r.ActiveTask = task.ID
	}
	must(t, e.Store.CreateRouter(t.Context(), r, task))
}

// RouterSubnet writes sn on its (READY) router, held by task, or READY and held by
// nothing when task is nil.
func (e *Env) RouterSubnet(t testing.TB, sn *store.Subnet, task *store.Task) {
	t.Helper()
	if task == nil {
		task, sn.State = e.done(store.KindSubnet, sn.ID), store.NetReady
	} else {
		sn.ActiveTask = task.ID
	}
	must(t, e.Store.CreateSubnet(t.Context(), sn, task))
}

// Disk writes persistent disk d in the project, held by task, or by nothing when task is
// nil.
func (e *Env) Disk(t testing.TB, d *store.PersistentDisk, task *store.Task) {
	t.Helper()
	d.TenantID, d.ProjectID = Tenant, Project
	if task == nil {
		task = e.done(store.KindDisk, d.ID)
	} else {
		d.ActiveTask = task.ID
	}
	must(t, e.Store.CreateDisk(t.Context(), d, task))
}
