// Package authorize is the first step of every chain: it decides whether the task's caller
// may act on the entity, with the same policy the gateway applies to reads.
//
// Consumes: the start event of every chain (io.photon.vm.create, io.photon.vm.delete,
// io.photon.vm.start, io.photon.disk.create, ...), on VMs and persistent disks alike.
// Emits: io.photon.<chain>.authorized.
// Undoes: nothing (it changes no state). Idempotency: a pure decision, safe to repeat.
package authorize

import (
	"context"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the authorize step.
type Function struct{ store *store.Store }

// New returns the authorize function.
func New(s *store.Store) *Function { return &Function{store: s} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "authorize" }

// Do allows the caller if they may use the project of the entity the chain acts on (a
// VM or a persistent disk), and for a VM create checks that the flavor and image the VM
// names are still there.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	var projectID string
	switch c.Chain.Kind {
	case store.KindDisk:
		d, err := store.Get[store.PersistentDisk](ctx, f.store, store.KindDisk, c.Data.EntityID)
		if err != nil {
			return err
		}
		projectID = d.ProjectID
	default:
		vm, err := store.Get[store.VM](ctx, f.store, store.KindVM, c.Data.EntityID)
		if err != nil {
			return err
		}
		projectID = vm.ProjectID
		if c.Chain.Name == "vm.create" {
			if _, err := store.Get[store.Flavor](ctx, f.store, store.KindFlavor, vm.FlavorID); err != nil {
				return err
			}
			im, err := store.Get[store.Image](ctx, f.store, store.KindImage, vm.SourceImageID)
			if err != nil {
				return err
			}
			if err := f.mayUseImage(ctx, c.Task.Caller, im, vm.ProjectID); err != nil {
				return err
			}
		}
	}
	p, err := store.Get[store.Project](ctx, f.store, store.KindProject, projectID)
	if err != nil {
		return err
	}
	t, err := store.Get[store.Tenant](ctx, f.store, store.KindTenant, p.TenantID)
	if err != nil {
		return err
	}
	if !policy.MayUseProject(c.Task.Caller, t, p) {
		return errs.New(errs.CodeAccessForbidden, "%s may not %s in project %s", c.Task.Caller.Subject, c.Task.Operation, p.Name)
	}
	return nil
}

// mayUseImage refuses an image the caller may not make VMs of (policy.MayUseImage).
func (f *Function) mayUseImage(ctx context.Context, who store.Caller, im *store.Image, dest string) error {
	var t *store.Tenant
	var p *store.Project
	if im.ProjectID != "" {
		var err error
		if p, err = store.Get[store.Project](ctx, f.store, store.KindProject, im.ProjectID); err != nil {
			return err
		}
		if t, err = store.Get[store.Tenant](ctx, f.store, store.KindTenant, p.TenantID); err != nil {
			return err
		}
	}
	if !policy.MayUseImage(who, im, t, p, dest) {
		return errs.New(errs.CodeAccessForbidden, "%s may not make VMs of image %s in project %s", who.Subject, im.ID, dest)
	}
	return nil
}

// Undo has nothing to undo.
func (f *Function) Undo(context.Context, *runtime.Call) error { return nil }
