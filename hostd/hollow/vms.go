package hollow

import (
	"context"
	"maps"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// power is a VM's power state.
type power uint8

const (
	poweredOff power = iota
	poweredOn
	suspended
)

func (p power) String() string {
	return [...]string{poweredOff: "poweredOff", poweredOn: "poweredOn", suspended: "suspended"}[p]
}

// vm is one VM: what hostd.v1 reports of it and no more. Its files are not kept apart:
// its folder "<name>/" on its datastore holds its boot disk "<name>.vmdk" and ephemeral
// disks "<disk id>.vmdk" (datastore.exists).
type vm struct {
	name       string // vSphere name: the Photon id of a VM hostd made
	photon     bool   // made by hostd (its photon.vmId)
	annotation string // the create's name
	ds         *datastore
	image      string // the boot disk's parent on ds; none for a VM made beside hostd
	cpus       int32
	memMB      int32
	power      power
	cdrom      bool // a CD-ROM, once an ISO was attached
	boots      uint32
	disks      []disk // attached besides the boot disk, in attach order
	nics       []nic
	isoDS      *datastore
	iso        string            // path on isoDS of the ISO in the CD-ROM
	guest      map[string]string // guestinfo.* of the create
}

type disk struct {
	id    string
	ds    *datastore // a persistent disk's ("disks/<id>.vmdk"); nil: ephemeral, in the VM's folder
	capKB int64
}

type nic struct{ id, mac, network, ip string }

func (d disk) file(v *vm) string {
	if d.ds != nil {
		return d.ds.path(hostd.PersistentDiskPath(d.id))
	}
	return v.ds.path(v.name + "/" + d.id + ".vmdk")
}

// bootFile is the VM's boot disk, a linked clone of its image.
func (v *vm) bootFile() string { return v.ds.path(v.name + "/" + v.name + ".vmdk") }

func (v *vm) findDisk(id string) int {
	return slices.IndexFunc(v.disks, func(d disk) bool { return d.id == id })
}

func (v *vm) findNIC(id string) int {
	return slices.IndexFunc(v.nics, func(n nic) bool { return n.id == id })
}

// report describes the VM as hostd.v1 does.
func (v *vm) report() *hostdv1.VmInfo {
	out := &hostdv1.VmInfo{VmId: v.name, Name: v.annotation, PowerState: v.power.String(), CpuCount: v.cpus,
		MemoryMb: int64(v.memMB), Datastore: v.ds.name}
	if v.image != "" {
		out.Disks = append(out.Disks, &hostdv1.DiskInfo{Id: hostd.BootDiskID, File: v.bootFile(), CapacityKb: v.ds.capKB(v.image),
			Boot: true, Parent: v.ds.path(v.image)})
	}
	for _, d := range v.disks {
		out.Disks = append(out.Disks, &hostdv1.DiskInfo{Id: d.id, File: d.file(v), CapacityKb: d.capKB, Persistent: d.ds != nil})
	}
	if v.iso != "" {
		out.Iso = v.isoDS.path(v.iso)
	}
	for _, n := range v.nics {
		out.Nics = append(out.Nics, &hostdv1.NicInfo{Id: n.id, MacAddress: n.mac, IpAddress: n.ip, Network: n.network})
	}
	return out
}

// vmCall runs f on VM r's id under the host's lock, after the call's latency.
func vmCall[T any](ctx context.Context, h *Host, op string, id string, f func(*vm) (T, error)) (T, error) {
	var zero T
	unlock, err := h.begin(ctx, op)
	if err != nil {
		return zero, err
	}
	defer unlock()
	v, err := h.mustVM(id)
	if err != nil {
		return zero, err
	}
	return f(v)
}

// CreateVm makes the VM with a boot disk that is a child of the image disk, unless the
// host has a VM of that id already, which it reports as it is.
func (h *Host) CreateVm(ctx context.Context, r *hostdv1.CreateVmRequest) (*hostdv1.VmInfo, error) {
	unlock, err := h.begin(ctx, "CreateVm")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if v, ok := h.vms[r.GetVmId()]; ok {
		return v.report(), nil
	}
	ds, err := h.datastore(r.GetDatastore())
	if err != nil {
		return nil, err
	}
	image, ok := ds.files[r.GetImagePath()]
	if !ok || image.dir {
		return nil, status.Errorf(codes.NotFound, "image disk %s not found", ds.path(r.GetImagePath()))
	}
	v := &vm{name: r.GetVmId(), photon: true, annotation: r.GetName(), ds: ds, image: ds.key(r.GetImagePath()),
		cpus: r.GetCpuCount(), memMB: int32(r.GetMemoryMb())}
	if len(r.GetGuestInfo()) > 0 {
		v.guest = maps.Clone(r.GetGuestInfo())
	}
	h.vms[v.name] = v
	return v.report(), nil
}

func (h *Host) GetVm(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "GetVm", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) { return v.report(), nil })
}

