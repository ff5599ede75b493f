package disks_test

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// The disks step's index in its chains.
const (
	createOnHost = 2 // CREATE_DISK_ON_HOST in the create chain
	deleteOnHost = 1 // DELETE_DISK_ON_HOST in the delete chain
	attachDisk   = 1 // ATTACH_DISK
	detachDisk   = 1 // DETACH_DISK
)

const diskID = "pd-1"

func newDisk(gb int32, state string, aff ...model.Locality) *model.PersistentDisk {
	return &model.PersistentDisk{ID: diskID, Name: diskID, FlavorID: "pd-flavor", Flavor: "pd-flavor", CapacityGB: gb,
		State: state, Affinities: aff}
}

func getDisk(t *testing.T, e *steptest.Env) *model.PersistentDisk {
	t.Helper()
	d, err := store.Get[model.PersistentDisk](t.Context(), e.Store, model.KindDisk, diskID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func reservation(t *testing.T, e *steptest.Env) (model.HostReservation, bool) {
	t.Helper()
	r, ok, err := e.Store.HostReservationOf(t.Context(), diskID)
	if err != nil {
		t.Fatal(err)
	}
	return r, ok
}

// used is the space, in MB, reserved on the host's datastores together.
func used(t *testing.T, e *steptest.Env, host string) int64 {
	t.Helper()
	c, err := e.Store.GetHostCapacity(t.Context(), host)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, ds := range c.Datastores {
		n += ds.Used
	}
	return n
}

// calls are the host calls every host served, by host id, for the hosts that served any.
func calls(hosts []*steptest.Host) map[string][]steptest.Call {
	m := map[string][]steptest.Call{}
	for _, h := range hosts {
		if c := h.Calls(); len(c) > 0 {
			m[h.ID] = c
		}
	}
	return m
}

// wantCalls fails the test unless only host served calls, and exactly want.
func wantCalls(t *testing.T, hosts []*steptest.Host, host string, want ...steptest.Call) {
	t.Helper()
	got := calls(hosts)
	if len(want) == 0 {
		if len(got) > 0 {
			t.Fatalf("host calls %v, want none", got)
		}
		return
	}
	if len(got) != 1 || len(got[host]) != len(want) {
		t.Fatalf("host calls %v, want %d on %s", got, len(want), host)
	}
	for i, c := range got[host] {
		if c.Method != want[i].Method || !proto.Equal(c.Request, want[i].Request) {
			t.Fatalf("%s call %d: %s %v, want %s %v", host, i, c.Method, c.Request, want[i].Method, want[i].Request)
		}
	}
}

func forget(hosts []*steptest.Host) {
	for _, h := range hosts {
		h.Forget()
	}
}

func createCall(ds string, gb int32) steptest.Call {
	return steptest.Call{Method: "CreateDisk", Request: &hostdv1.CreateDiskRequest{DiskId: diskID, Datastore: ds, CapacityGb: int64(gb)}}
}

func deleteCall(ds string) steptest.Call {
	return steptest.Call{Method: "DeleteDisk", Request: &hostdv1.DiskRef{DiskId: diskID, Datastore: ds}}
}

// TestCreate: the step has the placement engine reserve the disk's space on a datastore,
// then asks that datastore's host for the file and records where the disk lives. A
// refusal fails the step into its own undo, which deletes what the host may have made and
// gives the space back; a busy host is retried on the same reservation with the record
// untouched; a placement that finds no datastore fails with the reason's code, calling no
// host and reserving nothing; a replay calls nothing more.
func TestCreate(t *testing.T) {
	t.Parallel()
	loc := func(kind, id string) model.Locality { return model.Locality{Kind: kind, ID: id} }
	cases := []struct {
		name     string
		hosts    []string
		vmOn     string // host that vm-1, of a vm affinity, is placed on
		aff      []model.Locality
		gb       int32
		err      error // what CreateDisk answers
		want     string
		wantHost string // where the space is reserved and the file asked for ("": nowhere)
		wantDS   string // on which datastore ("": the step's choice between the host's two)
	}{
		{name: "creates the file where it is placed", hosts: []string{"host-1"}, gb: 10,
			want: steptest.Done, wantHost: "host-1"},
		{name: "datastore affinity", hosts: []string{"host-1", "host-2"}, gb: 10,
			aff:  []model.Locality{loc(model.LocalityDatastore, "host-2-"+steptest.Datastore)},
			want: steptest.Done, wantHost: "host-2", wantDS: steptest.Datastore},
		{name: "vm affinity: beside the VM", hosts: []string{"host-1", "host-2"}, vmOn: "host-2", gb: 10,
			aff:  []model.Locality{loc(model.LocalityVM, "vm-1")},
			want: steptest.Done, wantHost: "host-2", wantDS: steptest.Datastore},
		{name: "host refuses", hosts: []string{"host-1"}, gb: 10, err: steptest.Refused,
			want: steptest.Failed(errs.CodeHostError), wantHost: "host-1"},
		{name: "host busy", hosts: []string{"host-1"}, gb: 10, err: steptest.Busy,
			want: steptest.Retry, wantHost: "host-1"},
		{name: "no datastore with the tag", hosts: []string{"host-1", "host-2"}, gb: 10,
			aff:  []model.Locality{loc(model.LocalityDatastoreTag, "ssd")},
			want: steptest.Failed(errs.CodeNoSuchHost)},
		// Every datastore holds 1 TB, thin provisioned 4:1 by the default policy.
		{name: "no datastore with room", hosts: []string{"host-1", "host-2"}, gb: 5 << 10,
			want: steptest.Failed(errs.CodeNotEnoughDisk)},
		{name: "no host", gb: 10, want: steptest.Failed(errs.CodeNoSuchHost)},
		{name: "vm affinity to a VM on no host", hosts: []string{"host-1"}, gb: 10,
			aff:  []model.Locality{loc(model.LocalityVM, "vm-9")},
			want: steptest.Failed(errs.CodeStateError)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			var hosts []*steptest.Host
			byID := map[string]*steptest.Host{}
			for _, id := range tc.hosts {
				h := e.AddHost(t, id)
				hosts, byID[id] = append(hosts, h), h
				h.Fail("CreateDisk", tc.err)
			}
			if tc.vmOn != "" {
				e.Place(t, "vm-1", byID[tc.vmOn])
			}
			task := e.NewTask(&events.DiskCreate, diskID, steptest.Root, nil)
			e.Disk(t, newDisk(tc.gb, model.DiskCreating, tc.aff...), task)

			reply, err := e.Do(t, &events.DiskCreate, task, createOnHost)
			if got := e.Outcome(t, &events.DiskCreate, task, createOnHost, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}

			r, placed := reservation(t, e)
			if placed != (tc.wantHost != "") {
				t.Fatalf("reservation %+v (%v), want one on %q", r, placed, tc.wantHost)
			}
			if !placed {
				wantCalls(t, hosts, "")
				if d := getDisk(t, e); d.State != model.DiskCreating || d.HostID != "" || d.ActiveTask != task.ID {
					t.Fatalf("disk %+v after a failed placement", d)
				}
				return
			}
			if r.HostID != tc.wantHost || (tc.wantDS != "" && r.Datastore != tc.wantDS) ||
				r.DiskMB != int64(tc.gb)<<10 || r.CPU != 0 || r.MemoryMB != 0 {
				t.Fatalf("reservation %+v, want %d GB on %s/%s", r, tc.gb, tc.wantHost, tc.wantDS)
			}
			if u := used(t, e, r.HostID); u != r.DiskMB {
				t.Fatalf("%s has %d MB reserved, want %d", r.HostID, u, r.DiskMB)
			}
			wantCalls(t, hosts, r.HostID, createCall(r.Datastore, tc.gb))
			h := byID[r.HostID]

			d := getDisk(t, e)
			if tc.want != steptest.Done {
				// Nothing is recorded on the disk until the host has made its file.
				if d.State != model.DiskCreating || d.HostID != "" || d.Datastore != "" || d.ActiveTask != task.ID {
					t.Fatalf("disk %+v after %s", d, tc.want)
				}
			}

			switch tc.want {
			case steptest.Done:
				if d.State != model.DiskDetached || d.HostID != r.HostID || d.Datastore != r.Datastore ||
					d.DatastoreID != r.HostID+"-"+r.Datastore || d.ActiveTask != "" {
					t.Fatalf("disk %+v, want DETACHED on %s/%s, released", d, r.HostID, r.Datastore)
				}
				if !h.HasDisk(r.Datastore, diskID) {
					t.Fatalf("no file on %s/%s", r.HostID, r.Datastore)
				}
				forget(hosts)
				e.MustDo(t, &events.DiskCreate, task, createOnHost)
				wantCalls(t, hosts, "")
				if again, _ := reservation(t, e); again != r || used(t, e, r.HostID) != r.DiskMB {
					t.Fatalf("replay reserved %+v, first %+v", again, r)
				}

			case steptest.Retry:
				// The retry finds the reservation the first try made and reserves no more.
				h.Fail("CreateDisk", nil)
				forget(hosts)
				e.MustDo(t, &events.DiskCreate, task, createOnHost)
				wantCalls(t, hosts, r.HostID, createCall(r.Datastore, tc.gb))
				if again, _ := reservation(t, e); again != r || used(t, e, r.HostID) != r.DiskMB {
					t.Fatalf("retry reserved %+v (%d MB used), first %+v", again, used(t, e, r.HostID), r)
				}
				if d := getDisk(t, e); d.State != model.DiskDetached || d.HostID != r.HostID {
					t.Fatalf("disk %+v after the retry", d)
				}

			default:
				// The step's own undo: the file the host may have begun is deleted and the
				// space given back; the undo goes on to the quota's; a replay acts no more.
				forget(hosts)
				for range 2 {
					reply, err := e.Undo(t, &events.DiskCreate, task, createOnHost, errs.New(errs.CodeHostError, "refused"))
					if err != nil || reply == nil || reply.Type() != events.DiskCreate.UndoType(1) {
						t.Fatalf("undo: reply %v, err %v", reply, err)
					}
				}
				wantCalls(t, hosts, r.HostID, deleteCall(r.Datastore))
				if _, ok := reservation(t, e); ok || used(t, e, r.HostID) != 0 {
					t.Fatalf("undo left the reservation (%d MB used)", used(t, e, r.HostID))
				}
			}
		})
	}
}

// TestDelete: the delete chain's DELETE_DISK_ON_HOST step (the create's undo) deletes
// the file on the host of its reservation and gives the space back; a disk never placed
// calls no host; a refusal fails the chain with the file and the space kept (the disk is
// left in ERROR for the delete to be tried again), a busy host is retried.
func TestDelete(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		placed    bool
		err       error
		want      string
		wantState string // the disk's, after the step (and the chain's end, if it ended)
	}{
		{"deletes the file and releases the space", true, nil, steptest.Done, model.DiskDeleting},
		{"never placed", false, nil, steptest.Done, model.DiskDeleting},
		{"host refuses", true, steptest.Refused, steptest.Failed(errs.CodeHostError), model.DiskError},
		{"host busy", true, steptest.Busy, steptest.Retry, model.DiskDeleting},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h1, h2 := e.AddHost(t, "host-1"), e.AddHost(t, "host-2")
			hosts := []*steptest.Host{h1, h2}
			task := e.NewTask(&events.DiskDelete, diskID, steptest.Root, nil)
			d := newDisk(10, model.DiskDeleting)
			if tc.placed {
				e.PlaceDisk(t, diskID, h2, 10)
				h2.PutDisk(steptest.Datastore, diskID)
				d.HostID, d.Datastore, d.DatastoreID = h2.ID, steptest.Datastore, h2.ID+"-"+steptest.Datastore
			}
			e.Disk(t, d, task)
			h2.Fail("DeleteDisk", tc.err)

			reply, err := e.Do(t, &events.DiskDelete, task, deleteOnHost)
			if got := e.Outcome(t, &events.DiskDelete, task, deleteOnHost, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if !tc.placed {
				wantCalls(t, hosts, "")
			} else {
				wantCalls(t, hosts, h2.ID, deleteCall(steptest.Datastore))
			}
			// The file and the space go together, and only when the step is done.
			kept := tc.placed && tc.want != steptest.Done
			if _, reserved := reservation(t, e); reserved != kept {
				t.Fatalf("reservation held %v after %s", reserved, tc.want)
			}
			if h2.HasDisk(steptest.Datastore, diskID) != kept {
				t.Fatalf("file there %v after %s", !kept, tc.want)
			}
			wantMB := int64(0)
			if kept {
				wantMB = 10 << 10
			}
			if u := used(t, e, h2.ID); u != wantMB {
				t.Fatalf("host-2 has %d MB reserved, want %d", u, wantMB)
			}
			got := getDisk(t, e)
			held := tc.want == steptest.Done || tc.want == steptest.Retry // the chain goes on
			if got.State != tc.wantState || (got.ActiveTask == task.ID) != held {
				t.Fatalf("disk %s held by %q, want %s held %v", got.State, got.ActiveTask, tc.wantState, held)
			}
			if tc.want == steptest.Done {
				forget(hosts)
				e.MustDo(t, &events.DiskDelete, task, deleteOnHost)
				wantCalls(t, hosts, "")
			}
		})
	}
}

