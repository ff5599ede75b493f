// Package vmstate finalizes the VM and persistent disk chains: what a VM or disk record
// becomes when its chain ends. The runtime calls it after the last step (or the last undo step).
package vmstate

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// Finalizers returns the finalizers of the VM chains, by chain name.
func Finalizers(s *store.Store) map[string]runtime.Finalizer {
	return map[string]runtime.Finalizer{"vm.create": create{s}, "vm.delete": remove{s},
		"vm.start": op{s}, "vm.stop": op{s}, "vm.restart": op{s}, "vm.suspend": op{s}, "vm.resume": op{s},
		"vm.attach_disk": diskOp{s}, "vm.detach_disk": diskOp{s}, "vm.set_metadata": op{s}, "vm.add_tag": op{s},
		"vm.attach_iso": op{s}, "vm.detach_iso": op{s}, "vm.mks_ticket": op{s}, "vm.resize": op{s},
		"disk.create": diskCreate{s}, "disk.delete": diskDelete{s}}
}

// diskOp finalizes an attach or detach: the VM and the disk are released from the task.
type diskOp struct{ s *store.Store }

func (f diskOp) Completed(ctx context.Context, t *store.Task) error { return f.release(ctx, t) }

func (f diskOp) Failed(ctx context.Context, t *store.Task, _ error) error { return f.release(ctx, t) }

func (f diskOp) release(ctx context.Context, t *store.Task) error {
	if err := release(ctx, f.s, t, ""); err != nil {
		return err
	}
	return releaseDisk(ctx, f.s, t.Properties[store.PropDiskID], t.ID, "")
}

type diskCreate struct{ s *store.Store }

// Completed releases the disk from its task; the step has made it DETACHED.
func (f diskCreate) Completed(ctx context.Context, t *store.Task) error {
	return releaseDisk(ctx, f.s, t.Entity.ID, t.ID, "")
}

// Failed leaves the disk in ERROR, holding nothing, for the user to delete.
func (f diskCreate) Failed(ctx context.Context, t *store.Task, _ error) error {
	return releaseDisk(ctx, f.s, t.Entity.ID, t.ID, store.DiskError)
}

type diskDelete struct{ s *store.Store }

// Completed deletes the disk's record.
func (f diskDelete) Completed(ctx context.Context, t *store.Task) error {
	d, err := store.Get[store.PersistentDisk](ctx, f.s, store.KindDisk, t.Entity.ID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.s.RemoveDisk(ctx, d)
}

// Failed leaves the disk in ERROR so the delete can be tried again.
func (f diskDelete) Failed(ctx context.Context, t *store.Task, _ error) error {
	return releaseDisk(ctx, f.s, t.Entity.ID, t.ID, store.DiskError)
}

func releaseDisk(ctx context.Context, s *store.Store, id, task, state string) error {
	if id == "" {
		return nil
	}
	_, err := store.Update(ctx, s, store.KindDisk, id, func(d *store.PersistentDisk) error {
		if d.ActiveTask == task {
			d.ActiveTask = ""
		}
		if state != "" {
			d.State = state
		}
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}

// op finalizes an operation on an existing VM: the VM is released from its task either
// way; its state is what the operation's step recorded from the host.
type op struct{ s *store.Store }

func (f op) Completed(ctx context.Context, t *store.Task) error { return release(ctx, f.s, t, "") }

func (f op) Failed(ctx context.Context, t *store.Task, _ error) error {
	return release(ctx, f.s, t, "")
}

type create struct{ s *store.Store }

// Completed releases the VM from its task; poweron has set its state.
func (f create) Completed(ctx context.Context, t *store.Task) error {
	return release(ctx, f.s, t, "")
}

// Failed leaves the VM in ERROR, holding nothing, for the user to inspect and delete.
func (f create) Failed(ctx context.Context, t *store.Task, _ error) error {
	return release(ctx, f.s, t, store.VMError)
}

type remove struct{ s *store.Store }

// Completed deletes the VM record; its tasks stay readable. Its persistent disks, which
// the host detached and kept, are DETACHED.
func (f remove) Completed(ctx context.Context, t *store.Task) error {
	vm, err := store.Get[store.VM](ctx, f.s, store.KindVM, t.Entity.ID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, d := range vm.Disks {
		if d.Kind == store.FlavorPersistentDisk {
			if err := f.s.DetachedDisk(ctx, d.ID, vm.ID); err != nil {
				return err
			}
		}
	}
	return f.s.RemoveVM(ctx, vm)
}

// Failed leaves the VM in ERROR so the delete can be tried again.
func (f remove) Failed(ctx context.Context, t *store.Task, _ error) error {
	return release(ctx, f.s, t, store.VMError)
}

func release(ctx context.Context, s *store.Store, t *store.Task, state string) error {
	_, err := store.Update(ctx, s, store.KindVM, t.Entity.ID, func(v *store.VM) error {
		if v.ActiveTask == t.ID {
			v.ActiveTask = ""
		}
		if state != "" {
			v.State = state
		}
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}
