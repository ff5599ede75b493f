// Package vmstate finalizes VM chains: what a VM record becomes when its create or delete
// chain ends. The runtime calls it after the last step (or the last undo step).
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
	return map[string]runtime.Finalizer{"vm.create": create{s}, "vm.delete": remove{s}}
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

// Completed deletes the VM record; its tasks stay readable.
func (f remove) Completed(ctx context.Context, t *store.Task) error {
	vm, err := store.Get[store.VM](ctx, f.s, store.KindVM, t.Entity.ID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
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
