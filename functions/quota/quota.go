// Package quota reserves a VM's cost against its project's quota, in one Lua call that
// re-checks every limit, and releases it again.
//
// Consumes: io.photon.vm.create.authorized; undo: io.photon.vm.create.undo.quota; as the
// delete chain's RELEASE_QUOTA step: io.photon.vm.delete.host.released.
// Emits: io.photon.vm.create.quota.reserved / io.photon.vm.delete.quota.released.
// Undoes: the reservation (release). Idempotency: the reservation is keyed by the VM id,
// so reserving or releasing twice counts once.
package quota

import (
	"context"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the quota step.
type Function struct{ store *store.Store }

// New returns the quota function.
func New(s *store.Store) *Function { return &Function{store: s} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "quota" }

// Do reserves the VM's cost; a limit it would pass fails the chain with QuotaError.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	vm, err := store.Get[store.VM](ctx, f.store, store.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	return f.store.ReserveQuota(ctx, vm.ProjectID, vm.ID, vm.Cost)
}

// Undo releases the VM's reservation, if it holds one.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	vm, err := store.Get[store.VM](ctx, f.store, store.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	_, err = f.store.ReleaseQuota(ctx, vm.ProjectID, vm.ID)
	return err
}
