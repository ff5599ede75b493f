// Package imagefiles puts image disks where VMs need them and takes them away: copies
// between the datastores of a host (hostd CopyImage), one at a time per image and
// datastore across the cloud, deletes from every datastore, and the wait until the hosts
// report an image where Photon put it (placement reads the hosts' reports).
//
// A hostd copies only between datastores it mounts, so an image reaches a host through
// its upload (the gateway seeds one image datastore per host) or a capture on it, and
// spreads from there.
package imagefiles

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Holds reports whether datastore d holds img, as Photon recorded it or as its host
// reported it.
func Holds(img *model.Image, d *model.Datastore) bool {
	return slices.Contains(img.Datastores, DatastoreID(d)) || slices.Contains(d.Images, img.DiskPath)
}

// DatastoreID is how an image records a datastore: its id, or its name when the host
// reported none.
func DatastoreID(d *model.Datastore) string {
	if d.ID != "" {
		return d.ID
	}
	return d.Name
}

// Owned reports whether the image's disk is its own ("images/<id>.vmdk", written by an
// upload or a capture) rather than a disk registered by path, which other images may
// name too and which Photon therefore never deletes.
func Owned(img *model.Image) bool { return img.DiskPath == "images/"+img.ID+".vmdk" }

// Record adds datastores to those the image is known to be on.
func Record(ctx context.Context, s *store.Store, image string, ids ...string) (*model.Image, error) {
	return store.Update(ctx, s, model.KindImage, image, func(im *model.Image) error {
		n := len(im.Datastores)
		for _, id := range ids {
			if !slices.Contains(im.Datastores, id) {
				im.Datastores = append(im.Datastores, id)
			}
		}
		if len(im.Datastores) == n {
			return store.ErrNoChange
		}
		return nil
	})
}

// copyLockTTL bounds how long a copier that died holds a copy's lock.
const copyLockTTL = 10 * time.Minute

// pollEvery is how often a wait reads Redis again.
const pollEvery = 50 * time.Millisecond

// Copy makes sure img is on datastore ds of host h, copying it there from another
// datastore of the host that holds it. Concurrent callers for one image and datastore
// (VM creates placed there at once) share one copy: the first takes a lock and the
// others wait for its marker. owner (a task id) names the lock's holder.
func Copy(ctx context.Context, s *store.Store, hc hostdv1.HostClient, h *model.Host, img *model.Image, ds, owner string) error {
	var target *model.Datastore
	for i := range h.Datastores {
		if h.Datastores[i].Name == ds {
			target = &h.Datastores[i]
		}
	}
	if target == nil {
		return errs.New(errs.CodeStateError, "host %s has no datastore %s", h.ID, ds)
	}
	if Holds(img, target) {
		return nil
	}
	id := DatastoreID(target)
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		done, err := s.ImageCopyDone(ctx, img.ID, id)
		if err != nil || done {
			return err
		}
		ok, err := s.LockImageCopy(ctx, img.ID, id, owner, copyLockTTL)
		if err != nil {
			return err
		}
		if ok {
			return copyLocked(ctx, s, hc, h, img, target, owner)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the copy of image %s to %s: %w", img.ID, ds, ctx.Err())
		case <-t.C:
		}
	}
}

func copyLocked(ctx context.Context, s *store.Store, hc hostdv1.HostClient, h *model.Host, img *model.Image, target *model.Datastore, owner string) (err error) {
	id := DatastoreID(target)
	defer func() {
		if err != nil {
			_ = s.UnlockImageCopy(context.WithoutCancel(ctx), img.ID, id, owner)
		}
	}()
	var src *model.Datastore
	for i := range h.Datastores {
		if d := &h.Datastores[i]; d.Name != target.Name && Holds(img, d) {
			src = d
			break
		}
	}
	if src == nil {
		return errs.New(errs.CodeStateError, "image %s is on no datastore of host %s to copy it from", img.ID, h.ID)
	}
	res, err := hc.CopyImage(ctx, &hostdv1.CopyImageRequest{SourceDatastore: src.Name, SourcePath: img.DiskPath,
		TargetDatastore: target.Name, TargetPath: img.DiskPath})
	if err != nil {
		return hostclient.Err(fmt.Sprintf("copy image %s to %s on host %s", img.ID, target.Name, h.ID), err)
	}
	if _, err := Record(ctx, s, img.ID, id); err != nil {
		return err
	}
	return s.ImageCopied(ctx, img.ID, id, owner, !res.GetExisted())
}

// Delete deletes an image's own disk from every datastore of the READY hosts that holds
// it. Hosts that are not READY cannot be reached and keep their copy.
func Delete(ctx context.Context, s *store.Store, hosts *hostclient.Pool, img *model.Image) error {
	if !Owned(img) {
		return nil
	}
	hs, err := s.ListHosts(ctx)
	if err != nil {
		return err
	}
	var failed []error
	for _, h := range hs {
		if h.State != model.HostReady {
			continue
		}
		for i := range h.Datastores {
			d := &h.Datastores[i]
			if !Holds(img, d) {
				continue
			}
			hc, err := hosts.For(ctx, h.ID)
			if err == nil {
				_, err = hc.DeleteFile(ctx, &hostdv1.DeleteFileRequest{Datastore: d.Name, Path: img.DiskPath})
				err = hostclient.Err(fmt.Sprintf("delete image %s from %s on host %s", img.ID, d.Name, h.ID), err)
			}
			if err != nil {
				failed = append(failed, err)
			}
		}
	}
	return errors.Join(failed...)
}

// WaitReported waits until every READY host with a datastore the image is recorded on
// reports the image there (the next usage read after a copy), so that placement, which
// reads those reports, finds it.
func WaitReported(ctx context.Context, s *store.Store, img *model.Image, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	for {
		hs, err := s.ListHosts(ctx)
		if err != nil {
			return err
		}
		missing := ""
		for _, h := range hs {
			if h.State != model.HostReady {
				continue
			}
			for _, d := range h.Datastores {
				if slices.Contains(img.Datastores, DatastoreID(&d)) && !slices.Contains(d.Images, img.DiskPath) {
					missing = h.ID + "/" + d.Name
				}
			}
		}
		if missing == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("host %s does not report image %s yet", missing, img.ID)
		case <-t.C:
		}
	}
}
