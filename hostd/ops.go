package hostd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// host is one ESXi host reached through govmomi: the objects every operation needs,
// found once.
type host struct {
	c      *vim25.Client
	finder *find.Finder
	dc     *object.Datacenter
	folder *object.Folder
	pool   *object.ResourcePool
	system *object.HostSystem

	// vms are the host's VMs by Photon VM id (their vSphere name): all the VM folder held
	// when hostd started, and every VM hostd created or found since.
	vms memo[*object.VirtualMachine]
	// unsettled are the ids of VMs whose create or destroy hostd sent without learning how
	// it ended (the host unreachable, the wait cut short): the host may or may not have
	// the VM, and only a look at the host says which.
	unsettled memo[bool]
	// state is each VM's properties as hostd last read them, after its own last change.
	// hostd is the one writer of its VMs and serialises work per VM, so an operation starts
	// from this instead of reading the VM again; any failed operation forgets it.
	state      memo[*mo.VirtualMachine]
	collectors chan *property.Collector // idle property collectors for task waits
	datastores memo[*object.Datastore]  // by name
	imageSeen  memo[bool]               // image disk paths ("[ds] images/x.vmdk") seen to exist
	backings   memo[types.BaseVirtualDeviceBackingInfo]
	// files bounds the calls that create, search or delete datastore files at once (nil:
	// no bound); see Options.FileOps. The Server takes them for its calls.
	files slots
}

// fileOp holds one of the host's file-operation slots until the returned func is called.
func (h *host) fileOp(ctx context.Context) (func(), error) { return h.files.take(ctx) }

// memo remembers lookups whose answers do not change while hostd runs.
type memo[V any] struct {
	mu sync.Mutex
	m  map[string]V
}

// get returns the value for key, calling find (and remembering its answer) on a miss.
func (c *memo[V]) get(key string, find func() (V, error)) (V, error) {
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := find()
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil {
		c.m = map[string]V{}
	}
	c.m[key] = v
	c.mu.Unlock()
	return v, nil
}

// peek returns the remembered value for key, if any.
func (c *memo[V]) peek(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[key]
	return v, ok
}

// put remembers v for key.
func (c *memo[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]V{}
	}
	c.m[key] = v
}

func (c *memo[V]) forget(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func newHost(ctx context.Context, c *vim25.Client, files slots) (*host, error) {
	f := find.NewFinder(c, false)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		return nil, fmt.Errorf("datacenter: %w", err)
	}
	f.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	if err != nil {
		return nil, err
	}
	pool, err := f.DefaultResourcePool(ctx)
	if err != nil {
		return nil, fmt.Errorf("resource pool: %w", err)
	}
	hs, err := f.DefaultHostSystem(ctx)
	if err != nil {
		return nil, fmt.Errorf("host system: %w", err)
	}
	h := &host{c: c, finder: f, dc: dc, folder: folders.VmFolder, pool: pool, system: hs,
		collectors: make(chan *property.Collector, 64), files: files}
	vms, err := h.folderVMs(ctx, property.DefaultCollector(c), "name")
	if err != nil {
		return nil, fmt.Errorf("list VMs: %w", err)
	}
	for _, vm := range vms {
		h.vms.put(vm.Name, object.NewVirtualMachine(c, vm.Self))
	}
	return h, nil
}