func (h *Host) PowerOn(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "PowerOn", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		if v.power != poweredOn { // a suspended VM resumes
			v.power = poweredOn
			v.boots++
		}
		return v.report(), nil
	})
}

func (h *Host) PowerOff(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "PowerOff", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		v.power = poweredOff
		return v.report(), nil
	})
}

func (h *Host) Suspend(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "Suspend", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		if v.power == poweredOff {
			return nil, status.Errorf(codes.FailedPrecondition, "VM %s is powered off: only a powered-on VM can be suspended", v.name)
		}
		v.power = suspended
		return v.report(), nil
	})
}

// Reset restarts a powered-on VM: a repeat restarts it again, as on vSphere.
func (h *Host) Reset(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "Reset", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		if v.power != poweredOn {
			return nil, status.Errorf(codes.FailedPrecondition, "VM %s is %s: only a powered-on VM can be reset", v.name, v.power)
		}
		v.boots++
		return v.report(), nil
	})
}

func (h *Host) Reconfigure(ctx context.Context, r *hostdv1.ReconfigureRequest) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "Reconfigure", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		cpus, mem := v.cpus, v.memMB
		if r.GetCpuCount() > 0 {
			cpus = r.GetCpuCount()
		}
		if r.GetMemoryMb() > 0 {
			mem = int32(r.GetMemoryMb())
		}
		if cpus == v.cpus && mem == v.memMB {
			return v.report(), nil
		}
		if v.power != poweredOff {
			return nil, status.Errorf(codes.FailedPrecondition, "VM %s is %s: only a powered-off VM can be resized", v.name, v.power)
		}
		v.cpus, v.memMB = cpus, mem
		return v.report(), nil
	})
}

// DeleteVm destroys the VM, with its ephemeral disks and the ISO uploaded for it if it is
// in its CD-ROM; its persistent disks are detached and kept.
func (h *Host) DeleteVm(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.DeleteVmResponse, error) {
	unlock, err := h.begin(ctx, "DeleteVm")
	if err != nil {
		return nil, err
	}
	defer unlock()
	v, ok := h.vms[r.GetVmId()]
	if !ok {
		return &hostdv1.DeleteVmResponse{}, nil
	}
	for _, d := range v.disks {
		if d.ds == nil {
			v.ds.used -= d.capKB << 10
		}
	}
	if v.iso == hostdv1.ISOPath(v.name) {
		v.isoDS.remove(v.iso)
	}
	delete(h.vms, v.name)
	return &hostdv1.DeleteVmResponse{Existed: true}, nil
}

func (h *Host) GetMksTicket(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.MksTicket, error) {
	return vmCall(ctx, h, "GetMksTicket", r.GetVmId(), func(v *vm) (*hostdv1.MksTicket, error) {
		if v.power != poweredOn {
			return nil, status.Errorf(codes.FailedPrecondition, "VM %s is %s: a console ticket needs it powered on", v.name, v.power)
		}
		return nil, status.Error(codes.Unimplemented, "a hollow host runs no VM console")
	})
}

