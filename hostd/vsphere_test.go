package hostd_test

import (
	"context"
	"io"
	"path"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/hostd/hostdsim"
)

// vsphere reads the simulated host's own state through govmomi, beside hostd, so tests
// check what the host has rather than what hostd answers.
type vsphere struct {
	t      *testing.T
	c      *govmomi.Client
	finder *find.Finder
	dc     *object.Datacenter
}

func newVsphere(t *testing.T, sim *hostdsim.Sim) *vsphere {
	t.Helper()
	c, err := govmomi.NewClient(t.Context(), sim.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Logout(context.Background()) })
	f := find.NewFinder(c.Client, false)
	dc, err := f.DefaultDatacenter(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	return &vsphere{t: t, c: c, finder: f, dc: dc}
}

func (v *vsphere) vmObject(id string) *object.VirtualMachine {
	v.t.Helper()
	vm, err := v.finder.VirtualMachine(v.t.Context(), id)
	if err != nil {
		v.t.Fatalf("find VM %s: %v", id, err)
	}
	return vm
}

// vm reads VM id's properties from the host.
func (v *vsphere) vm(id string) mo.VirtualMachine {
	v.t.Helper()
	vm := v.vmObject(id)
	var m mo.VirtualMachine
	if err := vm.Properties(v.t.Context(), vm.Reference(), []string{"config", "runtime", "guest", "summary"}, &m); err != nil {
		v.t.Fatal(err)
	}
	return m
}

func (v *vsphere) powerState(id string) types.VirtualMachinePowerState {
	v.t.Helper()
	return v.vm(id).Runtime.PowerState
}

// disks are the files of VM id's disks on the host.
func (v *vsphere) disks(id string) []string {
	v.t.Helper()
	var out []string
	for _, d := range object.VirtualDeviceList(v.vm(id).Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		if b, ok := d.(*types.VirtualDisk).Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			out = append(out, b.GetVirtualDeviceFileBackingInfo().FileName)
		}
	}
	return out
}

func (v *vsphere) datastore(name string) *object.Datastore {
	v.t.Helper()
	ds, err := v.finder.Datastore(v.t.Context(), name)
	if err != nil {
		v.t.Fatal(err)
	}
	return ds
}

// exists reports whether the file is on the datastore.
func (v *vsphere) exists(ds, p string) bool {
	v.t.Helper()
	_, err := v.datastore(ds).Stat(v.t.Context(), p)
	switch err.(type) {
	case nil:
		return true
	case object.DatastoreNoSuchFileError, object.DatastoreNoSuchDirectoryError:
		return false
	}
	v.t.Fatalf("stat [%s] %s: %v", ds, p, err)
	return false
}

// read downloads a file from the datastore.
func (v *vsphere) read(ds, p string) []byte {
	v.t.Helper()
	r, _, err := v.datastore(ds).Download(v.t.Context(), p, &soap.DefaultDownload)
	if err != nil {
		v.t.Fatalf("download [%s] %s: %v", ds, p, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		v.t.Fatal(err)
	}
	return b
}

// reconfigure changes VM id behind hostd's back, as the guest or an operator would.
func (v *vsphere) reconfigure(id string, spec types.VirtualMachineConfigSpec) {
	v.t.Helper()
	vm := v.vmObject(id)
	task, err := vm.Reconfigure(v.t.Context(), spec)
	if err == nil {
		err = task.Wait(v.t.Context())
	}
	if err != nil {
		v.t.Fatal(err)
	}
}

// createVM creates VM id from the test image on the first datastore with hostd.
func createVM(t *testing.T, h hostdv1.HostClient, ds, id string) *hostdv1.VmInfo {
	t.Helper()
	info, err := h.CreateVm(t.Context(), &hostdv1.CreateVmRequest{VmId: id, Name: id, CpuCount: 1, MemoryMb: 32, Datastore: ds, ImagePath: image})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return info
}

// vmCount is how many VMs named id the host has, read through a container view of its
// whole inventory.
func (v *vsphere) vmCount(id string) int {
	v.t.Helper()
	ctx := v.t.Context()
	cv, err := view.NewManager(v.c.Client).CreateContainerView(ctx, v.c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		v.t.Fatal(err)
	}
	defer cv.Destroy(context.WithoutCancel(ctx))
	var vms []mo.VirtualMachine
	if err := cv.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name"}, &vms); err != nil {
		v.t.Fatal(err)
	}
	n := 0
	for _, vm := range vms {
		if vm.Name == id {
			n++
		}
	}
	return n
}

// diskCount is how many of VM id's disks are backed by a file named diskID.vmdk.
func (v *vsphere) diskCount(id, diskID string) int {
	v.t.Helper()
	n := 0
	for _, f := range v.disks(id) {
		if path.Base(f) == diskID+".vmdk" {
			n++
		}
	}
	return n
}

// nicCount is how many network adapters VM id has.
func (v *vsphere) nicCount(id string) int {
	v.t.Helper()
	return len(object.VirtualDeviceList(v.vm(id).Config.Hardware.Device).SelectByType((*types.VirtualEthernetCard)(nil)))
}

// iso is the ISO file in VM id's CD-ROM, if any.
func (v *vsphere) iso(id string) string {
	v.t.Helper()
	for _, d := range object.VirtualDeviceList(v.vm(id).Config.Hardware.Device).SelectByType((*types.VirtualCdrom)(nil)) {
		if b, ok := d.(*types.VirtualCdrom).Backing.(*types.VirtualCdromIsoBackingInfo); ok {
			return b.FileName
		}
	}
	return ""
}

// settle waits until every task the host has started recently has ended.
func (v *vsphere) settle() {
	v.t.Helper()
	ctx := v.t.Context()
	pc := property.DefaultCollector(v.c.Client)
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		var tm mo.TaskManager
		if err := pc.RetrieveOne(ctx, *v.c.ServiceContent.TaskManager, []string{"recentTask"}, &tm); err != nil {
			v.t.Fatal(err)
		}
		running := 0
		if len(tm.RecentTask) > 0 {
			var tasks []mo.Task
			if err := pc.Retrieve(ctx, tm.RecentTask, []string{"info.state"}, &tasks); err != nil {
				v.t.Fatal(err)
			}
			for _, task := range tasks {
				if s := task.Info.State; s == types.TaskInfoStateQueued || s == types.TaskInfoStateRunning {
					running++
				}
			}
		}
		if running == 0 {
			return
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("%d tasks still running on the host", running)
		}
		<-tick.C
	}
}
