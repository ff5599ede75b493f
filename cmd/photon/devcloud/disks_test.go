package devcloud_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// persistentDisk is the SDK's PersistentDisk shape.
type persistentDisk struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Name       string          `json:"name"`
	Flavor     string          `json:"flavor"`
	State      string          `json:"state"`
	Datastore  string          `json:"datastore"`
	CapacityGB int             `json:"capacityGb"`
	VMs        []string        `json:"vms"`
	Cost       []quotaLineItem `json:"cost"`
	SelfLink   string          `json:"selfLink"`
}

// diskUsage checks what the project's quota and the disk's reservation count for disks:
// gb of persistent-disk.capacity in use, and whether disk holds datastore space.
func diskUsage(t *testing.T, c *devcloud.Cloud, project string, gb float64, disk string, reserved bool) {
	t.Helper()
	_, used, _, err := c.Store.QuotaUsage(t.Context(), project)
	if err != nil {
		t.Fatal(err)
	}
	_, ok, err := c.Store.HostReservationOf(t.Context(), disk)
	if err != nil {
		t.Fatal(err)
	}
	if used["persistent-disk.capacity"] != gb || ok != reserved {
		t.Fatalf("quota used %v, disk reservation %v; want %v GB, %v", used, ok, gb, reserved)
	}
}

