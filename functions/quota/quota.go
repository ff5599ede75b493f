// Package quota reserves a VM's, a persistent disk's or a service's cost (the whole
// cluster's, at once) against its project's quota, in one Lua call that re-checks every
// limit, and releases it again.
//
// Consumes: io.photon.vm.create.authorized, io.photon.disk.create.authorized,
// io.photon.vm.resize.authorized (RESIZE_QUOTA: the reservation moves to the new cost),
// io.photon.service.create.authorized, io.photon.service.resize.authorized,
// io.photon.service.delete.addresses.released,
// io.photon.vm.acquire_floating_ip.authorized (RESERVE_FLOATING_IP_QUOTA: the VM's cost with
// one sdn.floatingip.size), io.photon.vm.release_floating_ip.freed
// (RELEASE_FLOATING_IP_QUOTA: the VM's cost, which no longer has it); undo:
// io.photon.{vm,disk}.create.undo.quota; as the delete chains' RELEASE_QUOTA step:
// io.photon.vm.delete.host.released, io.photon.disk.delete.host.deleted.
// Emits: io.photon.{vm,disk}.create.quota.reserved / io.photon.{vm,disk}.delete.quota.released.
// Undoes: the reservation (release). Idempotency: the reservation is keyed by the entity
// id, so reserving or releasing twice counts once.
package quota

import (
	"context"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the quota step.
type Function struct{ store *store.Store }

// New returns the quota function.
func New(s *store.Store) *Function { return &Function{store: s} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "quota" }

// Do reserves the cost of the chain's entity (a VM or a persistent disk); a limit it would
// pass fails the chain with QuotaError.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	project, cost, err := f.owner(ctx, c)
	if err != nil {
		return err
	}
	switch c.Operation() {
	case domain.OpResizeQuota:
		cost, err := resizeCost(c)
		if err != nil {
			return err
		}
		return f.store.ResizeQuota(ctx, project, c.Data.EntityID, cost)
	case domain.OpReserveFloatingIPQuota:
		return f.store.ResizeQuota(ctx, project, c.Data.EntityID, vmrules.WithFloatingIP(cost, true))
	case domain.OpReleaseFloatingIPQuota:
		// The floatingip step has taken the address out of the VM's cost.
		return f.store.ResizeQuota(ctx, project, c.Data.EntityID, cost)
	}
	return f.store.ReserveQuota(ctx, project, c.Data.EntityID, cost)
}

// Undo releases the entity's reservation, if it holds one; a resize's undo moves it back
// to the VM's cost, which the resize has not changed yet.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	project, cost, err := f.owner(ctx, c)
	if err != nil {
		return err
	}
	switch c.Operation() {
	case domain.OpResizeQuota, domain.OpReserveFloatingIPQuota:
		// The VM's cost is what it was: the resize and the floating IP change it only once
		// their later steps are done.
		return f.store.ResizeQuota(ctx, project, c.Data.EntityID, cost)
	}
	_, err = f.store.ReleaseQuota(ctx, project, c.Data.EntityID)
	return err
}

// resizeCost is the new cost a resize task carries: a VM's new flavor's, or a service's
// new size's.
func resizeCost(c *runtime.Call) ([]model.QuotaLineItem, error) {
	if c.Chain.Kind == model.KindService {
		return store.CostOf(c.Task)
	}
	r, err := store.ResizeOf(c.Task)
	return r.Cost, err
}

// owner reads the project and cost of the entity the chain acts on.
func (f *Function) owner(ctx context.Context, c *runtime.Call) (string, []model.QuotaLineItem, error) {
	if c.Chain.Kind == model.KindService {
		svc, err := store.Get[model.Service](ctx, f.store, model.KindService, c.Data.EntityID)
		if err != nil {
			return "", nil, err
		}
		return svc.ProjectID, svc.Cost, nil
	}
	if c.Chain.Kind == model.KindDisk {
		d, err := store.Get[model.PersistentDisk](ctx, f.store, model.KindDisk, c.Data.EntityID)
		if err != nil {
			return "", nil, err
		}
		return d.ProjectID, d.Cost, nil
	}
	vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
	if err != nil {
		return "", nil, err
	}
	return vm.ProjectID, vm.Cost, nil
}
