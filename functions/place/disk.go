package place

import (
	"context"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// PlaceDisk chooses a datastore for a persistent disk and reserves its space there, by
// the same checkers, index, reservation script and policy as a VM: only READY hosts that
// heartbeat, within the datastore ratio, after the reservations already made, matching
// the disk's affinities. A vm affinity puts the disk on the VM's datastore. The
// reservation is keyed by the disk id: a replay returns it, and ReleaseHost (the disk's
// undo and delete) gives the space back.
//
// The disks step calls it as a library rather than through a place step of its own in
// the disk create chain: one Function, so one index, serves VMs and disks (their claims
// in flight see each other), and a disk create's task keeps the steps it always had.
func (f *Function) PlaceDisk(ctx context.Context, d *model.PersistentDisk) (model.HostReservation, error) {
	if r, ok, err := f.store.HostReservationOf(ctx, d.ID); err != nil || ok {
		return r, err
	}
	req, err := f.diskRequest(ctx, d)
	if err != nil {
		return model.HostReservation{}, err
	}
	return f.Place(ctx, req)
}

// diskRequest turns a disk's size and affinities into a placement request ranked by
// datastore space.
func (f *Function) diskRequest(ctx context.Context, d *model.PersistentDisk) (Request, error) {
	req := Request{VM: d.ID, DiskMB: int64(d.CapacityGB) << 10, ByDatastore: true}
	for _, a := range d.Affinities {
		if a.Kind != model.LocalityVM {
			if err := f.constrain(ctx, &req, a); err != nil {
				return Request{}, err
			}
			continue
		}
		// Beside a VM is on the VM's datastore, which only its reservation names until
		// the VM is created on its host.
		vr, ok, err := f.store.HostReservationOf(ctx, a.ID)
		if err != nil {
			return Request{}, err
		}
		if !ok {
			return Request{}, errs.New(errs.CodeStateError, "Vm #%s of the disk's affinity is on no host", a.ID)
		}
		if err := one(&req.Host, "hosts", vr.HostID); err != nil {
			return Request{}, err
		}
		if err := one(&req.Datastore, "datastores", vr.Datastore); err != nil {
			return Request{}, err
		}
	}
	return req, nil
}
