// Package boot is the VM create chain's last step: it powers the new VM on (unless it was
// created to stay off) and records the state the host then reports (domain.VMObserved);
// its undo powers the VM off, which is also how the delete chain stops a VM first.
// Power operations on an existing VM are package power's.
//
// Consumes: io.photon.vm.create.subnet.wired; undo: io.photon.vm.create.undo.boot; as
// the delete chain's STOP_VM step: io.photon.vm.delete.authorized.
// Emits: io.photon.vm.create.powered.on / io.photon.vm.delete.powered.off.
// Undoes: the power-on. Idempotency: hostd's power calls succeed on a VM already in the
// wanted state; a VM its host does not have is powered off already.
package boot

import (
	"context"

	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the boot step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
}

// New returns the boot function.
func New(s *store.Store, hosts *hostclient.Pool) *Function { return &Function{store: s, hosts: hosts} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "boot" }

// Do powers the VM on and records the power state its host answers with; a VM created
// to stay off (or on no host) is recorded powered off.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	vm, raw, err := store.GetRaw[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	power := domain.PowerOff
	if vm.PowerOn {
		_, err := f.hosts.OnVMHost(ctx, vm.ID, "power on VM", func(h hostdv1.HostClient, _ model.HostReservation) error {
			info, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: vm.ID})
			power = info.GetPowerState()
			return err
		})
		if err != nil {
			return err
		}
	}
	return f.setState(ctx, vm.ID, raw, power)
}

// Undo powers the VM off.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	gone := false
	ok, err := f.hosts.OnVMHost(ctx, c.Data.EntityID, "power off VM", func(h hostdv1.HostClient, _ model.HostReservation) error {
		_, err := h.PowerOff(ctx, &hostdv1.VmRef{VmId: c.Data.EntityID})
		if hostclient.VMGone(err) {
			gone = true // not on its host (the reconciler put it in ERROR): nothing runs
			return nil
		}
		return err
	})
	if err != nil || !ok || gone {
		return err
	}
	return f.setState(ctx, c.Data.EntityID, nil, domain.PowerOff)
}

// setState records the state of the VM whose host reports power, starting from raw if
// the VM was just read.
func (f *Function) setState(ctx context.Context, id string, raw []byte, power string) error {
	_, _, err := store.UpdateFrom(ctx, f.store, model.KindVM, id, raw, func(v *model.VM) error {
		next, ok := domain.VMObserved(v.State, power)
		if !ok {
			return store.ErrNoChange
		}
		v.State = next
		return nil
	})
	return err
}
