package finalize

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// VM ends the chains on a VM: the VM is released from the task and takes what
// domain.VMEnd says; a removed VM's persistent disks, which the host detached and kept,
// are DETACHED.
type VM struct{}

// Completed implements Finalizer.
func (VM) Completed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task) error {
	return endVM(ctx, s, t, domain.VMEnd(chain, true))
}

// Failed implements Finalizer.
func (VM) Failed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task, _ error) error {
	return endVM(ctx, s, t, domain.VMEnd(chain, false))
}

// VMDisk ends the chains that hold a VM and a persistent disk (attach, detach): both are
// released from the task; their states are what the step recorded.
type VMDisk struct{}

// Completed implements Finalizer.
func (VMDisk) Completed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task) error {
	return VMDisk{}.end(ctx, s, chain, t, true)
}

// Failed implements Finalizer.
func (VMDisk) Failed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task, _ error) error {
	return VMDisk{}.end(ctx, s, chain, t, false)
}

func (VMDisk) end(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task, completed bool) error {
	if err := endVM(ctx, s, t, domain.VMEnd(chain, completed)); err != nil {
		return err
	}
	return releaseDisk(ctx, s, t.Properties[model.PropDiskID], t.ID, domain.DiskEnd(chain, completed).State)
}

func endVM(ctx context.Context, s *store.Store, t *model.Task, end domain.End) error {
	if end.Remove {
		return removeVM(ctx, s, t.Entity.ID)
	}
	return update(ctx, s, model.KindVM, t.Entity.ID, func(v *model.VM) error {
		if v.ActiveTask == t.ID {
			v.ActiveTask = ""
		}
		if end.State != "" {
			v.State = end.State
		}
		return nil
	})
}

// removeVM deletes the VM record; its tasks stay readable.
func removeVM(ctx context.Context, s *store.Store, id string) error {
	vm, err := store.Get[model.VM](ctx, s, model.KindVM, id)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range vm.Disks {
		if d.Kind == model.FlavorPersistentDisk {
			if err := s.DetachedDisk(ctx, d.ID, vm.ID); err != nil {
				return err
			}
		}
	}
	return s.RemoveVM(ctx, vm)
}

// Disk ends the persistent disk chains (create, delete) with what domain.DiskEnd says.
type Disk struct{}

// Completed implements Finalizer.
func (Disk) Completed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task) error {
	return endDisk(ctx, s, t, domain.DiskEnd(chain, true))
}

// Failed implements Finalizer.
func (Disk) Failed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task, _ error) error {
	return endDisk(ctx, s, t, domain.DiskEnd(chain, false))
}

func endDisk(ctx context.Context, s *store.Store, t *model.Task, end domain.End) error {
	if !end.Remove {
		return releaseDisk(ctx, s, t.Entity.ID, t.ID, end.State)
	}
	d, err := store.Get[model.PersistentDisk](ctx, s, model.KindDisk, t.Entity.ID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.RemoveDisk(ctx, d)
}

func releaseDisk(ctx context.Context, s *store.Store, id, task, state string) error {
	if id == "" {
		return nil
	}
	return update(ctx, s, model.KindDisk, id, func(d *model.PersistentDisk) error {
		if d.ActiveTask == task {
			d.ActiveTask = ""
		}
		if state != "" {
			d.State = state
		}
		return nil
	})
}
