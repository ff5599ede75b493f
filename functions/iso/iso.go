// Package iso connects a VM's CD-ROM to the ISO uploaded for it (store.ISOPath on the VM's
// datastore, written by the gateway's attach_iso upload) and disconnects it again.
//
// Consumes: io.photon.vm.attach_iso.authorized (ATTACH_ISO),
// io.photon.vm.detach_iso.authorized (DETACH_ISO).
// Emits: io.photon.vm.attach_iso.attached, io.photon.vm.detach_iso.detached.
// Undoes: nothing; a failed attach leaves the VM as it was, and its uploaded file is
// deleted with the VM or by the next detach. Idempotency: hostd's ISO calls succeed when
// the VM already is as asked, and a file already deleted is no error.
package iso

import (
	"context"
	"strconv"

	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the iso step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
}

// New returns the iso function.
func New(s *store.Store, hosts *hostclient.Pool) *Function { return &Function{store: s, hosts: hosts} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "iso" }

// Do attaches or detaches the VM's ISO and records it on the VM.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	id := c.Data.EntityID
	var iso *model.ISO
	_, err := f.hosts.OnVMHost(ctx, id, "attach ISO", func(h hostdv1.HostClient, r model.HostReservation) error {
		switch c.Operation() {
		case domain.OpAttachISO:
			if _, err := h.AttachIso(ctx, &hostdv1.AttachIsoRequest{VmId: id, Datastore: r.Datastore, Path: store.ISOPath(id)}); err != nil {
				return err
			}
			size, _ := strconv.ParseInt(c.Task.Properties[model.PropISOSize], 10, 64)
			iso = &model.ISO{Name: c.Task.Properties[model.PropISOName], Size: size}
			return nil
		case domain.OpDetachISO:
			if _, err := h.DetachIso(ctx, &hostdv1.VmRef{VmId: id}); err != nil && errs.As(err).Code != errs.CodeStateError {
				return err // a VM with no ISO left (a replayed detach) is what was asked
			}
			_, err := h.DeleteFile(ctx, &hostdv1.DeleteFileRequest{Datastore: r.Datastore, Path: store.ISOPath(id)})
			return err
		}
		return errs.Invalid("iso cannot run %s", c.Operation())
	})
	if err != nil {
		return err
	}
	_, err = store.Update(ctx, f.store, model.KindVM, id, func(v *model.VM) error {
		v.ISO = iso
		return nil
	})
	return err
}

// Undo has nothing to undo.
func (f *Function) Undo(context.Context, *runtime.Call) error { return nil }
