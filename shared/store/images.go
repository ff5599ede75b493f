package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/model"
)

// Images. Besides its record (image:<id>) and indexes, an image has a gate and a set of
// the VMs that use it, both under the image id's hash tag so that one script sees them
// together: the gate says whether new VMs may start using the image (READY) or not
// (PENDING_DELETE, or missing while the image is being created), and the set is what a
// delete waits to empty.

func (s *Store) imagesIdx() string { return s.key("idx", "images") }

// publicImagesIdx and projectImagesIdx index the public images and a project's images
// (imagesIdx has them all).
func (s *Store) publicImagesIdx() string           { return s.key("idx", "images", "public") }
func (s *Store) projectImagesIdx(id string) string { return s.key("idx", "images", "project", id) }
func (s *Store) imageGate(id string) string        { return s.key("imagegate", "{"+id+"}") }
func (s *Store) imageVMs(id string) string         { return s.key("imagevms", "{"+id+"}") }
func (s *Store) imageCopy(id, ds string) string    { return s.key("imagecopy", "{"+id+"}", ds) }
func (s *Store) imageCopyLock(id, ds string) string {
	return s.key("imagecopy", "{"+id+"}", ds, "lock")
}
func (s *Store) imageCopies(id string) string { return s.key("imagecopies", "{"+id+"}") }

// imageIndexes adds the index writes of im to b (Index or Unindex).
func (s *Store) imageIndexes(b *Batch, im *model.Image, add bool) *Batch {
	op := b.Index
	if !add {
		op = b.Unindex
	}
	m := indexMember(im.CreatedAt, im.ID)
	op(s.imagesIdx(), m)
	if im.ProjectID == "" {
		op(s.publicImagesIdx(), m)
	} else {
		op(s.projectImagesIdx(im.ProjectID), m)
	}
	return b
}

// CreateImage writes the image and its task. An image written READY (a registered disk)
// is open to VMs at once; any other waits for OpenImage.
func (s *Store) CreateImage(ctx context.Context, im *model.Image, task *model.Task) error {
	b := new(Batch).Put(s.entityKey(model.KindImage, im.ID), im)
	s.imageIndexes(b, im, true)
	if im.ProjectID != "" {
		b.Require(s.entityKey(model.KindProject, im.ProjectID), "Project #"+im.ProjectID)
	}
	if im.State == model.ImageReady {
		// The gate is a plain string, which Put (JSON) would quote; a new image's gate
		// is free to claim.
		b.Unique(s.imageGate(im.ID), model.ImageReady, "Image #"+im.ID)
	}
	if task != nil {
		s.AddTask(b, task)
	}
	return s.Apply(ctx, b)
}

// ListImages pages through every image.
func (s *Store) ListImages(ctx context.Context, size int, cursor string) (Page[model.Image], error) {
	return List[model.Image](ctx, s, s.imagesIdx(), model.KindImage, size, cursor)
}

// ListPublicImages pages through the images of no project.
func (s *Store) ListPublicImages(ctx context.Context, size int, cursor string) (Page[model.Image], error) {
	return List[model.Image](ctx, s, s.publicImagesIdx(), model.KindImage, size, cursor)
}

// ListProjectImages pages through a project's own images.
func (s *Store) ListProjectImages(ctx context.Context, project string, size int, cursor string) (Page[model.Image], error) {
	return List[model.Image](ctx, s, s.projectImagesIdx(project), model.KindImage, size, cursor)
}

// RemoveImage ends an image: its record stays an hour as DELETED (for clients polling
// it) but leaves every index, and its gate and VM set go.
func (s *Store) RemoveImage(ctx context.Context, im *model.Image) error {
	im.State, im.ActiveTask = model.ImageDeleted, ""
	b := new(Batch).Put(s.entityKey(model.KindImage, im.ID), im).Del(s.imageGate(im.ID)).Del(s.imageVMs(im.ID))
	if err := s.Apply(ctx, s.imageIndexes(b, im, false)); err != nil {
		return err
	}
	return s.rdb.Expire(ctx, s.entityKey(model.KindImage, im.ID), time.Hour).Err()
}

// openImage: KEYS gate; opens the gate unless a delete closed it.
var openImage = redis.NewScript(`
if redis.call('GET', KEYS[1]) == 'PENDING_DELETE' then return 0 end
redis.call('SET', KEYS[1], 'READY')
return 1
`)

// OpenImage lets new VMs use the image (it became READY).
func (s *Store) OpenImage(ctx context.Context, id string) error {
	return openImage.Run(ctx, s.rdb, []string{s.imageGate(id)}).Err()
}