// TestAttach: the disk is attached on the host of the VM (not the disk's), naming the
// disk's datastore, and recorded on both. A VM whose host does not mount that datastore
// is refused by its host (it finds no such disk) and nothing is recorded; a busy host is
// retried.
func TestAttach(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		vmOn      string // the disk is on host-1's VM datastore
		shared    bool   // host-2 mounts it too
		err       error
		want      string
		wantState string
	}{
		{"VM beside the disk", "host-1", false, nil, steptest.Done, model.DiskAttached},
		{"VM on a host that mounts the disk's datastore", "host-2", true, nil, steptest.Done, model.DiskAttached},
		{"VM on a host without the disk's datastore", "host-2", false, nil, steptest.Failed(errs.CodeHostError), model.DiskDetached},
		{"host busy", "host-1", false, steptest.Busy, steptest.Retry, model.DiskDetached},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h1, h2 := e.AddHost(t, "host-1"), e.AddHost(t, "host-2")
			hosts, vmHost := []*steptest.Host{h1, h2}, map[string]*steptest.Host{"host-1": h1, "host-2": h2}[tc.vmOn]
			task := e.NewTask(&events.VMAttachDisk, "vm-1", steptest.Root, map[string]string{model.PropDiskID: diskID})
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMStopped, HostID: tc.vmOn}, task)
			e.Place(t, "vm-1", vmHost)
			vmHost.PutVM("vm-1", "poweredOff")
			// The disk is held by the VM's task too (the gateway writes both at once).
			d := newDisk(10, model.DiskDetached)
			d.HostID, d.Datastore, d.DatastoreID, d.ActiveTask = h1.ID, steptest.Datastore, h1.ID+"-"+steptest.Datastore, task.ID
			e.Disk(t, d, nil)
			h1.PutDisk(steptest.Datastore, diskID)
			if tc.shared {
				h2.PutDisk(steptest.Datastore, diskID)
			}
			vmHost.Fail("AttachPersistentDisk", tc.err)

			reply, err := e.Do(t, &events.VMAttachDisk, task, attachDisk)
			if got := e.Outcome(t, &events.VMAttachDisk, task, attachDisk, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			wantCalls(t, hosts, tc.vmOn, steptest.Call{Method: "AttachPersistentDisk",
				Request: &hostdv1.AttachPersistentDiskRequest{VmId: "vm-1", DiskId: diskID, Datastore: steptest.Datastore}})

			done := tc.want == steptest.Done
			vm, got := e.GetVM(t, "vm-1"), getDisk(t, e)
			onVM := slices.ContainsFunc(vm.Disks, func(x model.Disk) bool {
				return x.ID == diskID && x.Kind == model.FlavorPersistentDisk && x.State == model.DiskAttached && x.CapacityGB == 10
			})
			if onVM != done || len(vm.Disks) != map[bool]int{true: 1, false: 0}[done] {
				t.Fatalf("VM disks %+v after %s", vm.Disks, tc.want)
			}
			wantVMs := []string(nil)
			if done {
				wantVMs = []string{"vm-1"}
			}
			if got.State != tc.wantState || !slices.Equal(got.VMs, wantVMs) {
				t.Fatalf("disk %s on %v, want %s on %v", got.State, got.VMs, tc.wantState, wantVMs)
			}
			// The chain's end (completed or failed) releases both; a retry keeps them held.
			held := tc.want == steptest.Retry
			if (vm.ActiveTask != "") != held || (got.ActiveTask != "") != held {
				t.Fatalf("VM held by %q, disk by %q after %s", vm.ActiveTask, got.ActiveTask, tc.want)
			}
			if n := len(vmHost.VM("vm-1").GetDisks()); n != map[bool]int{true: 1, false: 0}[done] {
				t.Fatalf("the host's VM has %d disks after %s", n, tc.want)
			}
			if done {
				forget(hosts)
				e.MustDo(t, &events.VMAttachDisk, task, attachDisk)
				wantCalls(t, hosts, "")
				if vm := e.GetVM(t, "vm-1"); len(vm.Disks) != 1 {
					t.Fatalf("replay: VM disks %+v", vm.Disks)
				}
			}
		})
	}
}