// folderVMs reads the given properties of the VMs in the VM folder, in two calls whatever
// their number. vcsim's lists of VMs (on the host and in the folder alike) can miss a VM
// it is creating: nothing that must be exact rests on this listing alone.
func (h *host) folderVMs(ctx context.Context, pc *property.Collector, props ...string) ([]mo.VirtualMachine, error) {
	var folder mo.Folder
	if err := pc.RetrieveOne(ctx, h.folder.Reference(), []string{"childEntity"}, &folder); err != nil {
		return nil, err
	}
	var refs []types.ManagedObjectReference
	for _, c := range folder.ChildEntity {
		if c.Type == "VirtualMachine" {
			refs = append(refs, c)
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	var vms []mo.VirtualMachine
	if err := pc.Retrieve(ctx, refs, props, &vms); err != nil {
		return nil, err
	}
	return vms, nil
}

// wait waits for a vSphere task on a property collector from the host's pool: creating
// and destroying one per wait, as object.Task.Wait does, doubles the calls per task.
func (h *host) wait(ctx context.Context, t *object.Task) (*types.TaskInfo, error) {
	var pc *property.Collector
	select {
	case pc = <-h.collectors:
	default:
		var err error
		if pc, err = property.DefaultCollector(h.c).Create(ctx); err != nil {
			return nil, err
		}
	}
	info, err := waitTask(ctx, pc, t.Reference())
	var fault task.Error
	if err == nil || errors.As(err, &fault) { // the collector is sound: keep it
		select {
		case h.collectors <- pc:
			return info, err
		default:
		}
	}
	pc.Destroy(context.WithoutCancel(ctx))
	return info, err
}

// waitTask waits on pc until the task has ended, then reads its info. It watches
// "info.state" only, not "info" as object.Task.Wait does: vcsim answers a watch of a
// parent property by reading the task's record while the task is still writing it (a data
// race under -race), where an exact property comes with its value.
func waitTask(ctx context.Context, pc *property.Collector, ref types.ManagedObjectReference) (*types.TaskInfo, error) {
	filter := &property.WaitFilter{WaitOptions: property.WaitOptions{PropagateMissing: true}}
	filter.Add(ref, ref.Type, []string{"info.state"})
	err := property.WaitForUpdatesEx(ctx, pc, filter, func(updates []types.ObjectUpdate) bool {
		for _, u := range updates {
			for _, c := range u.ChangeSet {
				if st, ok := c.Val.(types.TaskInfoState); ok && c.Name == "info.state" &&
					(st == types.TaskInfoStateSuccess || st == types.TaskInfoStateError) {
					return true
				}
			}
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	var mt mo.Task
	if err := pc.RetrieveOne(ctx, ref, []string{"info"}, &mt); err != nil {
		return nil, err
	}
	if mt.Info.State == types.TaskInfoStateError {
		return &mt.Info, task.Error{LocalizedMethodFault: mt.Info.Error, Description: mt.Info.Description}
	}
	return &mt.Info, nil
}

// reconfigure applies spec to vm and waits for it.
func (h *host) reconfigure(ctx context.Context, vm *object.VirtualMachine, spec types.VirtualMachineConfigSpec) error {
	t, err := vm.Reconfigure(ctx, spec)
	if err != nil {
		return err
	}
	_, err = h.wait(ctx, t)
	return err
}

func deviceChange(op types.VirtualDeviceConfigSpecOperation, fop types.VirtualDeviceConfigSpecFileOperation,
	d types.BaseVirtualDevice) types.VirtualMachineConfigSpec {
	return types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: op, FileOperation: fop, Device: d}}}
}

// forgetOnError drops what hostd remembers of VM id when an operation on it failed:
// the VM may be in any state, so the next operation reads it afresh. A VM that is gone
// (destroyed behind hostd's back) is looked up again too.
func (h *host) forgetOnError(id string, err *error) {
	if *err != nil {
		h.state.forget(id)
		if isFault[*types.ManagedObjectNotFound](*err) {
			h.vms.forget(id)
		}
	}
}

// datastore finds a datastore by name.
func (h *host) datastore(ctx context.Context, name string) (*object.Datastore, error) {
	return h.datastores.get(name, func() (*object.Datastore, error) { return h.finder.Datastore(ctx, name) })
}

// checkImage makes sure the image disk exists; images are not deleted under running
// VMs, so a disk seen once is not looked up again.
func (h *host) checkImage(ctx context.Context, ds *object.Datastore, p string) error {
	_, err := h.imageSeen.get(ds.Path(p), func() (bool, error) {
		if _, ok, err := h.exists(ctx, ds, p); err != nil || !ok {
			return false, status.Errorf(codes.NotFound, "image disk %s not found: %v", ds.Path(p), err)
		}
		return true, nil
	})
	return err
}

// backing is the NIC backing of a network.
func (h *host) backing(ctx context.Context, name string) (types.BaseVirtualDeviceBackingInfo, error) {
	return h.backings.get(name, func() (types.BaseVirtualDeviceBackingInfo, error) {
		network, err := h.finder.Network(ctx, name)
		if err != nil {
			return nil, err
		}
		return network.EthernetCardBackingInfo(ctx)
	})
}

// errNoVM marks a lookup of a VM the host does not have.
var errNoVM = errors.New("no such VM")

// vm finds the VM named id; ok is false when there is none. An unsettled VM is looked up
// on the host afresh.
func (h *host) vm(ctx context.Context, id string) (*object.VirtualMachine, bool, error) {
	if _, ok := h.unsettled.peek(id); ok {
		found, err := h.lookupVMs(ctx, id)
		if err != nil {
			return nil, false, err
		}
		h.unsettled.forget(id)
		h.state.forget(id)
		if len(found) == 0 {
			h.vms.forget(id)
			return nil, false, nil
		}
		h.vms.put(id, found[0])
		return found[0], true, nil
	}
	vm, err := h.vms.get(id, func() (*object.VirtualMachine, error) {
		vm, err := h.finder.VirtualMachine(ctx, id)
		var nf *find.NotFoundError
		if errors.As(err, &nf) {
			return nil, errNoVM
		}
		return vm, err
	})
	if errors.Is(err, errNoVM) {
		return nil, false, nil
	}
	return vm, err == nil, err
}

func (h *host) mustVM(ctx context.Context, id string) (*object.VirtualMachine, error) {
	vm, ok, err := h.vm(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "VM %s not found on this host", id)
	}
	return vm, nil
}

// createVM creates the VM with a boot disk that is a child of the image disk, unless the
// host has a VM of that id already.
//
// Which VMs the host has is what hostd listed when it started and has created since
// (h.vms), so a new id costs no lookup. Two things make that exact. A create whose end
// hostd did not learn (unsettled) is looked up on the host before anything is sent. And a
// VM that the listing missed (one that a previous hostd was still creating) is caught by
// the create: a host that refuses a second VM of a name answers DuplicateName or
// FileAlreadyExists, and the VM is looked up; one that takes it (vcsim does) gives it a
// folder of another name, since the first one's folder is taken, so a new VM whose folder
// is not named by its id has a twin, and the VM just made is destroyed again (adopt).
//
// The request's guest_info goes into the create's own extraConfig, so the guest finds it
// from its first power-on; a VM found made already keeps what it has.
func (h *host) createVM(ctx context.Context, r *hostdv1.CreateVmRequest) (_ *hostdv1.VmInfo, err error) {
	id := r.GetVmId()
	extra := guestInfo(r.GetGuestInfo())
	defer h.forgetOnError(id, &err)
	_, known := h.vms.peek(id)
	if _, unsure := h.unsettled.peek(id); known || unsure {
		if _, ok, err := h.vm(ctx, id); err != nil {
			return nil, err
		} else if ok {
			return h.info(ctx, id)
		}
	}
	ds, err := h.datastore(ctx, r.GetDatastore())
	if err != nil {
		return nil, err
	}
	if err := h.checkImage(ctx, ds, r.GetImagePath()); err != nil {
		return nil, err
	}
	var devices object.VirtualDeviceList
	scsi, err := devices.CreateSCSIController("pvscsi")
	if err != nil {
		return nil, err
	}
	devices = append(devices, scsi)
	ctrl, err := devices.FindDiskController("scsi")
	if err != nil {
		return nil, err
	}
	image := devices.CreateDisk(ctrl, ds.Reference(), ds.Path(r.GetImagePath()))
	devices = append(devices, devices.ChildDisk(image))
	change, err := devices.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return nil, err
	}
	spec := types.VirtualMachineConfigSpec{
		Name:         id,
		GuestId:      string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
		NumCPUs:      r.GetCpuCount(),
		MemoryMB:     r.GetMemoryMb(),
		Annotation:   r.GetName(),
		Files:        &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", ds.Name())},
		DeviceChange: change,
		ExtraConfig:  append([]types.BaseOptionValue{&types.OptionValue{Key: "photon.vmId", Value: id}}, extra...),
	}
	res, err := h.task(ctx, id, func() (*object.Task, error) { return h.folder.CreateVM(ctx, spec, h.pool, h.system) })
	if err != nil {
		if !isExists(err) {
			return nil, err
		}
		found, lookErr := h.lookupVMs(ctx, id)
		if lookErr != nil || len(found) == 0 {
			return nil, err
		}
		h.vms.put(id, found[0])
		return h.info(ctx, id)
	}
	ref, ok := res.Result.(types.ManagedObjectReference)
	if !ok {
		return nil, fmt.Errorf("create VM %s: task result is %T", id, res.Result)
	}
	vm := object.NewVirtualMachine(h.c, ref)
	h.vms.put(id, vm)
	m, err := h.props(ctx, vm)
	if err != nil {
		return nil, err
	}
	var p object.DatastorePath
	if p.FromString(m.Config.Files.VmPathName) && path.Dir(p.Path) != id {
		return h.adopt(ctx, id, vm)
	}
	h.state.put(id, m)
	return report(id, m), nil
}

