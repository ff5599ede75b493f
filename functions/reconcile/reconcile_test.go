package reconcile_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/functions/reconcile"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

func newEnv(t *testing.T, policy string) *steptest.Env {
	t.Helper()
	return steptest.New(t, functions.WithReconcile(reconcile.Options{Every: -1, Policy: policy}))
}

// settled writes VM vm (STARTED unless set) whose last task ended ago before now: a
// negative ago is a task that ended after the inventory read a pass is about to make.
func settled(t *testing.T, e *steptest.Env, vm *model.VM, ago time.Duration) {
	t.Helper()
	vm.TenantID, vm.ProjectID = steptest.Tenant, steptest.Project
	if vm.State == "" {
		vm.State = model.VMStarted
	}
	if vm.Name == "" {
		vm.Name = vm.ID
	}
	task := e.Store.NewTask("setup-"+uuid.NewString(), "SETUP", model.Entity{ID: vm.ID, Kind: model.KindVM}, steptest.Root, nil)
	task.EndTime -= ago.Milliseconds()
	if err := e.Store.CreateVM(t.Context(), vm, task); err != nil {
		t.Fatal(err)
	}
}

func pass(t *testing.T, e *steptest.Env, host string) {
	t.Helper()
	if err := e.Signal(t, events.HostReconcile, host); err != nil {
		t.Fatalf("pass over %s: %v", host, err)
	}
}

