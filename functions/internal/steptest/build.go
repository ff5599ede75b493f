package steptest

import (
	"testing"

	"github.com/google/uuid"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/nsxsim"
	"github.com/photon-cloud/photon/shared/store"
)

// AddHost starts a fake hostd for host id and registers the host READY, with a VM
// datastore, an image datastore and a port group.
func (e *Env) AddHost(t testing.TB, id string) *Host {
	t.Helper()
	h := serve(t, e.ca, id)
	must(t, e.Store.RegisterHost(t.Context(), model.Host{ID: id, Name: id, Address: h.Addr, State: model.HostReady,
		CPUCores: 16, MemoryMB: 64 << 10, Networks: []string{PortGroup},
		Datastores: []model.Datastore{
			{ID: id + "-" + Datastore, Name: Datastore, Type: model.DatastoreVMFS, CapacityBytes: 1 << 40, FreeBytes: 1 << 40},
			{ID: id + "-" + ImageDS, Name: ImageDS, Type: model.DatastoreVMFS, CapacityBytes: 1 << 40, FreeBytes: 1 << 40},
		}}))
	return h
}

// NewTask is a QUEUED task of chain on entity id, by caller, not yet written: the
// builder of the entity writes it with the entity, as the gateway does.
func (e *Env) NewTask(chain *events.Chain, id string, caller model.Caller, props map[string]string) *model.Task {
	var ops []string
	for _, s := range chain.Steps {
		ops = append(ops, string(s.Operation))
	}
	t := e.Store.NewTask("task-"+uuid.NewString()[:8], string(chain.Operation), model.Entity{ID: id, Kind: chain.Kind}, caller, ops)
	t.TenantID, t.ProjectID, t.Properties = Tenant, Project, props
	return t
}

// VM writes vm, in the project, held by task (a chain on it) or by nothing when task is
// nil.
func (e *Env) VM(t testing.TB, vm *model.VM, task *model.Task) {
	t.Helper()
	vm.TenantID, vm.ProjectID = Tenant, Project
	if task == nil {
		task = e.done(model.KindVM, vm.ID)
	} else {
		vm.ActiveTask = task.ID
	}
	must(t, e.Store.CreateVM(t.Context(), vm, task))
}

// Place reserves room for VM vm on host h's VM datastore, as placement does.
func (e *Env) Place(t testing.TB, vm string, h *Host) {
	t.Helper()
	_, _, err := e.Store.ReserveHost(t.Context(), vm, model.HostReservation{HostID: h.ID, Datastore: Datastore, CPU: 1, MemoryMB: 512},
		store.Ratios{CPU: 1, Mem: 1, Disk: 1}, 0)
	must(t, err)
}

// Image writes img held by task, or by nothing when task is nil; a READY image is open
// to new VMs.
func (e *Env) Image(t testing.TB, img *model.Image, task *model.Task) {
	t.Helper()
	if task == nil {
		task = e.done(model.KindImage, img.ID)
	} else {
		img.ActiveTask = task.ID
	}
	must(t, e.Store.CreateImage(t.Context(), img, task))
	if img.State == model.ImageReady {
		must(t, e.Store.OpenImage(t.Context(), img.ID))
	}
}

// Subnet writes a port-group subnet, held by nothing.
func (e *Env) Subnet(t testing.TB, sn *model.Subnet) {
	t.Helper()
	must(t, e.Store.CreatePortGroupSubnet(t.Context(), sn, e.done(model.KindSubnet, sn.ID)))
}

// Task reads task id.
func (e *Env) Task(t testing.TB, id string) *model.Task {
	t.Helper()
	tk, err := e.Store.GetTask(t.Context(), id)
	must(t, err)
	return tk
}

// GetVM reads VM id.
func (e *Env) GetVM(t testing.TB, id string) *model.VM {
	t.Helper()
	vm, err := store.Get[model.VM](t.Context(), e.Store, model.KindVM, id)
	must(t, err)
	return vm
}

// Quota sets the project's quota limits.
func (e *Env) Quota(t testing.TB, limits ...model.QuotaLineItem) {
	t.Helper()
	_, err := e.Store.ChangeQuota(t.Context(), model.KindProject, Project, store.QuotaSet, limits, e.done(model.KindProject, Project))
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
	_, err := e.Store.UpdateHost(t.Context(), id, func(h *model.Host) error {
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
func (e *Env) Router(t testing.TB, r *model.Router, task *model.Task) {
	t.Helper()
	r.TenantID, r.ProjectID = Tenant, Project
	if task == nil {
		task, r.State = e.done(model.KindRouter, r.ID), model.NetReady
	} else {
		r.ActiveTask = task.ID
	}
	must(t, e.Store.CreateRouter(t.Context(), r, task))
}

// RouterSubnet writes sn on its (READY) router, held by task, or READY and held by
// nothing when task is nil.
func (e *Env) RouterSubnet(t testing.TB, sn *model.Subnet, task *model.Task) {
	t.Helper()
	if task == nil {
		task, sn.State = e.done(model.KindSubnet, sn.ID), model.NetReady
	} else {
		sn.ActiveTask = task.ID
	}
	must(t, e.Store.CreateSubnet(t.Context(), sn, task))
}

// Disk writes persistent disk d in the project, held by task, or by nothing when task is
// nil.
func (e *Env) Disk(t testing.TB, d *model.PersistentDisk, task *model.Task) {
	t.Helper()
	d.TenantID, d.ProjectID = Tenant, Project
	if task == nil {
		task = e.done(model.KindDisk, d.ID)
	} else {
		d.ActiveTask = task.ID
	}
	must(t, e.Store.CreateDisk(t.Context(), d, task))
}

// PlaceDisk reserves room for a persistent disk of gb GB on host h's VM datastore, as
// placement does for a disk.
func (e *Env) PlaceDisk(t testing.TB, id string, h *Host, gb int32) {
	t.Helper()
	_, _, err := e.Store.ReserveHost(t.Context(), id, model.HostReservation{HostID: h.ID, Datastore: Datastore, DiskMB: int64(gb) << 10},
		store.Ratios{CPU: 1, Mem: 1, Disk: 1}, 0)
	must(t, err)
}