// guestInfo is the extraConfig entries of a create's guest_info (checked: checkGuestInfo),
// in key order, so a spec is the same whatever the map's order.
func guestInfo(m map[string]string) []types.BaseOptionValue {
	keys := slices.Sorted(maps.Keys(m))
	out := make([]types.BaseOptionValue, 0, len(keys))
	for _, k := range keys {
		out = append(out, &types.OptionValue{Key: k, Value: m[k]})
	}
	return out
}

// adopt keeps the other VM named id, which the host had before hostd made its own, and
// destroys made. Without another VM of the name (made's folder was taken by files a VM
// left), made is kept.
func (h *host) adopt(ctx context.Context, id string, made *object.VirtualMachine) (*hostdv1.VmInfo, error) {
	found, err := h.lookupVMs(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, vm := range found {
		if vm.Reference() == made.Reference() {
			continue
		}
		if _, err := h.task(ctx, id, func() (*object.Task, error) { return made.Destroy(ctx) }); err != nil {
			return nil, fmt.Errorf("destroy the second VM %s: %w", id, err)
		}
		h.vms.put(id, vm)
		return h.info(ctx, id)
	}
	return h.info(ctx, id)
}

// lookupVMs finds the VMs named id on the host. It reads every name in the VM folder:
// hostd looks only when what it remembers cannot tell.
func (h *host) lookupVMs(ctx context.Context, id string) ([]*object.VirtualMachine, error) {
	vms, err := h.finder.VirtualMachineList(ctx, id)
	var nf *find.NotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	return vms, err
}

// task sends a task that creates or destroys VM id and waits for it. When the host may
// have run it without hostd learning how it ended (no answer, or a wait cut short), the VM
// is marked unsettled.
func (h *host) task(ctx context.Context, id string, send func() (*object.Task, error)) (*types.TaskInfo, error) {
	t, err := send()
	if err != nil {
		if vimFault(err) == nil {
			h.unsettled.put(id, true)
		}
		return nil, err
	}
	info, err := h.wait(ctx, t)
	var fault task.Error
	if err != nil && !errors.As(err, &fault) {
		h.unsettled.put(id, true)
	}
	return info, err
}

// isExists reports whether err is vSphere saying the VM (or its folder) already exists.
func isExists(err error) bool {
	var fault task.Error
	if !errors.As(err, &fault) || fault.Fault() == nil {
		return false
	}
	switch fault.Fault().(type) {
	case *types.DuplicateName, *types.FileAlreadyExists:
		return true
	}
	return false
}

// diskFile is where an ephemeral disk lives: in the VM's folder, named by its id.
func diskFile(vm *mo.VirtualMachine, diskID string) string {
	var p object.DatastorePath
	p.FromString(vm.Config.Files.VmPathName)
	p.Path = path.Join(path.Dir(p.Path), diskID+".vmdk")
	return p.String()
}

// findDisk finds the disk hostd reports as diskID (see diskIDOf).
func findDisk(devices object.VirtualDeviceList, diskID string) *types.VirtualDisk {
	for _, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		if disk := d.(*types.VirtualDisk); diskIDOf(disk) == diskID {
			return disk
		}
	}
	return nil
}

