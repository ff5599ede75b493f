package images

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// Finalizers returns what the end of each image chain makes of the image (and, for a
// create_image, of the VM it was captured from).
func Finalizers(s *store.Store) map[string]runtime.Finalizer {
	return map[string]runtime.Finalizer{"image.create": created{s: s}, "vm.create_image": created{s: s, fromVM: true},
		"image.delete": deleted{s}}
}

type created struct {
	s *store.Store
	// fromVM: the task's entity is the VM the image was captured from.
	fromVM bool
}

// Completed makes the image READY and opens it to new VMs.
func (f created) Completed(ctx context.Context, t *store.Task) error {
	if err := f.end(ctx, t, store.ImageReady); err != nil {
		return err
	}
	return f.s.OpenImage(ctx, imageOf(t))
}

// Failed leaves the image in ERROR, for the user to delete.
func (f created) Failed(ctx context.Context, t *store.Task, _ error) error {
	return f.end(ctx, t, store.ImageError)
}

func (f created) end(ctx context.Context, t *store.Task, state string) error {
	if err := release(ctx, f.s, imageOf(t), t.ID, state); err != nil {
		return err
	}
	if !f.fromVM {
		return nil
	}
	_, err := store.Update(ctx, f.s, store.KindVM, t.Entity.ID, func(vm *store.VM) error {
		if vm.ActiveTask != t.ID {
			return store.ErrNoChange
		}
		vm.ActiveTask = ""
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}

type deleted struct{ s *store.Store }

// Completed ends the image: its disk is gone from every datastore.
func (f deleted) Completed(ctx context.Context, t *store.Task) error {
	img, err := store.Get[store.Image](ctx, f.s, store.KindImage, t.Entity.ID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if img.State == store.ImageDeleted {
		return nil
	}
	return f.s.RemoveImage(ctx, img)
}

// Failed leaves the image in ERROR, so that the delete can be tried again.
func (f deleted) Failed(ctx context.Context, t *store.Task, _ error) error {
	return release(ctx, f.s, t.Entity.ID, t.ID, store.ImageError)
}

func imageOf(t *store.Task) string {
	if id := t.Properties[PropImageID]; id != "" {
		return id
	}
	return t.Entity.ID
}

// release frees the image from task and puts it in state.
func release(ctx context.Context, s *store.Store, id, task, state string) error {
	_, err := store.Update(ctx, s, store.KindImage, id, func(im *store.Image) error {
		if im.ActiveTask != task || im.State == store.ImageDeleted {
			return store.ErrNoChange
		}
		im.ActiveTask, im.State = "", state
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}
