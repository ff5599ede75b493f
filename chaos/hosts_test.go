package chaos

import (
	"net/url"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/photon-cloud/photon/hostd/hostdsim"
)

// TestOnHosts: what a simulated host holds, read through govmomi, against Photon's VMs
// and disks: a VM twice on its host is duplicated, one Photon calls STARTED but the host
// lacks is duplicated, a VM or disk file Photon does not know is an orphan, an ERROR VM
// without a host VM and a disk with its one file are fine; an orphan the reconciler lists
// is reported, and a VM in ERROR with a reason and no host VM is one it found gone.
func TestOnHosts(t *testing.T) {
	ctx := t.Context()
	sim, err := hostdsim.StartWith(ctx, hostdsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	c, err := govmomi.NewClient(ctx, sim.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	f := find.NewFinder(c.Client, false)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := f.DefaultResourcePool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := f.DefaultDatastore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"twin", "twin", "stranger", "fine"} { // as hostd names them
		task, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{Name: name, GuestId: "otherGuest64",
			Files:       &types.VirtualMachineFileInfo{VmPathName: "[" + ds.Name() + "]"},
			ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "photon.vmId", Value: name}}}, pool, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	fm := object.NewFileManager(c.Client)
	if err := fm.MakeDirectory(ctx, ds.Path("disks"), dc, true); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"pd-1", "pd-orphan"} {
		task, err := object.NewVirtualDiskManager(c.Client).CreateVirtualDisk(ctx, ds.Path("disks/"+id+".vmdk"), dc,
			&types.FileBackedVirtualDiskSpec{VirtualDiskSpec: types.VirtualDiskSpec{DiskType: "thin", AdapterType: "lsiLogic"}, CapacityKb: 1024})
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	r := &Result{}
	k := &checker{d: &deployment{simURLs: []*url.URL{sim.URL}, hostIDs: []string{"h1"}}, r: r,
		vms: map[string]photonVM{
			"twin":     {ID: "twin", State: "STARTED", Host: "h1"},
			"fine":     {ID: "fine", State: "STOPPED", Host: "h1"},
			"vanished": {ID: "vanished", State: "STARTED", Host: "h1"},
			"failed":   {ID: "failed", State: "ERROR"},
			"gone":     {ID: "gone", State: "ERROR", StateReason: "not on its host", Host: "h1"},
		},
		pds:     map[string]photonDisk{"pd-1": {ID: "pd-1", State: "DETACHED"}},
		orphans: []photonOrphan{{Type: "vm", Name: "stranger", VMID: "stranger", HostID: "h1"}, {Type: "vm", Name: "pd-orphan", HostID: "h2"}}}
	if err := k.onHosts(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"VM twin": 1, "VM vanished": 1, "orphan VM": 1, "orphan disk": 1}
	if r.Duplicated != 2 || r.Orphans != 2 || len(r.Kinds) != len(want) {
		t.Fatalf("duplicated=%d orphans=%d, findings %q", r.Duplicated, r.Orphans, r.Findings)
	}
	// The reconciler listed the stranger VM, not the disk file; the gone VM is in ERROR
	// with its reason.
	if r.Reported != 1 || r.Vanished != 1 || r.Held() {
		t.Errorf("reported=%d vanished=%d held=%t, want 1, 1, false", r.Reported, r.Vanished, r.Held())
	}
	for kind, n := range want {
		if r.Kinds[kind] != n {
			t.Errorf("%s: %d, want %d (findings %q)", kind, r.Kinds[kind], n, r.Findings)
		}
	}
}