// diskFileOf is the file backing a disk ("[datastore] path"), if it has one.
func diskFileOf(disk *types.VirtualDisk) string {
	if b, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
		return b.GetVirtualDeviceFileBackingInfo().FileName
	}
	return ""
}

// isBoot reports whether disk is a VM's boot disk: the linked clone of its image.
func isBoot(disk *types.VirtualDisk) bool {
	b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
	return ok && b.Parent != nil
}

// diskIDOf is the id hostd names a disk by: "boot" for the boot disk, else its file's
// name without ".vmdk" (ephemeral disks are "<vm folder>/<disk id>.vmdk", persistent ones
// "disks/<disk id>.vmdk").
func diskIDOf(disk *types.VirtualDisk) string {
	if isBoot(disk) {
		return BootDiskID
	}
	var p object.DatastorePath
	if !p.FromString(diskFileOf(disk)) {
		return ""
	}
	return strings.TrimSuffix(path.Base(p.Path), ".vmdk")
}

// vmProps finds the VM named id and its properties as hostd last knew them: as read after
// it was created (or first seen) with hostd's own completed changes applied since
// (applied). Adding a device needs no more; removing one needs vSphere's device keys,
// which freshProps reads.
func (h *host) vmProps(ctx context.Context, id string) (*object.VirtualMachine, *mo.VirtualMachine, error) {
	vm, err := h.mustVM(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	m, err := h.state.get(id, func() (*mo.VirtualMachine, error) { return h.props(ctx, vm) })
	return vm, m, err
}

// freshProps is vmProps read from the host, not from what hostd remembers.
func (h *host) freshProps(ctx context.Context, id string) (*object.VirtualMachine, *mo.VirtualMachine, error) {
	vm, err := h.mustVM(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	m, err := h.props(ctx, vm)
	return vm, m, err
}

// vmProperties are the properties of a VM that hostd reads: what report needs.
var vmProperties = []string{"name", "config.hardware.device", "config.hardware.numCPU", "config.hardware.memoryMB",
	"config.extraConfig", "config.files.vmPathName", "config.annotation", "runtime.powerState", "guest.net"}

func (h *host) props(ctx context.Context, vm *object.VirtualMachine) (*mo.VirtualMachine, error) {
	var m mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), vmProperties, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

func (h *host) attachDisk(ctx context.Context, r *hostdv1.AttachDiskRequest) (_ *hostdv1.VmInfo, err error) {
	defer h.forgetOnError(r.GetVmId(), &err)
	vm, m, err := h.vmProps(ctx, r.GetVmId())
	if err != nil {
		return nil, err
	}
	devices := object.VirtualDeviceList(m.Config.Hardware.Device)
	if findDisk(devices, r.GetDiskId()) == nil {
		ctrl, err := devices.FindDiskController("scsi")
		if err != nil {
			return nil, err
		}
		disk := devices.CreateDisk(ctrl, types.ManagedObjectReference{}, diskFile(m, r.GetDiskId()))
		disk.CapacityInKB = max(r.GetCapacityGb(), 1) * 1024 * 1024
		if err := h.reconfigure(ctx, vm, deviceChange(types.VirtualDeviceConfigSpecOperationAdd,
			types.VirtualDeviceConfigSpecFileOperationCreate, disk)); err != nil {
			return nil, err
		}
		m = h.applied(r.GetVmId(), m, func(m *mo.VirtualMachine) { m.Config.Hardware.Device = append(m.Config.Hardware.Device, disk) })
	}
	return report(r.GetVmId(), m), nil
}

func (h *host) detachDisk(ctx context.Context, r *hostdv1.DetachDiskRequest) (_ *hostdv1.VmInfo, err error) {
	defer h.forgetOnError(r.GetVmId(), &err)
	vm, m, err := h.freshProps(ctx, r.GetVmId()) // removing needs the device keys vSphere gave
	if err != nil {
		return nil, err
	}
	if disk := findDisk(m.Config.Hardware.Device, r.GetDiskId()); disk != nil {
		if isBoot(disk) {
			return nil, status.Errorf(codes.FailedPrecondition, "disk %s of VM %s is its boot disk: it cannot be detached", r.GetDiskId(), r.GetVmId())
		}
		// A persistent disk outlives the VM: detach it and keep its file.
		fop := types.VirtualDeviceConfigSpecFileOperationDestroy
		if isPersistent(diskFileOf(disk)) {
			fop = ""
		}
		if err := h.reconfigure(ctx, vm, deviceChange(types.VirtualDeviceConfigSpecOperationRemove, fop, disk)); err != nil {
			return nil, err
		}
	}
	return h.info(ctx, r.GetVmId())
}

func nicKey(id string) string { return "photon.nic." + id }

func extra(m *mo.VirtualMachine, key string) string {
	for _, o := range m.Config.ExtraConfig {
		if v := o.GetOptionValue(); v != nil && v.Key == key {
			s, _ := v.Value.(string)
			return s
		}
	}
	return ""
}

func findNIC(devices object.VirtualDeviceList, mac string) types.BaseVirtualDevice {
	for _, d := range devices.SelectByType((*types.VirtualEthernetCard)(nil)) {
		if mac != "" && strings.EqualFold(d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard().MacAddress, mac) {
			return d
		}
	}
	return nil
}

func (h *host) addNIC(ctx context.Context, r *hostdv1.AddNicRequest) (_ *hostdv1.VmInfo, err error) {
	defer h.forgetOnError(r.GetVmId(), &err)
	vm, m, err := h.vmProps(ctx, r.GetVmId())
	if err != nil {
		return nil, err
	}
	if mac := extra(m, nicKey(r.GetNicId())); mac != "" && findNIC(m.Config.Hardware.Device, mac) != nil {
		return report(r.GetVmId(), m), nil
	}
	backing, err := h.backing(ctx, r.GetNetwork())
	if err != nil {
		return nil, err
	}
	dev, err := object.EthernetCardTypes().CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return nil, err
	}
	mac := r.GetMacAddress() // hostd's default when the caller gave none (checked)
	card := dev.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
	card.AddressType, card.MacAddress = string(types.VirtualEthernetCardMacTypeManual), mac
	spec := types.VirtualMachineConfigSpec{
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: dev}},
		ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: nicKey(r.GetNicId()), Value: mac}},
	}
	if err := h.reconfigure(ctx, vm, spec); err != nil {
		return nil, err
	}
	m = h.applied(r.GetVmId(), m, func(m *mo.VirtualMachine) {
		m.Config.Hardware.Device = append(m.Config.Hardware.Device, dev)
		m.Config.ExtraConfig = append(m.Config.ExtraConfig, spec.ExtraConfig...)
	})
	return report(r.GetVmId(), m), nil
}

