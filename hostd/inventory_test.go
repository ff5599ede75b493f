package hostd_test

import (
	"maps"
	"slices"
	"testing"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

func inventory(t *testing.T, h hostdv1.HostClient) (vms map[string]*hostdv1.InventoryVm, disks []string) {
	t.Helper()
	inv, err := h.ListInventory(t.Context(), &hostdv1.ListInventoryRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if inv.GetReadAt() == 0 {
		t.Error("the inventory has no read time")
	}
	vms = map[string]*hostdv1.InventoryVm{}
	for _, v := range inv.GetVms() {
		vms[v.GetVm().GetVmId()] = v
	}
	return vms, inv.GetDiskFiles()
}

// TestListInventory: the inventory has hostd's VMs by their Photon id with their disks,
// a VM made beside Photon, and the persistent disk files; a VM
// destroyed behind hostd's back leaves it, and hostd's delete of it then succeeds.
func TestListInventory(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ctx := t.Context()
		ds := reg.host.Datastores[0].Name
		createVM(t, h, ds, "vm-1")
		createVM(t, h, ds, "vm-2")
		if _, err := h.CreateDisk(ctx, &hostdv1.CreateDiskRequest{DiskId: "pd1", Datastore: ds, CapacityGb: 1}); err != nil {
			t.Fatal(err)
		}
		v.createForeign(ds, "intruder")

		vms, disks := inventory(t, h)
		for _, id := range []string{"vm-1", "vm-2"} {
			got := vms[id]
			if got == nil || !got.GetPhoton() || got.GetVsphereName() != id || len(got.GetVm().GetDisks()) == 0 {
				t.Errorf("%s in the inventory: %v", id, got)
			}
		}
		if got := vms["intruder"]; got == nil || got.GetPhoton() {
			t.Errorf("the VM made beside Photon: %v", got)
		}
		if want := "[" + ds + "] disks/pd1.vmdk"; !slices.Contains(disks, want) {
			t.Errorf("disk files %v, want %s among them", disks, want)
		}

		v.destroy("vm-1")
		vms, _ = inventory(t, h)
		if vms["vm-1"] != nil || vms["vm-2"] == nil {
			t.Fatalf("after vm-1's destroy the inventory has %v", slices.Sorted(maps.Keys(vms)))
		}
		if _, err := h.DeleteVm(ctx, &hostdv1.VmRef{VmId: "vm-1"}); err != nil {
			t.Errorf("delete of the VM gone from the host: %v", err)
		}
		if _, err := h.PowerOff(ctx, &hostdv1.VmRef{VmId: "vm-2"}); err != nil {
			t.Errorf("vm-2 after the inventory: %v", err)
		}
		// hostd's delete of the VM made beside Photon (the reconciler's remove policy).
		if _, err := h.DeleteVm(ctx, &hostdv1.VmRef{VmId: "intruder"}); err != nil {
			t.Fatalf("delete the VM made beside Photon: %v", err)
		}
		if vms, _ = inventory(t, h); vms["intruder"] != nil {
			t.Errorf("after its delete the inventory has %v", slices.Sorted(maps.Keys(vms)))
		}
	})
}