// TestDetach: the disk is detached on the VM's host, its file kept, and recorded on both;
// a refusal leaves both records as they were; a busy host is retried. A disk attached to
// another VM stays attached there.
func TestDetach(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		diskOn    string // the VM the disk is attached to
		err       error
		want      string
		wantVMs   []string // the disk's VMs after
		wantOnVM  bool     // vm-1 still lists the disk
		wantState string
	}{
		{"detaches", "vm-1", nil, steptest.Done, nil, false, model.DiskDetached},
		{"host refuses", "vm-1", steptest.Refused, steptest.Failed(errs.CodeHostError), []string{"vm-1"}, true, model.DiskAttached},
		{"host busy", "vm-1", steptest.Busy, steptest.Retry, []string{"vm-1"}, true, model.DiskAttached},
		{"attached to another VM", "vm-2", nil, steptest.Done, []string{"vm-2"}, false, model.DiskAttached},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			hosts := []*steptest.Host{h}
			task := e.NewTask(&events.VMDetachDisk, "vm-1", steptest.Root, map[string]string{model.PropDiskID: diskID})
			vm := &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMStopped, HostID: h.ID}
			if tc.diskOn == "vm-1" {
				vm.Disks = []model.Disk{{ID: diskID, Name: diskID, Kind: model.FlavorPersistentDisk, CapacityGB: 10, State: model.DiskAttached}}
			}
			e.VM(t, vm, task)
			e.Place(t, "vm-1", h)
			h.PutVM("vm-1", "poweredOff")
			d := newDisk(10, model.DiskAttached)
			d.HostID, d.Datastore, d.DatastoreID, d.VMs, d.ActiveTask = h.ID, steptest.Datastore, h.ID+"-"+steptest.Datastore,
				[]string{tc.diskOn}, task.ID
			e.Disk(t, d, nil)
			h.PutDisk(steptest.Datastore, diskID)
			h.Fail("DetachDisk", tc.err)

			reply, err := e.Do(t, &events.VMDetachDisk, task, detachDisk)
			if got := e.Outcome(t, &events.VMDetachDisk, task, detachDisk, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			wantCalls(t, hosts, h.ID, steptest.Call{Method: "DetachDisk", Request: &hostdv1.DetachDiskRequest{VmId: "vm-1", DiskId: diskID}})
			if !h.HasDisk(steptest.Datastore, diskID) {
				t.Fatal("the detach deleted the disk's file")
			}
			got, rec := getDisk(t, e), e.GetVM(t, "vm-1")
			if onVM := slices.ContainsFunc(rec.Disks, func(x model.Disk) bool { return x.ID == diskID }); onVM != tc.wantOnVM {
				t.Fatalf("VM disks %+v after %s", rec.Disks, tc.want)
			}
			if got.State != tc.wantState || !slices.Equal(got.VMs, tc.wantVMs) {
				t.Fatalf("disk %s on %v, want %s on %v", got.State, got.VMs, tc.wantState, tc.wantVMs)
			}
			held := tc.want == steptest.Retry
			if (rec.ActiveTask != "") != held || (got.ActiveTask != "") != held {
				t.Fatalf("VM held by %q, disk by %q after %s", rec.ActiveTask, got.ActiveTask, tc.want)
			}
			if tc.want == steptest.Done {
				forget(hosts)
				e.MustDo(t, &events.VMDetachDisk, task, detachDisk)
				wantCalls(t, hosts, "")
			}
		})
	}
}