func (h *host) removeNIC(ctx context.Context, r *hostdv1.RemoveNicRequest) (_ *hostdv1.VmInfo, err error) {
	defer h.forgetOnError(r.GetVmId(), &err)
	vm, m, err := h.freshProps(ctx, r.GetVmId()) // removing needs the device keys vSphere gave
	if err != nil {
		return nil, err
	}
	if nic := findNIC(m.Config.Hardware.Device, extra(m, nicKey(r.GetNicId()))); nic != nil {
		if err := h.reconfigure(ctx, vm, deviceChange(types.VirtualDeviceConfigSpecOperationRemove, "", nic)); err != nil {
			return nil, err
		}
	}
	return h.info(ctx, r.GetVmId())
}

func (h *host) power(ctx context.Context, id string, on bool) (_ *hostdv1.VmInfo, err error) {
	defer h.forgetOnError(id, &err)
	vm, m, err := h.vmProps(ctx, id)
	if err != nil {
		return nil, err
	}
	want, send := types.VirtualMachinePowerStatePoweredOff, vm.PowerOff
	if on {
		want, send = types.VirtualMachinePowerStatePoweredOn, vm.PowerOn
	}
	if m.Runtime.PowerState == want {
		return report(id, m), nil
	}
	t, err := send(ctx)
	if err == nil {
		_, err = h.wait(ctx, t)
	}
	if err != nil {
		return h.alreadyIn(ctx, id, want, err)
	}
	m = h.applied(id, m, func(m *mo.VirtualMachine) { m.Runtime.PowerState = want })
	return report(id, m), nil
}