// TestPersistentDisks walks persistent disks as a Photon SDK user would: create beside a
// VM, read, list with paging, attach, detach, refused transitions, a disk that outlives its
// VM, a failed create that releases everything, and deletes.
func TestPersistentDisks(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 2)
	f := setup(t, cl, 10)
	pdFlavor := cl.create("/v1/flavors", map[string]any{"name": "pd", "kind": "persistent-disk", "cost": []quotaLineItem{
		{Key: "persistent-disk.count", Value: 1, Unit: "COUNT"}}}).Entity.ID
	vmID := cl.wait(cl.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "pd-vm")).ID).Entity.ID
	var v vm
	cl.do("GET", "/v1/vms/"+vmID, nil, &v)
	sim := c.Sims[slices.Index(c.HostIDs, v.Host)]
	disks := "/v1/projects/" + f.project + "/disks"
	spec := func(name string, gb int, aff ...map[string]string) map[string]any {
		return map[string]any{"name": name, "kind": "persistent-disk", "flavor": "pd", "capacityGb": gb, "affinities": aff}
	}

	tk := cl.wait(cl.create(disks, spec("data", 2, map[string]string{"kind": "vm", "id": vmID})).ID)
	if tk.State != "COMPLETED" || tk.Operation != "CREATE_DISK" || len(tk.Steps) != 3 || tk.Steps[2].Operation != "CREATE_DISK_ON_HOST" {
		t.Fatalf("create disk: %+v", tk)
	}
	id := tk.Entity.ID
	var d persistentDisk
	if st := cl.do("GET", "/v1/disks/"+id, nil, &d); st != 200 || d.Kind != "persistent-disk" || d.State != "DETACHED" ||
		d.Datastore != v.Datastore || d.CapacityGB != 2 || d.SelfLink != "/v1/disks/"+id || len(d.Cost) != 2 {
		t.Fatalf("disk: %d %+v (vm datastore %s)", st, d, v.Datastore)
	}
	diskUsage(t, c, f.project, 2, id, true)

	bad := []struct {
		name string
		body map[string]any
		code string
	}{
		{"ephemeral kind", map[string]any{"name": "x", "kind": "ephemeral-disk", "flavor": "pd", "capacityGb": 1}, "InvalidEntity"},
		{"no capacity", spec("x", 0), "InvalidEntity"},
		{"unknown flavor", map[string]any{"name": "x", "kind": "persistent-disk", "flavor": "gold", "capacityGb": 1}, "InvalidEntity"},
		{"host affinity", spec("x", 1, map[string]string{"kind": "host", "id": v.Host}), "InvalidEntity"},
		{"name taken", spec("data", 1), "NameTaken"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			c := *cl
			c.t = t
			c.expect("POST", disks, tc.body, 400, tc.code)
		})
	}

	// A second disk goes wherever there is room; the list pages.
	second := cl.wait(cl.create(disks, spec("scratch", 1)).ID)
	if second.State != "COMPLETED" {
		t.Fatalf("second disk: %+v", second.Steps)
	}
	var page struct {
		Items        []persistentDisk `json:"items"`
		NextPageLink string           `json:"nextPageLink"`
	}
	cl.do("GET", disks+"?pageSize=1", nil, &page)
	if len(page.Items) != 1 || page.NextPageLink == "" {
		t.Fatalf("first page %+v", page)
	}
	first, link := page.Items[0].ID, page.NextPageLink
	page.Items, page.NextPageLink = nil, ""
	cl.do("GET", link, nil, &page)
	if len(page.Items) != 1 || page.Items[0].ID == first || page.NextPageLink != "" {
		t.Fatalf("second page %+v", page)
	}

	// Placement reads a disk's datastore affinities: a tag no datastore has fails the
	// create at its step with NoSuchResource and releases its quota.
	untagged := cl.wait(cl.create(disks, spec("nvme", 1, map[string]string{"kind": "datastoreTag", "id": "NVME"})).ID)
	if step := failedStep(untagged); untagged.State != "ERROR" || step != "CREATE_DISK_ON_HOST" ||
		untagged.Steps[2].Errors[0].Code != "NoSuchResource" || !strings.Contains(untagged.Steps[2].Errors[0].Message, "tagged NVME") {
		t.Fatalf("disk on a tag no datastore has: %+v", untagged)
	}
	diskUsage(t, c, f.project, 3, untagged.Entity.ID, false)
	if done := cl.wait(cl.expect("DELETE", "/v1/disks/"+untagged.Entity.ID, nil, 201, "").ID); done.State != "COMPLETED" {
		t.Fatalf("delete disk %s: %+v", untagged.Entity.ID, done.Steps)
	}

	attach := func(verb string, status int, code string) opTask {
		t.Helper()
		out := cl.expect("POST", "/v1/vms/"+vmID+"/"+verb, map[string]string{"diskId": id}, status, code)
		if status == 201 {
			out.task = cl.wait(out.ID)
			if out.State != "COMPLETED" {
				t.Fatalf("%s: %+v", verb, out.task)
			}
		}
		return out
	}
	check := func(state string, vmDisks int) {
		t.Helper()
		d, v = persistentDisk{}, vm{}
		cl.do("GET", "/v1/disks/"+id, nil, &d)
		cl.do("GET", "/v1/vms/"+vmID, nil, &v)
		if got := inspectVM(t, sim.URL, vmID).disks; d.State != state || len(v.AttachedDisks) != vmDisks || got != vmDisks {
			t.Fatalf("disk %s, vm has %d disks, vcsim %d; want %s, %d", d.State, len(v.AttachedDisks), got, state, vmDisks)
		}
	}
	if op := attach("attach_disk", 201, ""); op.Operation != "ATTACH_DISK" {
		t.Fatalf("attach task %+v", op)
	}
	check("ATTACHED", 3)
	if !slices.Equal(d.VMs, []string{vmID}) || !slices.ContainsFunc(v.AttachedDisks, func(a attachedDisk) bool {
		return a.ID == id && a.Kind == "persistent-disk"
	}) {
		t.Fatalf("attached: disk %+v, vm %+v", d, v.AttachedDisks)
	}
	attach("attach_disk", 400, "StateError")
	cl.expect("DELETE", "/v1/disks/"+id, nil, 400, "StateError")
	attach("detach_disk", 201, "")
	check("DETACHED", 2)
	attach("detach_disk", 400, "StateError")
	cl.expect("POST", "/v1/vms/"+vmID+"/attach_disk", map[string]string{"diskId": "nope"}, 400, "InvalidEntity")

	// The disk outlives its VM: attached when the VM is deleted, it is DETACHED after,
	// and a new VM placed beside it (disk affinity) attaches it again.
	attach("attach_disk", 201, "")
	if del := cl.wait(cl.expect("DELETE", "/v1/vms/"+vmID, nil, 201, "").ID); del.State != "COMPLETED" {
		t.Fatalf("delete vm: %+v", del.Steps)
	}
	if d = (persistentDisk{}); cl.do("GET", "/v1/disks/"+id, nil, &d) != 200 || d.State != "DETACHED" || len(d.VMs) != 0 {
		t.Fatalf("disk after its vm was deleted: %+v", d)
	}
	next := vmSpec(f, "pd-vm-2")
	next["affinities"] = []map[string]string{{"kind": "disk", "id": id}}
	vmID = cl.wait(cl.create("/v1/projects/"+f.project+"/vms", next).ID).Entity.ID
	attach("attach_disk", 201, "")
	check("ATTACHED", 3)
	attach("detach_disk", 201, "")

	// The host refuses to make the file: the create fails at its step and releases its
	// quota and datastore space; the disk is left in ERROR and deletes.
	for _, s := range c.Sims {
		s.FailMethod("CreateVirtualDisk_Task")
	}
	failed := cl.wait(cl.create(disks, spec("broken", 1)).ID)
	for _, s := range c.Sims {
		s.ClearFaults()
	}
	if failed.State != "ERROR" || failedStep(failed) != "CREATE_DISK_ON_HOST" {
		t.Fatalf("failed create: %+v", failed)
	}
	diskUsage(t, c, f.project, 3, failed.Entity.ID, false)
	// A flavor in use is not deleted.
	cl.expect("DELETE", "/v1/flavors/"+pdFlavor, nil, 400, "StateError")
	for _, del := range []struct {
		id   string
		left float64 // GB in use after it is deleted
	}{{failed.Entity.ID, 3}, {second.Entity.ID, 2}, {id, 0}} {
		if done := cl.wait(cl.expect("DELETE", "/v1/disks/"+del.id, nil, 201, "").ID); done.State != "COMPLETED" {
			t.Fatalf("delete disk %s: %+v", del.id, done.Steps)
		}
		cl.expect("GET", "/v1/disks/"+del.id, nil, 404, "NotFound")
		diskUsage(t, c, f.project, del.left, del.id, false)
	}
	if _, err := store.Get[model.PersistentDisk](t.Context(), c.Store, model.KindDisk, id); err == nil {
		t.Fatal("disk record left behind")
	}
	if done := cl.wait(cl.expect("DELETE", "/v1/flavors/"+pdFlavor, nil, 201, "").ID); done.State != "COMPLETED" {
		t.Fatalf("delete unused flavor: %+v", done)
	}
}
