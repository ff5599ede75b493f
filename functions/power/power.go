// Package power runs the VM power operations (start, stop, restart, suspend, resume) on
// the VM's host and records the power state the host reports, so the VM record stays true
// to the host even when the operation fails half way. It also makes a resize's last step:
// the host reconfigures the VM to its new flavor's size (RECONFIGURE_VM).
//
// Consumes: io.photon.vm.{start,stop,restart,suspend,resume}.authorized,
// io.photon.vm.resize.host.resized.
// Emits: io.photon.vm.start.started, io.photon.vm.stop.stopped,
// io.photon.vm.restart.restarted, io.photon.vm.suspend.suspended,
// io.photon.vm.resume.resumed, io.photon.vm.resize.reconfigured.
// Undoes: nothing (a power operation is its own undo; the gateway only starts one that the
// VM's state allows). Idempotency: hostd's power calls succeed on a VM already in the
// wanted state, so a replayed event changes nothing.
package power

import (
	"context"
	"fmt"

	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the power step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
}

// New returns the power function.
func New(s *store.Store, hosts *hostclient.Pool) *Function { return &Function{store: s, hosts: hosts} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "power" }

// An action is what one operation asks of hostd.
type action func(ctx context.Context, h hostdv1.HostClient, ref *hostdv1.VmRef) (*hostdv1.VmInfo, error)

func on(ctx context.Context, h hostdv1.HostClient, ref *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return h.PowerOn(ctx, ref)
}

func off(ctx context.Context, h hostdv1.HostClient, ref *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return h.PowerOff(ctx, ref)
}

// actions are the operations by Task operation.
var actions = map[domain.Op]action{
	domain.OpStartVM:   on,
	domain.OpStopVM:    off,
	domain.OpResumeVM:  on,
	domain.OpRestartVM: restart,
	domain.OpSuspendVM: suspend,
}

// Do runs the operation on the VM's host and records the state the host answers.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	if c.Operation() == domain.OpReconfigureVM {
		return f.reconfigure(ctx, c)
	}
	act, ok := actions[c.Operation()]
	if !ok {
		return errs.Invalid("power cannot run %s", c.Operation())
	}
	id := c.Data.EntityID
	var info *hostdv1.VmInfo
	placed, err := f.hosts.OnVMHost(ctx, id, op(c.Operation()), func(h hostdv1.HostClient, _ model.HostReservation) error {
		var err error
		info, err = act(ctx, h, &hostdv1.VmRef{VmId: id})
		if err != nil && errs.IsPermanent(err) {
			// The host refused: keep the record true to what the host has now.
			if now, gerr := h.GetVm(ctx, &hostdv1.VmRef{VmId: id}); gerr == nil {
				info = now
			}
		}
		return err
	})
	if !placed && err == nil {
		return errs.New(errs.CodeStateError, "Vm #%s is on no host", id)
	}
	if info != nil {
		if serr := f.record(ctx, id, info.GetPowerState()); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

// reconfigure gives the VM on its host the size of the resize's flavor, then records the
// new flavor on the VM (a resize's last step).
func (f *Function) reconfigure(ctx context.Context, c *runtime.Call) error {
	r, err := store.ResizeOf(c.Task)
	if err != nil {
		return err
	}
	if _, err := f.hosts.OnVMHost(ctx, c.Data.EntityID, "reconfigure VM", func(h hostdv1.HostClient, _ model.HostReservation) error {
		_, err := h.Reconfigure(ctx, &hostdv1.ReconfigureRequest{VmId: c.Data.EntityID, CpuCount: r.CPU, MemoryMb: r.MemoryMB})
		return err
	}); err != nil {
		return err
	}
	return f.store.Resized(ctx, c.Data.EntityID, r)
}

// Undo has nothing to undo.
func (f *Function) Undo(context.Context, *runtime.Call) error { return nil }

// record writes the state the host reports, as domain.VMObserved decides.
func (f *Function) record(ctx context.Context, id, powerState string) error {
	_, err := store.Update(ctx, f.store, model.KindVM, id, func(v *model.VM) error {
		next, ok := domain.VMObserved(v.State, powerState)
		if !ok {
			return store.ErrNoChange
		}
		v.State = next
		return nil
	})
	return err
}

func op(operation domain.Op) string {
	switch operation {
	case domain.OpStartVM, domain.OpResumeVM:
		return "power on VM"
	case domain.OpStopVM:
		return "power off VM"
	case domain.OpRestartVM:
		return "restart VM"
	case domain.OpSuspendVM:
		return "suspend VM"
	}
	return fmt.Sprintf("%s on VM", operation)
}

func restart(ctx context.Context, h hostdv1.HostClient, ref *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return h.Reset(ctx, ref)
}

func suspend(ctx context.Context, h hostdv1.HostClient, ref *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return h.Suspend(ctx, ref)
}
