package hostd

import (
	"context"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// Power operations beyond on and off, and changes of a VM's size.

// suspend suspends a powered-on VM. The power state it starts from is what hostd knows;
// when the VM changed behind hostd's back (a guest shutdown), vSphere refuses with
// InvalidPowerState, which is FailedPrecondition too, and the next call reads it afresh.
func (h *host) suspend(ctx context.Context, id string) (_ *hostdv1.VmInfo, err error) {
	defer h.forgetOnError(id, &err)
	vm, m, err := h.vmProps(ctx, id)
	if err != nil {
		return nil, err
	}
	switch m.Runtime.PowerState {
	case types.VirtualMachinePowerStateSuspended:
		return report(id, m), nil
	case types.VirtualMachinePowerStatePoweredOff:
		return nil, status.Errorf(codes.FailedPrecondition, "VM %s is powered off: only a powered-on VM can be suspended", id)
	}
	t, err := vm.Suspend(ctx)
	if err == nil {
		_, err = h.wait(ctx, t)
	}
	if err != nil {
		return h.alreadyIn(ctx, id, types.VirtualMachinePowerStateSuspended, err)
	}
	m = h.applied(id, m, func(m *mo.VirtualMachine) { m.Runtime.PowerState = types.VirtualMachinePowerStateSuspended })
	return report(id, m), nil
}

// reset restarts a powered-on VM. Unlike the other calls it is an action: a repeated
// reset restarts the VM again, which a caller retrying a reset wants anyway.
func (h *host) reset(ctx context.Context, id string) (_ *hostdv1.VmInfo, err error) {
	defer h.forgetOnError(id, &err)
	vm, m, err := h.vmProps(ctx, id)
	if err != nil {
		return nil, err
	}
	if s := m.Runtime.PowerState; s != types.VirtualMachinePowerStatePoweredOn {
		return nil, status.Errorf(codes.FailedPrecondition, "VM %s is %s: only a powered-on VM can be reset", id, s)
	}
	t, err := vm.Reset(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := h.wait(ctx, t); err != nil {
		return nil, err
	}
	return report(id, m), nil
}

// reconfigureSize sets the CPU count and memory of a powered-off VM. The power state is
// read afresh: vSphere itself would hot-add CPUs or memory to a running VM that allows
// it, which is not what a Photon resize of a stopped VM means.
func (h *host) reconfigureSize(ctx context.Context, r *hostdv1.ReconfigureRequest) (_ *hostdv1.VmInfo, err error) {
	id := r.GetVmId()
	defer h.forgetOnError(id, &err)
	vm, m, err := h.freshProps(ctx, id)
	if err != nil {
		return nil, err
	}
	h.state.put(id, m)
	var spec types.VirtualMachineConfigSpec
	if n := r.GetCpuCount(); n > 0 && n != m.Config.Hardware.NumCPU {
		spec.NumCPUs = n
	}
	if mb := r.GetMemoryMb(); mb > 0 && mb != int64(m.Config.Hardware.MemoryMB) {
		spec.MemoryMB = mb
	}
	if spec.NumCPUs == 0 && spec.MemoryMB == 0 {
		return report(id, m), nil
	}
	if s := m.Runtime.PowerState; s != types.VirtualMachinePowerStatePoweredOff {
		return nil, status.Errorf(codes.FailedPrecondition, "VM %s is %s: only a powered-off VM can be resized", id, s)
	}
	if err := h.reconfigure(ctx, vm, spec); err != nil {
		return nil, err
	}
	m = h.applied(id, m, func(m *mo.VirtualMachine) {
		if spec.NumCPUs > 0 {
			m.Config.Hardware.NumCPU = spec.NumCPUs
		}
		if spec.MemoryMB > 0 {
			m.Config.Hardware.MemoryMB = int32(spec.MemoryMB)
		}
	})
	return report(id, m), nil
}
