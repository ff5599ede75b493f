// Package disks runs the persistent disk steps: it creates a disk's file on a datastore
// (reserving the space there), deletes it, and attaches and detaches disks to VMs.
//
// Consumes: io.photon.disk.create.quota.reserved (CREATE_DISK_ON_HOST); undo:
// io.photon.disk.create.undo.disks; as the delete chain's DELETE_DISK_ON_HOST step:
// io.photon.disk.delete.authorized; io.photon.vm.attach_disk.authorized (ATTACH_DISK);
// io.photon.vm.detach_disk.authorized (DETACH_DISK).
// Emits: io.photon.disk.create.created, io.photon.disk.delete.host.deleted,
// io.photon.vm.attach_disk.attached, io.photon.vm.detach_disk.detached.
// Undoes: the disk's creation (its file is deleted and the datastore space released).
// Placement: the Placer it is built with (the place function's engine) chooses the
// datastore and reserves the space, as for a VM's disks.
// Idempotency: the space reservation is keyed by the disk id, and hostd's disk calls
// succeed when the disk already is as asked, so a replayed step changes nothing.
package disks

import (
	"context"
	"fmt"
	"slices"

	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Placer chooses a disk's datastore and reserves its space there (place.Function: the
// placement engine VMs go through, with its policy, so disks and VMs are placed by one set
// of rules and one view of the fleet).
type Placer interface {
	PlaceDisk(ctx context.Context, d *model.PersistentDisk) (model.HostReservation, error)
}

// Function is the disks step.
type Function struct {
	store  *store.Store
	hosts  *hostclient.Pool
	placer Placer
}

// New returns the disks function.
func New(s *store.Store, hosts *hostclient.Pool, p Placer) *Function {
	return &Function{store: s, hosts: hosts, placer: p}
}

// Name implements runtime.Function.
func (f *Function) Name() string { return "disks" }

// Do runs the step the chain asks for.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	switch c.Operation() {
	case "CREATE_DISK_ON_HOST":
		return f.create(ctx, c.Data.EntityID)
	case "ATTACH_DISK":
		return f.attach(ctx, c.Data.EntityID, c.Task.Properties[model.PropDiskID])
	case "DETACH_DISK":
		return f.detach(ctx, c.Data.EntityID, c.Task.Properties[model.PropDiskID])
	}
	return errs.Invalid("disks cannot run %s", c.Operation())
}

// Undo deletes the disk's file and releases its datastore space (the create's undo and
// the delete chain's DELETE_DISK_ON_HOST step).
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	id := c.Data.EntityID
	r, ok, err := f.store.HostReservationOf(ctx, id)
	if err != nil || !ok {
		return err // nothing was reserved, so nothing was created
	}
	h, err := f.hosts.For(ctx, r.HostID)
	if err != nil {
		return err
	}
	if _, err := h.DeleteDisk(ctx, &hostdv1.DiskRef{DiskId: id, Datastore: r.Datastore}); err != nil {
		return hostclient.Err(fmt.Sprintf("delete disk on host %s", r.HostID), err)
	}
	_, err = f.store.ReleaseHost(ctx, id)
	return err
}

// create has the placer pick a datastore for the disk (the VM's when it has a vm
// affinity) and reserve the space there, then has the host make the file.
func (f *Function) create(ctx context.Context, id string) error {
	d, err := store.Get[model.PersistentDisk](ctx, f.store, model.KindDisk, id)
	if err != nil {
		return err
	}
	r, err := f.placer.PlaceDisk(ctx, d)
	if err != nil {
		return err
	}
	h, err := f.hosts.For(ctx, r.HostID)
	if err != nil {
		return err
	}
	if _, err := h.CreateDisk(ctx, &hostdv1.CreateDiskRequest{DiskId: id, Datastore: r.Datastore, CapacityGb: int64(d.CapacityGB)}); err != nil {
		return hostclient.Err(fmt.Sprintf("create disk on host %s", r.HostID), err)
	}
	dsID := r.Datastore
	if host, err := f.store.GetHost(ctx, r.HostID); err == nil {
		for _, ds := range host.Datastores {
			if ds.Name == r.Datastore && ds.ID != "" {
				dsID = ds.ID
			}
		}
	}
	_, err = store.Update(ctx, f.store, model.KindDisk, id, func(d *model.PersistentDisk) error {
		d.HostID, d.Datastore, d.DatastoreID, d.State = r.HostID, r.Datastore, dsID, model.DiskDetached
		return nil
	})
	return err
}

// attach attaches the disk to the VM on the VM's host and records it on both.
func (f *Function) attach(ctx context.Context, vmID, diskID string) error {
	d, err := store.Get[model.PersistentDisk](ctx, f.store, model.KindDisk, diskID)
	if err != nil {
		return err
	}
	if _, err := f.hosts.OnVMHost(ctx, vmID, "attach disk", func(h hostdv1.HostClient, _ model.HostReservation) error {
		_, err := h.AttachPersistentDisk(ctx, &hostdv1.AttachPersistentDiskRequest{VmId: vmID, DiskId: diskID, Datastore: d.Datastore})
		return err
	}); err != nil {
		return err
	}
	if _, err := store.Update(ctx, f.store, model.KindVM, vmID, func(v *model.VM) error {
		if slices.ContainsFunc(v.Disks, func(x model.Disk) bool { return x.ID == diskID }) {
			return store.ErrNoChange
		}
		v.Disks = append(v.Disks, model.Disk{ID: d.ID, Name: d.Name, Kind: model.FlavorPersistentDisk, Flavor: d.Flavor,
			FlavorID:   d.FlavorID,
			CapacityGB: d.CapacityGB, State: model.DiskAttached})
		return nil
	}); err != nil {
		return err
	}
	_, err = store.Update(ctx, f.store, model.KindDisk, diskID, func(d *model.PersistentDisk) error {
		d.State, d.VMs = model.DiskAttached, []string{vmID}
		return nil
	})
	return err
}

// detach detaches the disk from the VM (its file stays) and records it on both.
func (f *Function) detach(ctx context.Context, vmID, diskID string) error {
	if _, err := f.hosts.OnVMHost(ctx, vmID, "detach disk", func(h hostdv1.HostClient, _ model.HostReservation) error {
		_, err := h.DetachDisk(ctx, &hostdv1.DetachDiskRequest{VmId: vmID, DiskId: diskID})
		return err
	}); err != nil {
		return err
	}
	if _, err := store.Update(ctx, f.store, model.KindVM, vmID, func(v *model.VM) error {
		n := len(v.Disks)
		v.Disks = slices.DeleteFunc(v.Disks, func(x model.Disk) bool { return x.ID == diskID })
		if len(v.Disks) == n {
			return store.ErrNoChange
		}
		return nil
	}); err != nil {
		return err
	}
	return f.store.DetachedDisk(ctx, diskID, vmID)
}