// ReopenImage opens the image to new VMs again after a delete that did not start.
func (s *Store) ReopenImage(ctx context.Context, id string) error {
	return s.rdb.Set(ctx, s.imageGate(id), model.ImageReady, 0).Err()
}

// useImage: KEYS gate, VM set; ARGV VM id. A VM already counted is counted again (a
// replayed step), whatever the gate says now.
var useImage = redis.NewScript(`
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'READY' end
local g = redis.call('GET', KEYS[1])
if g ~= 'READY' then return g or '' end
redis.call('SADD', KEYS[2], ARGV[1])
return g
`)

// UseImage counts vm among the users of an image if the image is open to new VMs. It
// returns false and the gate's state ("" for an image not yet READY) otherwise.
func (s *Store) UseImage(ctx context.Context, image, vm string) (ok bool, state string, err error) {
	state, err = useImage.Run(ctx, s.rdb, []string{s.imageGate(image), s.imageVMs(image)}, vm).Text()
	if err != nil {
		return false, "", fmt.Errorf("use image %s: %w", image, err)
	}
	return state == model.ImageReady, state, nil
}

// releaseImage: KEYS gate, VM set; ARGV VM id. 1 when the set is empty and a delete waits.
var releaseImage = redis.NewScript(`
redis.call('SREM', KEYS[2], ARGV[1])
if redis.call('SCARD', KEYS[2]) == 0 and redis.call('GET', KEYS[1]) == 'PENDING_DELETE' then return 1 end
return 0
`)

// ReleaseImage removes vm from the users of an image; last is true when no VM uses it any
// more and it waits to be deleted (true again on a replay: deleting it is idempotent).
func (s *Store) ReleaseImage(ctx context.Context, image, vm string) (last bool, err error) {
	n, err := releaseImage.Run(ctx, s.rdb, []string{s.imageGate(image), s.imageVMs(image)}, vm).Int()
	if err != nil {
		return false, fmt.Errorf("release image %s: %w", image, err)
	}
	return n == 1, nil
}

// closeImage: KEYS gate, VM set. Closes the gate and counts the users left.
var closeImage = redis.NewScript(`
redis.call('SET', KEYS[1], 'PENDING_DELETE')
return redis.call('SCARD', KEYS[2])
`)

// CloseImage stops new VMs from using an image and returns how many VMs still use it.
func (s *Store) CloseImage(ctx context.Context, id string) (users int64, err error) {
	users, err = closeImage.Run(ctx, s.rdb, []string{s.imageGate(id), s.imageVMs(id)}).Int64()
	if err != nil {
		return 0, fmt.Errorf("close image %s: %w", id, err)
	}
	return users, nil
}

// ImageCopyDone reports whether the image was copied to datastore ds (an ON_DEMAND copy).
func (s *Store) ImageCopyDone(ctx context.Context, image, ds string) (bool, error) {
	n, err := s.rdb.Exists(ctx, s.imageCopy(image, ds)).Result()
	return n == 1, err
}

// LockImageCopy takes the lock on copying image to datastore ds for owner, for at most
// ttl (a copier that died frees it then). False when someone else holds it.
func (s *Store) LockImageCopy(ctx context.Context, image, ds, owner string, ttl time.Duration) (bool, error) {
	return s.rdb.SetNX(ctx, s.imageCopyLock(image, ds), owner, ttl).Result()
}

// imageCopied: KEYS marker, lock, counter; ARGV datastore, owner, copied (1: a copy was
// made, 0: the target was there already).
var imageCopied = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == '1' then redis.call('HINCRBY', KEYS[3], ARGV[1], 1) end
if redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
return 1
`)

// ImageCopied records that owner put image on datastore ds (copied: it made the copy)
// and frees the lock.
func (s *Store) ImageCopied(ctx context.Context, image, ds, owner string, copied bool) error {
	c := "0"
	if copied {
		c = "1"
	}
	return imageCopied.Run(ctx, s.rdb, []string{s.imageCopy(image, ds), s.imageCopyLock(image, ds), s.imageCopies(image)}, ds, owner, c).Err()
}

// unlockImageCopy: KEYS lock; ARGV owner.
var unlockImageCopy = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`)

// UnlockImageCopy frees owner's lock on a copy that failed.
func (s *Store) UnlockImageCopy(ctx context.Context, image, ds, owner string) error {
	return unlockImageCopy.Run(ctx, s.rdb, []string{s.imageCopyLock(image, ds)}, owner).Err()
}

// ImageCopies is how many on-demand copies of image were made to datastore ds.
func (s *Store) ImageCopies(ctx context.Context, image, ds string) (int64, error) {
	n, err := s.rdb.HGet(ctx, s.imageCopies(image), ds).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}
