// Package images runs the steps of the image chains: the replication of a new image
// (EAGER: to every datastore of every READY host; ON_DEMAND: nothing more, VM creates
// copy it), the deletion of an image's disk from every datastore, and the capture of a
// stopped VM's boot disk as a new image.
//
// Consumes: io.photon.image.create, io.photon.image.delete, io.photon.vm.create_image and
// io.photon.vm.create_image.image.captured. Emits: io.photon.image.create.replicated,
// io.photon.image.delete.files.deleted, io.photon.vm.create_image.image.captured and
// .image.replicated. Nothing to undo: a failed image goes ERROR and its delete removes
// whatever was written. Idempotency: copies leave an existing target as it is, deletes
// of a missing file succeed, a capture over an existing image disk leaves it.
package images

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/photon-cloud/photon/functions/internal/imagefiles"
	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/finalize"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// PropImageID is the task property that names the image a VM's create_image makes.
const PropImageID = finalize.PropImageID

// ReportTimeout bounds the wait for the hosts to report a new image (a few heartbeats).
var ReportTimeout = 2 * time.Minute

// copiesAtOnce bounds the hosts an EAGER replication copies on at once.
const copiesAtOnce = 8

// Function is the images step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
}

// New returns the images function.
func New(s *store.Store, hosts *hostclient.Pool) *Function { return &Function{store: s, hosts: hosts} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "images" }

// Do runs the step the event asks for.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	switch op := c.Operation(); op {
	case domain.OpReplicateImage:
		return f.replicate(ctx, c)
	case domain.OpDeleteImageFiles:
		img, err := store.Get[model.Image](ctx, f.store, model.KindImage, imageID(c))
		if err != nil {
			return err
		}
		return imagefiles.Delete(ctx, f.store, f.hosts, img)
	case domain.OpCaptureVMImage:
		return f.capture(ctx, c)
	default:
		return errs.Permanent(fmt.Errorf("images: unknown step %s", op))
	}
}

// Undo has nothing to undo.
func (f *Function) Undo(context.Context, *runtime.Call) error { return nil }

// imageID is the image a step acts on: the task's entity, or the image a VM's
// create_image makes.
func imageID(c *runtime.Call) string {
	if id := c.Task.Properties[PropImageID]; id != "" {
		return id
	}
	return c.Data.EntityID
}

// replicate copies an EAGER image to every datastore of every READY host that holds it on
// one of its datastores, records how many datastores there are to hold it, and waits
// for the hosts to report it where it is.
func (f *Function) replicate(ctx context.Context, c *runtime.Call) error {
	img, err := store.Get[model.Image](ctx, f.store, model.KindImage, imageID(c))
	if err != nil {
		return err
	}
	hs, err := f.store.ListHosts(ctx)
	if err != nil {
		return err
	}
	var targets []string
	for _, h := range hs {
		if h.State != model.HostReady {
			continue
		}
		for i := range h.Datastores {
			if id := imagefiles.DatastoreID(&h.Datastores[i]); !slices.Contains(targets, id) {
				targets = append(targets, id)
			}
		}
	}
	if img.ReplicationType == model.ReplicationEager {
		if err := f.copyEverywhere(ctx, hs, img, c.Task.ID); err != nil {
			return err
		}
	}
	img, err = store.Update(ctx, f.store, model.KindImage, img.ID, func(im *model.Image) error {
		im.ReplicationTargets = len(targets)
		return nil
	})
	if err != nil {
		return err
	}
	return imagefiles.WaitReported(ctx, f.store, img, ReportTimeout)
}

// copyEverywhere copies img to the datastores of every READY host that holds it on one
// of them, a few hosts at a time. A host that holds it nowhere (added after the upload)
// cannot get it: replication progress shows it.
func (f *Function) copyEverywhere(ctx context.Context, hs []*model.Host, img *model.Image, owner string) error {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed error
		slots  = make(chan struct{}, copiesAtOnce)
	)
	for _, h := range hs {
		if h.State != model.HostReady || !slices.ContainsFunc(h.Datastores, func(d model.Datastore) bool { return imagefiles.Holds(img, &d) }) {
			continue
		}
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			err := f.copyOnHost(ctx, h, img, owner)
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return failed
}

func (f *Function) copyOnHost(ctx context.Context, h *model.Host, img *model.Image, owner string) error {
	hc, err := f.hosts.For(ctx, h.ID)
	if err != nil {
		return err
	}
	for _, d := range h.Datastores {
		if err := imagefiles.Copy(ctx, f.store, hc, h, img, d.Name, owner); err != nil {
			return err
		}
	}
	return nil
}

// capture writes the stopped VM's boot disk as the new image's disk on the VM's datastore.
func (f *Function) capture(ctx context.Context, c *runtime.Call) error {
	img, err := store.Get[model.Image](ctx, f.store, model.KindImage, imageID(c))
	if err != nil {
		return err
	}
	var dsID string
	ok, err := f.hosts.OnVMHost(ctx, c.Data.EntityID, "capture VM image", func(h hostdv1.HostClient, r model.HostReservation) error {
		host, err := f.store.GetHost(ctx, r.HostID)
		if err != nil {
			return err
		}
		for i := range host.Datastores {
			if host.Datastores[i].Name == r.Datastore {
				dsID = imagefiles.DatastoreID(&host.Datastores[i])
			}
		}
		if dsID == "" {
			return errs.New(errs.CodeStateError, "host %s no longer has datastore %s", r.HostID, r.Datastore)
		}
		_, err = h.CreateImageFromVm(ctx, &hostdv1.CreateImageFromVmRequest{VmId: c.Data.EntityID, Datastore: r.Datastore, TargetPath: img.DiskPath})
		return err
	})
	if err == nil && !ok {
		err = errs.New(errs.CodeStateError, "VM %s is on no host", c.Data.EntityID)
	}
	if err != nil {
		return err
	}
	_, err = store.Update(ctx, f.store, model.KindImage, img.ID, func(im *model.Image) error {
		if !slices.Contains(im.Datastores, dsID) {
			im.Datastores = append(im.Datastores, dsID)
		}
		im.SeedTargets, im.Seeded = 1, 1
		return nil
	})
	return err
}
