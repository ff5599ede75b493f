// Package cloneimage creates the VM on its host with a boot disk that is a linked clone of
// the image disk on the chosen datastore; its undo destroys the VM on the host.
//
// Consumes: io.photon.vm.create.placed; undo: io.photon.vm.create.undo.cloneimage; as the
// delete chain's DELETE_VM_ON_HOST step: io.photon.vm.delete.powered.off.
// Emits: io.photon.vm.create.image.cloned / io.photon.vm.delete.host.deleted.
// Undoes: the VM on the host (hostd DeleteVm). Idempotency: hostd calls are idempotent by
// VM id; creating an existing VM returns it, deleting a missing one succeeds.
package cloneimage

import (
	"context"

	"github.com/photon-cloud/photon/functions/internal/hostclient"
	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the cloneimage step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
}

// New returns the cloneimage function.
func New(s *store.Store, hosts *hostclient.Pool) *Function { return &Function{store: s, hosts: hosts} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "cloneimage" }

// Do creates the VM on its host.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	vm, err := store.Get[store.VM](ctx, f.store, store.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	img, err := store.Get[store.Image](ctx, f.store, store.KindImage, vm.SourceImageID)
	if err != nil {
		return err
	}
	ok, err := f.hosts.OnVMHost(ctx, vm.ID, "create VM", func(h hostdv1.HostClient, r store.HostReservation) error {
		_, err := h.CreateVm(ctx, &hostdv1.CreateVmRequest{VmId: vm.ID, Name: vm.Name, CpuCount: vm.CPU,
			MemoryMb: vm.MemoryMB, Datastore: r.Datastore, ImagePath: img.DiskPath})
		return err
	})
	if err == nil && !ok {
		err = errs.New(errs.CodeStateError, "VM %s has no host reservation", vm.ID)
	}
	return err
}

// Undo destroys the VM on its host, if it was placed.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	_, err := f.hosts.OnVMHost(ctx, c.Data.EntityID, "delete VM", func(h hostdv1.HostClient, _ store.HostReservation) error {
		_, err := h.DeleteVm(ctx, &hostdv1.VmRef{VmId: c.Data.EntityID})
		return err
	})
	return err
}