// alreadyIn handles err, vSphere's refusal to change VM id's power state: when hostd's
// record of the state was stale (a change behind its back, or one it sent without learning
// how it ended) and the VM is in state want already, the call has nothing to do.
func (h *host) alreadyIn(ctx context.Context, id string, want types.VirtualMachinePowerState, err error) (*hostdv1.VmInfo, error) {
	if !isFault[*types.InvalidPowerState](err) {
		return nil, err
	}
	_, m, readErr := h.freshProps(ctx, id)
	if readErr != nil || m.Runtime.PowerState != want {
		return nil, err
	}
	h.state.put(id, m)
	return report(id, m), nil
}

// deleteVM destroys VM id; a VM that is not there is deleted already. Each step is safe
// to repeat after a crash before the next: power off, detach the persistent disks, delete
// the VM's uploaded ISO, destroy.
func (h *host) deleteVM(ctx context.Context, id string) (*hostdv1.DeleteVmResponse, error) {
	res, err := h.destroyVM(ctx, id)
	if isFault[*types.ManagedObjectNotFound](err) {
		// hostd's handle of the VM is stale (destroyed behind its back, or by a destroy
		// whose end it did not learn): forgotten now, the VM is looked up again.
		return h.destroyVM(ctx, id)
	}
	return res, err
}

