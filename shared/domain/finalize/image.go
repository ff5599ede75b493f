package finalize

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// PropImageID is the task property that names the image a VM's create_image makes.
const PropImageID = "imageId"

// ImageCreated ends image.create and vm.create_image: a completed one makes the image READY
// and opens it to new VMs, a failed one leaves it in ERROR for the user to delete; a
// create_image also releases the VM it captured.
var ImageCreated Finalizer = imageCreated{}

type imageCreated struct{}

func (imageCreated) Completed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task) error {
	if err := (imageCreated{}).end(ctx, s, chain, t, model.ImageReady); err != nil {
		return err
	}
	return s.OpenImage(ctx, imageOf(t))
}

func (imageCreated) Failed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task, _ error) error {
	return imageCreated{}.end(ctx, s, chain, t, model.ImageError)
}

func (imageCreated) end(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task, state string) error {
	if err := releaseImage(ctx, s, imageOf(t), t.ID, state); err != nil {
		return err
	}
	if chain != domain.VMCreateImage {
		return nil
	}
	return update(ctx, s, model.KindVM, t.Entity.ID, func(vm *model.VM) error {
		if vm.ActiveTask != t.ID {
			return store.ErrNoChange
		}
		vm.ActiveTask = ""
		return nil
	})
}

// ImageDeleted ends image.delete: a completed one removes the image, whose disk is gone
// from every datastore; a failed one leaves it in ERROR, so that the delete can be tried
// again.
var ImageDeleted Finalizer = imageDeleted{}

type imageDeleted struct{}

func (imageDeleted) Completed(ctx context.Context, s *store.Store, _ domain.ChainID, t *model.Task) error {
	img, err := store.Get[model.Image](ctx, s, model.KindImage, t.Entity.ID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if img.State == model.ImageDeleted {
		return nil
	}
	return s.RemoveImage(ctx, img)
}

func (imageDeleted) Failed(ctx context.Context, s *store.Store, _ domain.ChainID, t *model.Task, _ error) error {
	return releaseImage(ctx, s, t.Entity.ID, t.ID, model.ImageError)
}

func imageOf(t *model.Task) string {
	if id := t.Properties[PropImageID]; id != "" {
		return id
	}
	return t.Entity.ID
}

// releaseImage frees the image from task and puts it in state.
func releaseImage(ctx context.Context, s *store.Store, id, task, state string) error {
	return update(ctx, s, model.KindImage, id, func(im *model.Image) error {
		if im.ActiveTask != task || im.State == model.ImageDeleted {
			return store.ErrNoChange
		}
		im.ActiveTask, im.State = "", state
		return nil
	})
}
