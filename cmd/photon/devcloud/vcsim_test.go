package devcloud_test

import (
	"net/url"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// vcsimVM is what the simulated ESXi host itself says about a VM, read with govmomi and
// not through Photon.
type vcsimVM struct {
	exists      bool
	power       string
	disks, nics int
	linkedClone bool // the boot disk's backing has the image disk as parent
	cpus        int32
	memoryMB    int32
}

func inspectVM(t *testing.T, u *url.URL, vmID string) vcsimVM {
	t.Helper()
	ctx := t.Context()
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Logout(ctx)
	m := view.NewManager(c.Client)
	v, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Destroy(ctx)
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config", "runtime"}, &vms); err != nil {
		t.Fatal(err)
	}
	for _, vm := range vms {
		if !matches(vm, vmID) {
			continue
		}
		out := vcsimVM{exists: true, power: string(vm.Runtime.PowerState), cpus: vm.Config.Hardware.NumCPU,
			memoryMB: vm.Config.Hardware.MemoryMB}
		for _, d := range vm.Config.Hardware.Device {
			switch dev := d.(type) {
			case *types.VirtualDisk:
				out.disks++
				if b, ok := dev.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && b.Parent != nil {
					out.linkedClone = true
				}
			case types.BaseVirtualEthernetCard:
				out.nics++
			}
		}
		return out
	}
	return vcsimVM{}
}

func matches(vm mo.VirtualMachine, id string) bool {
	if vm.Name == id {
		return true
	}
	if vm.Config == nil {
		return false
	}
	for _, o := range vm.Config.ExtraConfig {
		if opt := o.GetOptionValue(); opt != nil && opt.Value == id {
			return true
		}
	}
	return false
}

// setPower powers a VM on or off on the host itself, behind Photon's back (as an operator
// at the host's console would).
func (v *vsphere) setPower(vmID string, on bool) {
	v.t.Helper()
	ctx := v.t.Context()
	m := view.NewManager(v.c.Client)
	cv, err := m.CreateContainerView(ctx, v.c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		v.t.Fatal(err)
	}
	defer cv.Destroy(ctx)
	var vms []mo.VirtualMachine
	if err := cv.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config"}, &vms); err != nil {
		v.t.Fatal(err)
	}
	for _, vm := range vms {
		if !matches(vm, vmID) {
			continue
		}
		o := object.NewVirtualMachine(v.c.Client, vm.Reference())
		t, err := o.PowerOff(ctx)
		if on {
			t, err = o.PowerOn(ctx)
		}
		if err == nil {
			err = t.Wait(ctx)
		}
		if err != nil {
			v.t.Fatal(err)
		}
		return
	}
	v.t.Fatalf("VM %s not on the host", vmID)
}
