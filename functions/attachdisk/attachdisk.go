// Package attachdisk creates the VM's ephemeral disks (every attached disk but the boot
// disk) on its host; its undo detaches and deletes them.
//
// Consumes: io.photon.vm.create.host.created; undo: io.photon.vm.create.undo.attachdisk.
// Emits: io.photon.vm.create.disks.attached.
// Undoes: the disks it attached. Idempotency: hostd attaches by disk id, so a replay
// finds the disk attached and adds nothing.
package attachdisk

import (
	"context"

	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the attachdisk step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
}

// New returns the attachdisk function.
func New(s *store.Store, hosts *hostclient.Pool) *Function { return &Function{store: s, hosts: hosts} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "attachdisk" }

// Do attaches each non-boot disk and marks the disks ATTACHED.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	return f.each(ctx, c, "ATTACHED", func(h hostdv1.HostClient, vm *model.VM, d model.Disk) error {
		_, err := h.AttachDisk(ctx, &hostdv1.AttachDiskRequest{VmId: vm.ID, DiskId: d.ID, CapacityGb: int64(d.CapacityGB)})
		return err
	})
}

// Undo detaches and deletes the disks Do attached.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	return f.each(ctx, c, "DETACHED", func(h hostdv1.HostClient, vm *model.VM, d model.Disk) error {
		_, err := h.DetachDisk(ctx, &hostdv1.DetachDiskRequest{VmId: vm.ID, DiskId: d.ID})
		if hostclient.VMGone(err) {
			return nil // its disks went with it
		}
		return err
	})
}

func (f *Function) each(ctx context.Context, c *runtime.Call, state string, op func(hostdv1.HostClient, *model.VM, model.Disk) error) error {
	vm, raw, err := store.GetRaw[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	for _, d := range vm.Disks {
		if d.Boot {
			continue
		}
		ok, err := f.hosts.OnVMHost(ctx, vm.ID, "disk "+d.Name, func(h hostdv1.HostClient, _ model.HostReservation) error {
			return op(h, vm, d)
		})
		if err != nil || !ok {
			return err
		}
	}
	_, _, err = store.UpdateFrom(ctx, f.store, model.KindVM, vm.ID, raw, func(v *model.VM) error {
		for i := range v.Disks {
			v.Disks[i].State = state
		}
		return nil
	})
	return err
}