// outbound lists the outbound events the store's outbox makes, as "type subject".
func outbound(t *testing.T, e *steptest.Env) []string {
	t.Helper()
	msgs, err := storetest.Client(t).XRange(t.Context(), e.Store.OutboxStream(), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		c := notify.Change{ID: m.ID}
		c.Kind, _ = m.Values["kind"].(string)
		c.EntityID, _ = m.Values["id"].(string)
		c.Op, _ = m.Values["op"].(string)
		if s, ok := m.Values["old"].(string); ok {
			c.Old = []byte(s)
		}
		if s, ok := m.Values["new"].(string); ok {
			c.New = []byte(s)
		}
		es, err := notify.Derive(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range es {
			out = append(out, ev.Type()+" "+ev.Subject())
		}
	}
	return out
}

func orphans(t *testing.T, e *steptest.Env, host string) map[string]*model.Orphan {
	t.Helper()
	page, err := e.Store.ListOrphans(t.Context(), host, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*model.Orphan{}
	for _, o := range page.Items {
		out[o.Name] = o
	}
	return out
}

// TestGoneVM: a VM gone from its host goes to ERROR with its reason and event on the
// second pass that misses it, keeping its reservation, and its delete then succeeds and
// frees it; a VM a task holds, or whose last task ended after the read, is left alone.
func TestGoneVM(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	ctx := t.Context()
	h := e.AddHost(t, "h1")
	for _, id := range []string{"vm-gone", "vm-busy", "vm-late"} {
		e.Place(t, id, h)
	}
	settled(t, e, &model.VM{ID: "vm-gone", HostID: h.ID, Datastore: steptest.Datastore}, 10*time.Second)
	settled(t, e, &model.VM{ID: "vm-late", HostID: h.ID, Datastore: steptest.Datastore}, -10*time.Second)
	e.VM(t, &model.VM{ID: "vm-busy", Name: "vm-busy", State: model.VMStarted, HostID: h.ID}, e.NewTask(&events.VMStop, "vm-busy", steptest.Root, nil))
	h.PutVM("vm-gone", "poweredOn")

	pass(t, e, h.ID)
	h.DropVM("vm-gone")
	pass(t, e, h.ID) // the first miss: one read is not enough
	if vm := e.GetVM(t, "vm-gone"); vm.State != model.VMStarted {
		t.Fatalf("after one pass that missed it, the VM is %s", vm.State)
	}
	pass(t, e, h.ID)
	vm := e.GetVM(t, "vm-gone")
	if vm.State != model.VMError || vm.StateReason != model.ReasonNotOnHost {
		t.Fatalf("after two passes the VM is %s (%q), want ERROR (%q)", vm.State, vm.StateReason, model.ReasonNotOnHost)
	}
	for id, want := range map[string]string{"vm-busy": model.VMStarted, "vm-late": model.VMStarted} {
		if got := e.GetVM(t, id).State; got != want {
			t.Errorf("%s is %s, want %s", id, got, want)
		}
	}
	if evs := outbound(t, e); !slices.Contains(evs, notify.TypeOf(model.KindVM, "error")+" vm-gone") ||
		slices.Contains(evs, notify.TypeOf(model.KindVM, "error")+" vm-busy") {
		t.Errorf("outbound events %v: want io.photon.vm.error for vm-gone only", evs)
	}
	if _, ok, _ := e.Store.HostReservationOf(ctx, "vm-gone"); !ok {
		t.Fatal("the VM in ERROR lost its host reservation before its delete")
	}

	del := e.NewTask(&events.VMDelete, "vm-gone", steptest.Root, nil)
	if _, err := store.StartTask(ctx, e.Store, model.KindVM, "vm-gone", del, func(v *model.VM) error {
		v.ActiveTask, v.State = del.ID, model.VMDeleting
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i := range events.VMDelete.Steps {
		e.MustDo(t, &events.VMDelete, del, i)
	}
	if _, ok, _ := e.Store.HostReservationOf(ctx, "vm-gone"); ok {
		t.Error("the deleted VM still holds its host reservation")
	}
}

// TestOrphans: what the host has that Photon does not account for is reported on the
// second pass in a row that finds it (a VM made outside Photon, a Photon VM whose record
// is placed on another host, a persistent disk file without a record, a NIC the record
// lacks), never a VM whose record a task is creating, and the report goes when the host
// no longer has it. Under the remove policy an orphan VM is deleted from the host.
func TestOrphans(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{reconcile.PolicyReport, reconcile.PolicyRemove} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, policy)
			h1, h2 := e.AddHost(t, "h1"), e.AddHost(t, "h2")
			for id, h := range map[string]*steptest.Host{"vm-moved": h2, "vm-new": h1, "vm-retried": h2, "vm-nic": h1} {
				e.Place(t, id, h)
			}
			h1.PutForeign("intruder")
			settled(t, e, &model.VM{ID: "vm-moved", HostID: h2.ID}, 10*time.Second)
			h1.PutVM("vm-moved", "poweredOn")
			h2.PutVM("vm-moved", "poweredOn")
			create := e.NewTask(&events.VMCreate, "vm-new", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-new", Name: "vm-new", State: model.VMCreating, HostID: h1.ID}, create)
			h1.PutVM("vm-new", "poweredOff")
			// A create retried on another host: its record names that one while the first
			// host still has the VM its task made there and will undo.
			retried := e.NewTask(&events.VMCreate, "vm-retried", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-retried", Name: "vm-retried", State: model.VMCreating, HostID: h2.ID}, retried)
			h1.PutVM("vm-retried", "poweredOff")
			settled(t, e, &model.VM{ID: "vm-nic", HostID: h1.ID, Nics: []model.Nic{{ID: "nic-0"}}}, 10*time.Second)
			h1.PutVM("vm-nic", "poweredOn")
			h1.PutDisk(steptest.Datastore, "stray")

			pass(t, e, h1.ID)
			if got := orphans(t, e, h1.ID); len(got) != 0 {
				t.Fatalf("after one pass: orphans %v", got)
			}
			pass(t, e, h1.ID)
			got := orphans(t, e, h1.ID)
			want := map[string]string{"intruder": model.OrphanVM, "vm-moved": model.OrphanVM, "vm-nic/nic-0": model.OrphanNIC,
				"[" + steptest.Datastore + "] disks/stray.vmdk": model.OrphanDisk}
			for name, typ := range want {
				if o := got[name]; o == nil || o.Type != typ || o.HostID != h1.ID || o.StateReason == "" {
					t.Errorf("orphan %s: %+v, want a %s on %s with a reason", name, o, typ, h1.ID)
				}
			}
			if len(got) != len(want) {
				t.Errorf("orphans %v, want %v", slices.Sorted(maps.Keys(got)), want)
			}
			if o := got["vm-moved"]; o != nil && o.VMID != "vm-moved" {
				t.Errorf("the moved VM's orphan claims %q", o.VMID)
			}
			evs := outbound(t, e)
			for name := range want {
				if o := got[name]; o != nil && !slices.Contains(evs, notify.TypeOf(model.KindOrphan, "created")+" "+o.ID) {
					t.Errorf("no io.photon.orphan.created for %s among %v", name, evs)
				}
			}
			if len(orphans(t, e, "")) != len(got) {
				t.Error("the list of every host's orphans differs from h1's")
			}

			removed := h1.VM("intruder") == nil
			if removed != (policy == reconcile.PolicyRemove) {
				t.Fatalf("policy %s: intruder removed from the host: %v", policy, removed)
			}
			if h2.VM("vm-moved") == nil || h1.VM("vm-new") == nil {
				t.Fatal("the reconciler removed a VM Photon knows")
			}
			h1.DropVM("intruder")
			pass(t, e, h1.ID)
			if o := orphans(t, e, h1.ID)["intruder"]; o != nil {
				t.Errorf("the orphan gone from the host is still listed: %+v", o)
			}
			if !slices.Contains(outbound(t, e), notify.TypeOf(model.KindOrphan, "deleted")+" "+got["intruder"].ID) {
				t.Error("no io.photon.orphan.deleted for the orphan gone")
			}
		})
	}
}

// TestGoneDisk: a persistent disk whose file is gone goes to ERROR with its reason on
// the second pass that misses it; one a task holds is left alone.
func TestGoneDisk(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "")
	h := e.AddHost(t, "h1")
	for _, id := range []string{"pd-1", "pd-2"} {
		e.PlaceDisk(t, id, h, 1)
	}
	e.Disk(t, &model.PersistentDisk{ID: "pd-1", Name: "pd-1", State: model.DiskDetached, HostID: h.ID, Datastore: steptest.Datastore}, nil)
	e.Disk(t, &model.PersistentDisk{ID: "pd-2", Name: "pd-2", State: model.DiskDetached, HostID: h.ID, Datastore: steptest.Datastore},
		e.NewTask(&events.DiskDelete, "pd-2", steptest.Root, nil))
	// Both disks' records were just written: their last task ends with the pass's read.
	// The read of a pass a little later is what a timer gives.
	for _, id := range []string{"pd-1", "pd-2"} {
		if _, err := store.Update(t.Context(), e.Store, model.KindTask, taskOf(t, e, id), func(tk *model.Task) error {
			if tk.EndTime > 0 {
				tk.EndTime -= 10_000
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	pass(t, e, h.ID)
	pass(t, e, h.ID)
	for id, want := range map[string]string{"pd-1": model.DiskError, "pd-2": model.DiskDetached} {
		d, err := store.Get[model.PersistentDisk](t.Context(), e.Store, model.KindDisk, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.State != want || (want == model.DiskError) != (d.StateReason == model.ReasonFileMissing) {
			t.Errorf("%s is %s (%q), want %s", id, d.State, d.StateReason, want)
		}
	}
	if !slices.Contains(outbound(t, e), notify.TypeOf(model.KindDisk, "error")+" pd-1") {
		t.Error("no io.photon.disk.error for pd-1")
	}
}

// taskOf is the id of the entity's newest task.
func taskOf(t *testing.T, e *steptest.Env, id string) string {
	t.Helper()
	page, err := e.Store.ListTasks(t.Context(), id, 1, "")
	if err != nil || len(page.Items) == 0 {
		t.Fatalf("tasks of %s: %v", id, err)
	}
	return page.Items[0].ID
}