func (h *host) destroyVM(ctx context.Context, id string) (_ *hostdv1.DeleteVmResponse, err error) {
	defer h.forgetOnError(id, &err)
	vm, ok, err := h.vm(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &hostdv1.DeleteVmResponse{}, nil
	}
	if _, err := h.power(ctx, id, false); err != nil {
		return nil, err
	}
	// Destroying a VM deletes every disk attached to it: persistent disks are detached
	// first so that their files stay.
	if err := h.detachPersistent(ctx, id); err != nil {
		return nil, err
	}
	_, m, err := h.vmProps(ctx, id)
	if err != nil {
		return nil, err
	}
	// An ISO uploaded for the VM (hostdv1.ISOPath) and still attached goes with it, before
	// the VM, which a repeat would no longer find it by; a VM without one costs no
	// datastore search.
	if cd := isoCdrom(object.VirtualDeviceList(m.Config.Hardware.Device)); cd != nil {
		var p object.DatastorePath
		if p.FromString(cd.Backing.(*types.VirtualCdromIsoBackingInfo).FileName) && p.Path == hostdv1.ISOPath(id) {
			if _, err := h.deleteFile(ctx, &hostdv1.DeleteFileRequest{Datastore: p.Datastore, Path: p.Path}); err != nil {
				return nil, err
			}
		}
	}
	if _, err := h.task(ctx, id, func() (*object.Task, error) { return vm.Destroy(ctx) }); err != nil {
		return nil, err
	}
	h.vms.forget(id)
	h.state.forget(id)
	return &hostdv1.DeleteVmResponse{Existed: true}, nil
}

