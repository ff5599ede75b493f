// Package authorize is the first step of every chain: it decides whether the task's caller
// may act on the entity, with the same policy (shared/policy) the gateway applies to API
// calls, so a chain started any other way (an event from outside, a replay) is held to
// the rights of the caller it names.
//
// Consumes: the start event of every chain (io.photon.vm.create, io.photon.vm.delete,
// io.photon.disk.create, io.photon.router.create, io.photon.subnet.delete,
// io.photon.image.delete, io.photon.service.create, ...), on VMs, persistent disks, routers,
// subnets, images and services.
// Emits: io.photon.<chain>.authorized.
// Undoes: nothing (it changes no state). Idempotency: a pure decision, safe to repeat.
package authorize

import (
	"context"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the authorize step.
type Function struct{ store *store.Store }

// New returns the authorize function.
func New(s *store.Store) *Function { return &Function{store: s} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "authorize" }

// Do allows the caller if they hold the role the chain needs: contributor of the
// project of the VM, disk, router, subnet or service it acts on (or of the VM or disk, by its own
// IAM policy: policy.ResourceRole); for an image, contributor of
// its project to make it and owner of the image to delete it; a system administrator
// for what belongs to no project (port-group subnets, public images). A VM create also
// checks what may have changed since the gateway validated its spec (vmrules.MayCreate):
// the flavor is still there and the caller may still use the image.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	who := c.Task.Caller
	var projectID string
	// iam is the entity's own policy (a VM's, a disk's), which raises the project's roles.
	var iam []model.PolicyEntry
	switch c.Chain.Kind {
	case model.KindDisk:
		d, err := store.Get[model.PersistentDisk](ctx, f.store, model.KindDisk, c.Data.EntityID)
		if err != nil {
			return err
		}
		projectID, iam = d.ProjectID, d.IAM
	case model.KindRouter:
		r, err := store.Get[model.Router](ctx, f.store, model.KindRouter, c.Data.EntityID)
		if err != nil {
			return err
		}
		projectID = r.ProjectID
	case model.KindSubnet:
		sn, err := store.Get[model.Subnet](ctx, f.store, model.KindSubnet, c.Data.EntityID)
		if err != nil {
			return err
		}
		projectID = sn.ProjectID
	case model.KindService:
		svc, err := store.Get[model.Service](ctx, f.store, model.KindService, c.Data.EntityID)
		if err != nil {
			return err
		}
		projectID = svc.ProjectID
	case model.KindImage:
		return f.image(ctx, c)
	default:
		vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
		if err != nil {
			return err
		}
		projectID, iam = vm.ProjectID, vm.IAM
		if c.Chain.Name == domain.VMCreate {
			if err := vmrules.MayCreate(ctx, f.store, who, vm); err != nil {
				return err
			}
		}
	}
	if projectID == "" {
		if !policy.IsSystemAdmin(who) {
			return errs.New(errs.CodeAccessForbidden, "%s may not %s: only system administrators act on what belongs to no project", who.Subject, c.Task.Operation)
		}
		return nil
	}
	t, p, err := f.store.ProjectScope(ctx, projectID)
	if err != nil {
		return err
	}
	if policy.ResourceRole(who, t, p, iam) < policy.Contributor {
		return errs.New(errs.CodeAccessForbidden, "%s may not %s in project %s", who.Subject, c.Task.Operation, p.Name)
	}
	return nil
}

// image decides the image chains: making an image needs what uploading it needs (a
// contributor of its project; a system administrator for a public one), deleting it
// needs its owner.
func (f *Function) image(ctx context.Context, c *runtime.Call) error {
	who := c.Task.Caller
	im, err := store.Get[model.Image](ctx, f.store, model.KindImage, c.Data.EntityID)
	if err != nil {
		return err
	}
	t, p, err := f.store.ProjectScope(ctx, im.ProjectID)
	if err != nil {
		return err
	}
	need, may := "contribute to", policy.IsSystemAdmin(who) || (p != nil && policy.MayUseProject(who, t, p))
	if c.Chain.Name == domain.ImageDelete {
		need, may = "own", policy.ImageRole(who, im, t, p) >= policy.Owner
	}
	if !may {
		return errs.New(errs.CodeAccessForbidden, "%s may not %s: they do not %s image %s", who.Subject, c.Task.Operation, need, im.ID)
	}
	return nil
}

// Undo has nothing to undo.
func (f *Function) Undo(context.Context, *runtime.Call) error { return nil }
