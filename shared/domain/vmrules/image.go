package vmrules

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// MayUseImage reads image id and reports whether who may make VMs of it in project
// projectID (policy.MayUseImage: a public image or one of that project, another project's
// only if its IAM policy shares it). An image whose project is gone does not exist.
func MayUseImage(ctx context.Context, s *store.Store, who model.Caller, id, projectID string) (*model.Image, bool, error) {
	im, err := store.Get[model.Image](ctx, s, model.KindImage, id)
	if err != nil {
		return nil, false, err
	}
	t, p, err := s.ProjectScope(ctx, im.ProjectID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, false, errs.NotFound("Image", id)
	}
	if err != nil {
		return nil, false, err
	}
	return im, policy.MayUseImage(who, im, t, p, projectID), nil
}

// Unusable is the error for a VM asked of image id in state: only a READY image makes new
// VMs (one being created, failed or being deleted does not).
func Unusable(id, state string) *errs.Error {
	return errs.Invalid("image %s is %s: no new VM may use it", id, state)
}

// UseImage counts vm among the users of its image, which only a READY image accepts: the
// atomic form of the check Validate made before the VM was written, as the image may have
// begun its delete since.
func UseImage(ctx context.Context, s *store.Store, vm *model.VM) (*model.Image, error) {
	img, err := store.Get[model.Image](ctx, s, model.KindImage, vm.SourceImageID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.Invalid("image %s not found", vm.SourceImageID)
	}
	if err != nil {
		return nil, err
	}
	ok, state, err := s.UseImage(ctx, img.ID, vm.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		if state == "" {
			state = img.State
		}
		return nil, Unusable(img.ID, state).WithData("imageId", img.ID)
	}
	return img, nil
}

// MayCreate decides again, as a VM's create chain begins, what may have changed since
// Validate passed its spec: its flavor must still exist and who must still be allowed to
// use its image (the image's IAM policy may have changed). Refused the image, who gets
// AccessForbidden: the spec was valid, the caller's right is what is missing.
func MayCreate(ctx context.Context, s *store.Store, who model.Caller, vm *model.VM) error {
	if _, err := store.Get[model.Flavor](ctx, s, model.KindFlavor, vm.FlavorID); err != nil {
		return err
	}
	_, ok, err := MayUseImage(ctx, s, who, vm.SourceImageID, vm.ProjectID)
	if err != nil {
		return err
	}
	if !ok {
		return errs.New(errs.CodeAccessForbidden, "%s may not make VMs of image %s in project %s", who.Subject, vm.SourceImageID, vm.ProjectID)
	}
	return nil
}
