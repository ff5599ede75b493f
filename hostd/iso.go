package hostd

import (
	"context"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// ISO images in a VM's CD-ROM. A VM has one CD-ROM at most as hostd sees it: the first.
// Detaching leaves the CD-ROM in place with an empty client-device backing, as Photon's
// agent did, so a later attach only changes the backing (which works on a running VM,
// where adding an IDE device does not).

// isoCdrom is the VM's first CD-ROM if an ISO file backs it.
func isoCdrom(devices object.VirtualDeviceList) *types.VirtualCdrom {
	cd, err := devices.FindCdrom("")
	if err != nil {
		return nil
	}
	if _, ok := cd.Backing.(*types.VirtualCdromIsoBackingInfo); !ok {
		return nil
	}
	return cd
}

func (h *host) attachISO(ctx context.Context, r *hostdv1.AttachIsoRequest) (_ *hostdv1.VmInfo, err error) {
	id := r.GetVmId()
	defer h.forgetOnError(id, &err)
	p := r.GetPath()
	ds, err := h.datastore(ctx, r.GetDatastore())
	if err != nil {
		return nil, err
	}
	file := ds.Path(p)
	vm, m, err := h.freshProps(ctx, id) // editing the CD-ROM needs the key vSphere gave it
	if err != nil {
		return nil, err
	}
	devices := object.VirtualDeviceList(m.Config.Hardware.Device)
	if cd := isoCdrom(devices); cd != nil && cd.Backing.(*types.VirtualCdromIsoBackingInfo).FileName == file {
		h.state.put(id, m)
		return report(id, m), nil
	}
	if _, ok, err := h.exists(ctx, ds, p); err != nil {
		return nil, err
	} else if !ok {
		return nil, status.Errorf(codes.NotFound, "ISO file %s not found", file)
	}
	op := types.VirtualDeviceConfigSpecOperationEdit
	cd, err := devices.FindCdrom("")
	if err != nil { // no CD-ROM yet
		ide, err := devices.FindIDEController("")
		if err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "VM %s has no CD-ROM and no free IDE controller slot: %v", id, err)
		}
		if cd, err = devices.CreateCdrom(ide); err != nil {
			return nil, err
		}
		op = types.VirtualDeviceConfigSpecOperationAdd
	}
	devices.InsertIso(cd, file)
	on := m.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn
	cd.Connectable = &types.VirtualDeviceConnectInfo{StartConnected: true, Connected: on, AllowGuestControl: true}
	if err := h.reconfigure(ctx, vm, deviceChange(op, "", cd)); err != nil {
		return nil, err
	}
	return h.info(ctx, id)
}

func (h *host) detachISO(ctx context.Context, id string) (_ *hostdv1.VmInfo, err error) {
	defer h.forgetOnError(id, &err)
	vm, m, err := h.freshProps(ctx, id)
	if err != nil {
		return nil, err
	}
	cd := isoCdrom(m.Config.Hardware.Device)
	if cd == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "VM %s has no ISO attached", id)
	}
	cd.Backing = &types.VirtualCdromRemotePassthroughBackingInfo{}
	cd.Connectable = &types.VirtualDeviceConnectInfo{AllowGuestControl: true}
	if err := h.reconfigure(ctx, vm, deviceChange(types.VirtualDeviceConfigSpecOperationEdit, "", cd)); err != nil {
		return nil, err
	}
	return h.info(ctx, id)
}

// mksTicket acquires a console ticket of a powered-on VM, its power state read afresh.
func (h *host) mksTicket(ctx context.Context, id string) (*hostdv1.MksTicket, error) {
	vm, m, err := h.freshProps(ctx, id)
	if err != nil {
		return nil, err
	}
	if m.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
		return nil, status.Errorf(codes.FailedPrecondition, "VM %s is %s: a console ticket needs it powered on", id, m.Runtime.PowerState)
	}
	t, err := vm.AcquireTicket(ctx, "mks")
	if err != nil {
		return nil, err
	}
	return &hostdv1.MksTicket{Ticket: t.Ticket, Host: t.Host, Port: t.Port, SslThumbprint: t.SslThumbprint, CfgFile: t.CfgFile}, nil
}
