package hostd

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// Persistent disks: files of their own at "disks/<disk id>.vmdk" on a datastore, created
// and deleted by id, attached to and detached from VMs without being created or deleted
// with them. Calls on one disk are serialised by its key (diskKey); an attach holds its
// VM's key and then the disk's, a delete only the disk's, so the two never wait on each
// other in opposite orders.

func diskKey(ds, id string) string { return "disk:[" + ds + "] " + id }

func (h *host) createDisk(ctx context.Context, r *hostdv1.CreateDiskRequest) (*hostdv1.DiskInfo, error) {
	ds, err := h.datastore(ctx, r.GetDatastore())
	if err != nil {
		return nil, err
	}
	if err := h.makeDir(ctx, ds, "disks"); err != nil {
		return nil, err
	}
	file := ds.Path(PersistentDiskPath(r.GetDiskId()))
	t, err := object.NewVirtualDiskManager(h.c).CreateVirtualDisk(ctx, file, h.dc, &types.FileBackedVirtualDiskSpec{
		VirtualDiskSpec: types.VirtualDiskSpec{DiskType: string(types.VirtualDiskTypeThin),
			AdapterType: string(types.VirtualDiskAdapterTypeLsiLogic)},
		CapacityKb: r.GetCapacityGb() * 1024 * 1024})
	if err != nil {
		return nil, err
	}
	if _, err := h.wait(ctx, t); err != nil && !isFault[*types.FileAlreadyExists](err) {
		return nil, err
	}
	// A disk that existed already is reported with the capacity asked for: the id names
	// the disk, and a create is not a resize.
	return &hostdv1.DiskInfo{Id: r.GetDiskId(), File: file, CapacityKb: r.GetCapacityGb() * 1024 * 1024, Persistent: true}, nil
}

func (h *host) deleteDisk(ctx context.Context, r *hostdv1.DiskRef) (*hostdv1.DeleteDiskResponse, error) {
	ds, err := h.datastore(ctx, r.GetDatastore())
	if err != nil {
		return nil, err
	}
	file := ds.Path(PersistentDiskPath(r.GetDiskId()))
	vm, err := h.diskUser(ctx, file)
	if err != nil {
		return nil, err
	}
	if vm != "" {
		return nil, status.Errorf(codes.FailedPrecondition, "disk %s is attached to VM %s: detach it first", file, vm)
	}
	t, err := object.NewVirtualDiskManager(h.c).DeleteVirtualDisk(ctx, file, h.dc)
	if err != nil {
		return nil, err
	}
	if _, err := h.wait(ctx, t); err != nil {
		if isFault[*types.FileNotFound](err) {
			return &hostdv1.DeleteDiskResponse{}, nil
		}
		return nil, err
	}
	return &hostdv1.DeleteDiskResponse{Existed: true}, nil
}

// diskUser is the name of a VM on the host that has the disk file attached, if any. It
// reads every VM's devices (a container view of the inventory): deleting a disk is rare,
// and what hostd remembers does not cover VMs it has not touched since it started.
func (h *host) diskUser(ctx context.Context, file string) (string, error) {
	v, err := view.NewManager(h.c).CreateContainerView(ctx, h.c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return "", err
	}
	defer v.Destroy(context.WithoutCancel(ctx))
	var vms []mo.VirtualMachine
	if err := v.Retrieve(ctx, []string{"VirtualMachine"}, []string{"name", "config.hardware.device"}, &vms); err != nil {
		return "", err
	}
	for _, vm := range vms {
		if vm.Config == nil {
			continue
		}
		for _, d := range object.VirtualDeviceList(vm.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
			if diskFileOf(d.(*types.VirtualDisk)) == file {
				return vm.Name, nil
			}
		}
	}
	return "", nil
}

// attachPersistentDisk adds the existing disk file to the VM, creating nothing.
func (h *host) attachPersistentDisk(ctx context.Context, r *hostdv1.AttachPersistentDiskRequest) (_ *hostdv1.VmInfo, err error) {
	defer h.forgetOnError(r.GetVmId(), &err)
	vm, m, err := h.vmProps(ctx, r.GetVmId())
	if err != nil {
		return nil, err
	}
	ds, err := h.datastore(ctx, r.GetDatastore())
	if err != nil {
		return nil, err
	}
	file := ds.Path(PersistentDiskPath(r.GetDiskId()))
	devices := object.VirtualDeviceList(m.Config.Hardware.Device)
	if disk := findDisk(devices, r.GetDiskId()); disk != nil {
		if diskFileOf(disk) == file {
			return report(r.GetVmId(), m), nil
		}
		return nil, status.Errorf(codes.AlreadyExists, "VM %s has another disk named %s (%s)", r.GetVmId(), r.GetDiskId(), diskFileOf(disk))
	}
	ctrl, err := devices.FindDiskController("scsi")
	if err != nil {
		return nil, err
	}
	disk := devices.CreateDisk(ctrl, ds.Reference(), file)
	// The file says how it is provisioned and how large it is.
	disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ThinProvisioned = nil
	if err := h.reconfigure(ctx, vm, deviceChange(types.VirtualDeviceConfigSpecOperationAdd, "", disk)); err != nil {
		return nil, err
	}
	m = h.applied(r.GetVmId(), m, func(m *mo.VirtualMachine) { m.Config.Hardware.Device = append(m.Config.Hardware.Device, disk) })
	return report(r.GetVmId(), m), nil
}

// detachPersistent detaches every persistent disk of VM id, keeping their files. Most VMs
// have none, which what hostd knows of the VM tells without reading it again.
func (h *host) detachPersistent(ctx context.Context, id string) error {
	_, m, err := h.vmProps(ctx, id)
	if err != nil {
		return err
	}
	if !hasPersistent(m) {
		return nil
	}
	vm, m, err := h.freshProps(ctx, id) // removing needs the device keys vSphere gave
	if err != nil {
		return err
	}
	var spec types.VirtualMachineConfigSpec
	for _, d := range object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		if isPersistent(diskFileOf(d.(*types.VirtualDisk))) {
			spec.DeviceChange = append(spec.DeviceChange, &types.VirtualDeviceConfigSpec{
				Operation: types.VirtualDeviceConfigSpecOperationRemove, Device: d})
		}
	}
	if len(spec.DeviceChange) == 0 {
		return nil
	}
	if err := h.reconfigure(ctx, vm, spec); err != nil {
		return fmt.Errorf("detach persistent disks of VM %s: %w", id, err)
	}
	return nil
}

func hasPersistent(m *mo.VirtualMachine) bool {
	for _, d := range object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil)) {
		if isPersistent(diskFileOf(d.(*types.VirtualDisk))) {
			return true
		}
	}
	return false
}
