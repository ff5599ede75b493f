package hostd_test

import (
	"context"
	"io"
	"net/url"
	"path"
	"strings"
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

	"github.com/photon-cloud/photon/hostd"
	"github.com/photon-cloud/photon/hostd/hostdsim"
)

// vsphere is a simulated ESXi host (vcsim) that hostd drives with govmomi. Tests read
// its own state through govmomi beside hostd, so they check what the host has rather
// than what hostd answers.
type vsphere struct {
	t      testing.TB
	sim    *hostdsim.Sim
	url    *url.URL // where hostd reaches the host: the simulator, or a proxy before it
	c      *govmomi.Client
	finder *find.Finder
	dc     *object.Datacenter
}

func startSim(t testing.TB) *hostdsim.Sim {
	t.Helper()
	sim, err := hostdsim.Start(t.Context(), image)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func newVsphere(t testing.TB, sim *hostdsim.Sim) *vsphere {
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
	return &vsphere{t: t, sim: sim, url: sim.URL, c: c, finder: f, dc: dc}
}

func (v *vsphere) start(ctx context.Context, o hostd.Options) (*hostd.Daemon, error) {
	o.URL, o.Insecure = v.url, true
	return hostd.Start(ctx, o)
}

func (v *vsphere) fail(method, _ string) { v.sim.FailMethod(method) }

func (v *vsphere) clearFaults() { v.sim.ClearFaults() }

func (v *vsphere) hardware(id string) (int32, int32) {
	v.t.Helper()
	hw := v.vm(id).Config.Hardware
	return hw.NumCPU, hw.MemoryMB
}

func (v *vsphere) boots(id string) int64 {
	v.t.Helper()
	if bt := v.vm(id).Summary.Runtime.BootTime; bt != nil {
		return bt.UnixNano()
	}
	return 0
}

func (v *vsphere) cdroms(id string) int {
	v.t.Helper()
	return len(object.VirtualDeviceList(v.vm(id).Config.Hardware.Device).SelectByType((*types.VirtualCdrom)(nil)))
}

// setGuestIP plays the guest reporting its address, vcsim's way.
func (v *vsphere) setGuestIP(id, ip string) {
	v.t.Helper()
	v.reconfigure(id, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{
		&types.OptionValue{Key: "SET.guest.ipAddress", Value: ip}}})
}

// guestMAC is the MAC of the first adapter the guest reports.
func (v *vsphere) guestMAC(id string) string {
	v.t.Helper()
	return v.vm(id).Guest.Net[0].MacAddress
}

// extraConfig is VM id's extraConfig on the host that is Photon's or the guest's (vcsim
// adds keys of its own).
func (v *vsphere) extraConfig(id string) map[string]string {
	v.t.Helper()
	out := map[string]string{}
	for _, o := range v.vm(id).Config.ExtraConfig {
		ov := o.GetOptionValue()
		if s, _ := ov.Value.(string); strings.HasPrefix(ov.Key, "guestinfo.") || strings.HasPrefix(ov.Key, "photon.") {
			out[ov.Key] = s
		}
	}
	return out
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

func (v *vsphere) powerState(id string) string {
	v.t.Helper()
	return string(v.vm(id).Runtime.PowerState)
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

// createForeign creates a VM named name on the host through govmomi, as an operator
// would beside Photon (an ESXi host has one VM folder, without subfolders).
func (v *vsphere) createForeign(ds, name string) {
	v.t.Helper()
	ctx := v.t.Context()
	folders, err := v.dc.Folders(ctx)
	if err != nil {
		v.t.Fatal(err)
	}
	pool, err := v.finder.DefaultResourcePool(ctx)
	if err != nil {
		v.t.Fatal(err)
	}
	task, err := folders.VmFolder.CreateVM(ctx, types.VirtualMachineConfigSpec{Name: name, GuestId: "otherGuest64", NumCPUs: 1, MemoryMB: 16,
		Files: &types.VirtualMachineFileInfo{VmPathName: "[" + ds + "]"}}, pool, nil)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		v.t.Fatalf("create %s: %v", name, err)
	}
}

// destroy destroys VM id behind hostd's back.
func (v *vsphere) destroy(id string) {
	v.t.Helper()
	vm := v.vmObject(id)
	task, err := vm.Destroy(v.t.Context())
	if err == nil {
		err = task.Wait(v.t.Context())
	}
	if err != nil {
		v.t.Fatalf("destroy %s: %v", id, err)
	}
}
