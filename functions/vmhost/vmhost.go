// Package vmhost makes and destroys a VM on its host: it creates the VM with a boot disk
// that is a linked clone of the image disk on the chosen datastore; its undo destroys the
// VM on the host, which is also the delete chain's DELETE_VM_ON_HOST step.
//
// Before it creates the VM it counts the VM among the image's users (vmrules.UseImage),
// which an image that is not READY (being deleted) refuses, and copies an ON_DEMAND image to the chosen
// datastore when it is not there yet (one copy per image and datastore, shared by the VM
// creates that need it at once). A VM that is a node of a service (ServiceID) is created
// with the guestinfo its GuestInfoSource gives (the cloud-init user data and metadata the
// node configures itself from), asked for at every try and never stored. Destroying the VM releases the image; the last VM of an
// image that waits to be deleted (PENDING_DELETE) deletes it from every datastore.
//
// Consumes: io.photon.vm.create.placed; undo: io.photon.vm.create.undo.vmhost; as the
// delete chain's DELETE_VM_ON_HOST step: io.photon.vm.delete.powered.off.
// Emits: io.photon.vm.create.host.created / io.photon.vm.delete.host.deleted.
// Undoes: the VM on the host (hostd DeleteVm). Idempotency: hostd calls are idempotent by
// VM id; creating an existing VM returns it, deleting a missing one succeeds; a VM is
// counted once among its image's users, copies and deletes leave what is done as it is.
package vmhost

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/functions/internal/imagefiles"
	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// GuestInfoSource gives the guestinfo of a service's node VM (its user data and metadata); its secrets are never stored in the VM record.
type GuestInfoSource interface {
	GuestInfo(ctx context.Context, vm *model.VM) (map[string]string, error)
}

// Function is the vmhost step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
	guest GuestInfoSource
}

// New returns the vmhost function. guest gives the guestinfo of VMs that are nodes of a
// service (VM.ServiceID); nil gives none.
func New(s *store.Store, hosts *hostclient.Pool, guest GuestInfoSource) *Function {
	return &Function{store: s, hosts: hosts, guest: guest}
}

// Name implements runtime.Function.
func (f *Function) Name() string { return "vmhost" }

// Do creates the VM on its host.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	img, err := vmrules.UseImage(ctx, f.store, vm)
	if err != nil {
		return err
	}
	// The guestinfo is asked for at every try rather than kept: it carries the node's
	// secrets, which live with the service, not in the VM record or the event.
	var guest map[string]string
	if vm.ServiceID != "" && f.guest != nil {
		if guest, err = f.guest.GuestInfo(ctx, vm); err != nil {
			return err
		}
	}
	ok, err := f.hosts.OnVMHost(ctx, vm.ID, "create VM", func(h hostdv1.HostClient, r model.HostReservation) error {
		host, err := f.store.GetHost(ctx, r.HostID)
		if err != nil {
			return err
		}
		if err := imagefiles.Copy(ctx, f.store, h, host, img, r.Datastore, c.Task.ID); err != nil {
			return err
		}
		_, err = h.CreateVm(ctx, &hostdv1.CreateVmRequest{VmId: vm.ID, Name: vm.Name, CpuCount: vm.CPU,
			MemoryMb: vm.MemoryMB, Datastore: r.Datastore, ImagePath: img.DiskPath, GuestInfo: guest})
		return err
	})
	if err == nil && !ok {
		err = errs.New(errs.CodeStateError, "VM %s has no host reservation", vm.ID)
	}
	return err
}

// Undo destroys the VM on its host, if it was placed, and releases its image.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	_, err := f.hosts.OnVMHost(ctx, c.Data.EntityID, "delete VM", func(h hostdv1.HostClient, _ model.HostReservation) error {
		_, err := h.DeleteVm(ctx, &hostdv1.VmRef{VmId: c.Data.EntityID})
		return err
	})
	if err != nil {
		return err
	}
	return f.releaseImage(ctx, c.Data.EntityID)
}

// releaseImage removes the VM from its image's users; when it was the last user of an
// image waiting to be deleted, the image's disk goes from every datastore and the image
// ends.
func (f *Function) releaseImage(ctx context.Context, vmID string) error {
	vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, vmID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	last, err := f.store.ReleaseImage(ctx, vm.SourceImageID, vm.ID)
	if err != nil || !last {
		return err
	}
	img, err := store.Get[model.Image](ctx, f.store, model.KindImage, vm.SourceImageID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil || img.State != model.ImagePendingDelete {
		return err
	}
	if err := imagefiles.Delete(ctx, f.store, f.hosts, img); err != nil {
		if !errs.IsPermanent(err) {
			return err
		}
		// A host refused: the VM is gone all the same; the image goes ERROR, for its
		// delete to be tried again.
		_, err = store.Update(ctx, f.store, model.KindImage, img.ID, func(im *model.Image) error {
			im.State = model.ImageError
			return nil
		})
		return err
	}
	return f.store.RemoveImage(ctx, img)
}