// AttachDisk adds an ephemeral disk in the VM's folder, unless the VM has a disk of that
// id.
func (h *Host) AttachDisk(ctx context.Context, r *hostdv1.AttachDiskRequest) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "AttachDisk", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		if v.findDisk(r.GetDiskId()) < 0 {
			if r.GetDiskId() == v.name {
				return nil, status.Errorf(codes.AlreadyExists, "file %s exists: it is VM %s's boot disk", v.bootFile(), v.name)
			}
			d := disk{id: r.GetDiskId(), capKB: max(r.GetCapacityGb(), 1) << 20}
			v.disks = append(v.disks, d)
			v.ds.used += d.capKB << 10
		}
		return v.report(), nil
	})
}

// DetachDisk removes a disk from the VM: an ephemeral disk's file goes with it, a
// persistent disk's stays.
func (h *Host) DetachDisk(ctx context.Context, r *hostdv1.DetachDiskRequest) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "DetachDisk", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		if r.GetDiskId() == hostd.BootDiskID && v.image != "" {
			return nil, status.Errorf(codes.FailedPrecondition, "disk %s of VM %s is its boot disk: it cannot be detached", r.GetDiskId(), v.name)
		}
		if i := v.findDisk(r.GetDiskId()); i >= 0 {
			if d := v.disks[i]; d.ds == nil {
				v.ds.used -= d.capKB << 10
			}
			v.disks = slices.Delete(v.disks, i, i+1)
		}
		return v.report(), nil
	})
}

func (h *Host) AddNic(ctx context.Context, r *hostdv1.AddNicRequest) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "AddNic", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		if v.findNIC(r.GetNicId()) >= 0 {
			return v.report(), nil
		}
		if !h.nets[r.GetNetwork()] {
			return nil, status.Errorf(codes.NotFound, "network %q not found on this host", r.GetNetwork())
		}
		v.nics = append(v.nics, nic{id: r.GetNicId(), mac: r.GetMacAddress(), network: r.GetNetwork()})
		return v.report(), nil
	})
}

func (h *Host) RemoveNic(ctx context.Context, r *hostdv1.RemoveNicRequest) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "RemoveNic", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		if i := v.findNIC(r.GetNicId()); i >= 0 {
			v.nics = slices.Delete(v.nics, i, i+1)
		}
		return v.report(), nil
	})
}

func (h *Host) AttachIso(ctx context.Context, r *hostdv1.AttachIsoRequest) (*hostdv1.VmInfo, error) {
	unlock, err := h.begin(ctx, "AttachIso")
	if err != nil {
		return nil, err
	}
	defer unlock()
	ds, err := h.datastore(r.GetDatastore())
	if err != nil {
		return nil, err
	}
	v, err := h.mustVM(r.GetVmId())
	if err != nil {
		return nil, err
	}
	if v.isoDS == ds && v.iso == r.GetPath() {
		return v.report(), nil
	}
	if f, ok := ds.files[r.GetPath()]; !ok || f.dir {
		return nil, status.Errorf(codes.NotFound, "ISO file %s not found", ds.path(r.GetPath()))
	}
	v.isoDS, v.iso, v.cdrom = ds, ds.key(r.GetPath()), true
	return v.report(), nil
}

// DetachIso empties the VM's CD-ROM, which stays.
func (h *Host) DetachIso(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return vmCall(ctx, h, "DetachIso", r.GetVmId(), func(v *vm) (*hostdv1.VmInfo, error) {
		if v.iso == "" {
			return nil, status.Errorf(codes.FailedPrecondition, "VM %s has no ISO attached", v.name)
		}
		v.isoDS, v.iso = nil, ""
		return v.report(), nil
	})
}