// info reads the VM afresh and reports it as hostd.v1 describes it; what it read is the
// state the next operation on the VM starts from.
func (h *host) info(ctx context.Context, id string) (*hostdv1.VmInfo, error) {
	vm, err := h.mustVM(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := h.props(ctx, vm)
	if err != nil {
		return nil, err
	}
	h.state.put(id, m)
	return report(id, m), nil
}

// applied is m after a change hostd made and vSphere completed: the state the next
// operation starts from, without reading the VM again. m itself is left as it was.
func (h *host) applied(id string, m *mo.VirtualMachine, change func(*mo.VirtualMachine)) *mo.VirtualMachine {
	c := *m
	cfg := *m.Config
	cfg.Hardware.Device = slices.Clone(m.Config.Hardware.Device)
	cfg.ExtraConfig = slices.Clone(m.Config.ExtraConfig)
	c.Config = &cfg
	change(&c)
	h.state.put(id, &c)
	return &c
}

// report describes VM id in state m as hostd.v1 does.
func report(id string, m *mo.VirtualMachine) *hostdv1.VmInfo {
	out := &hostdv1.VmInfo{VmId: id, Name: m.Config.Annotation, PowerState: string(m.Runtime.PowerState),
		CpuCount: m.Config.Hardware.NumCPU, MemoryMb: int64(m.Config.Hardware.MemoryMB)}
	var p object.DatastorePath
	p.FromString(m.Config.Files.VmPathName)
	out.Datastore = p.Datastore
	devices := object.VirtualDeviceList(m.Config.Hardware.Device)
	for _, d := range devices.SelectByType((*types.VirtualDisk)(nil)) {
		disk := d.(*types.VirtualDisk)
		di := &hostdv1.DiskInfo{Id: diskIDOf(disk), File: diskFileOf(disk), CapacityKb: disk.CapacityInKB,
			Boot: isBoot(disk), Persistent: isPersistent(diskFileOf(disk))}
		if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && b.Parent != nil {
			di.Parent = b.Parent.FileName
		}
		out.Disks = append(out.Disks, di)
	}
	if cd := isoCdrom(devices); cd != nil {
		out.Iso = cd.Backing.(*types.VirtualCdromIsoBackingInfo).FileName
	}
	for _, o := range m.Config.ExtraConfig {
		v := o.GetOptionValue()
		if v == nil || !strings.HasPrefix(v.Key, "photon.nic.") {
			continue
		}
		mac, _ := v.Value.(string)
		if nic := findNIC(devices, mac); nic != nil {
			ni := &hostdv1.NicInfo{Id: strings.TrimPrefix(v.Key, "photon.nic."), MacAddress: mac, IpAddress: guestIP(m, mac)}
			if b, ok := nic.GetVirtualDevice().Backing.(*types.VirtualEthernetCardNetworkBackingInfo); ok {
				ni.Network = b.DeviceName
			}
			out.Nics = append(out.Nics, ni)
		}
	}
	return out
}

// guestIP is the first address the guest reports for the adapter with the given MAC, an
// IPv4 one if it has any; empty when the guest reports none (no VMware Tools, not booted).
func guestIP(m *mo.VirtualMachine, mac string) string {
	if m.Guest == nil {
		return ""
	}
	for _, n := range m.Guest.Net {
		if !strings.EqualFold(n.MacAddress, mac) || len(n.IpAddress) == 0 {
			continue
		}
		for _, ip := range n.IpAddress {
			if !strings.Contains(ip, ":") {
				return ip
			}
		}
		return n.IpAddress[0]
	}
	return ""
}

// resources reads the host's capacity, usage, datastores (with the image disks under
// images/ on each), networks, VM count and the VMs' power states (a VM's vSphere name is
// its Photon id).
func (h *host) resources(ctx context.Context) (*hostdv1.Resources, error) {
	var hs mo.HostSystem
	pc := property.DefaultCollector(h.c)
	if err := pc.RetrieveOne(ctx, h.system.Reference(), []string{"name", "summary", "datastore", "network"}, &hs); err != nil {
		return nil, err
	}
	out := &hostdv1.Resources{HostName: hs.Name}
	vms, err := h.folderVMs(ctx, pc, "name", "runtime.powerState")
	if err != nil {
		return nil, err
	}
	out.VmCount = int32(len(vms))
	for _, vm := range vms {
		out.VmPowers = append(out.VmPowers, &hostdv1.VmPower{VmId: vm.Name, PowerState: string(vm.Runtime.PowerState)})
	}
	if hw := hs.Summary.Hardware; hw != nil {
		out.CpuCores, out.CpuMhz, out.MemoryMb = int32(hw.NumCpuCores), int64(hw.CpuMhz)*int64(hw.NumCpuCores), hw.MemorySize>>20
	}
	out.CpuUsedMhz, out.MemoryUsedMb = int64(hs.Summary.QuickStats.OverallCpuUsage), int64(hs.Summary.QuickStats.OverallMemoryUsage)
	if len(hs.Datastore) > 0 {
		var dss []mo.Datastore
		if err := pc.Retrieve(ctx, hs.Datastore, []string{"summary", "browser"}, &dss); err != nil {
			return nil, err
		}
		for _, ds := range dss {
			d := &hostdv1.Datastore{Id: ds.Reference().Value, Name: ds.Summary.Name, Type: ds.Summary.Type,
				CapacityBytes: ds.Summary.Capacity, FreeBytes: ds.Summary.FreeSpace,
				Shared: ds.Summary.MultipleHostAccess != nil && *ds.Summary.MultipleHostAccess}
			d.Images = h.images(ctx, object.NewHostDatastoreBrowser(h.c, ds.Browser), ds.Summary.Name)
			out.Datastores = append(out.Datastores, d)
		}
	}
	if len(hs.Network) > 0 {
		var nets []mo.Network
		if err := pc.Retrieve(ctx, hs.Network, []string{"name"}, &nets); err != nil {
			return nil, err
		}
		for _, n := range nets {
			out.Networks = append(out.Networks, n.Name)
		}
	}
	return out, nil
}

// images lists the *.vmdk files under images/ on a datastore (none if the folder is missing).
func (h *host) images(ctx context.Context, b *object.HostDatastoreBrowser, ds string) []string {
	// A search reads the datastore's record as a create or delete does.
	release, err := h.fileOp(ctx)
	if err != nil {
		return nil
	}
	defer release()
	t, err := b.SearchDatastore(ctx, fmt.Sprintf("[%s] images", ds), &types.HostDatastoreBrowserSearchSpec{
		MatchPattern: []string{"*.vmdk"}})
	if err != nil {
		return nil
	}
	res, err := h.wait(ctx, t)
	if err != nil || res == nil {
		return nil
	}
	r, ok := res.Result.(types.HostDatastoreBrowserSearchResults)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range r.File {
		if f == nil || f.GetFileInfo() == nil {
			continue
		}
		if name := f.GetFileInfo().Path; strings.HasSuffix(name, ".vmdk") && !strings.HasSuffix(name, "-flat.vmdk") {
			out = append(out, "images/"+name)
		}
	}
	return out
}
