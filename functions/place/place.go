package place

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the place step.
type Function struct {
	store  *store.Store
	policy Policy
	index  *Index
}

// New returns the place function.
func New(s *store.Store, p Policy) *Function {
	return &Function{store: s, policy: p, index: NewIndex(s, p)}
}

// Background keeps the index current between placements: every SyncEvery it does what a
// placement does first (load the index, or start a sync when one is due; a sync also
// marks hosts that missed their heartbeats ERROR), until ctx ends. Meanwhile the index
// answers the fleet's gauges (metrics.go).
func (f *Function) Background(ctx context.Context) {
	defer f.observe()()
	t := time.NewTicker(f.index.SyncEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		_ = f.index.ensure(ctx) // a failed load is tried again at the next tick
	}
}

// Name implements runtime.Function.
func (f *Function) Name() string { return "place" }

// Do places the VM and records its host and datastore.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	if c.Operation() == "RESIZE_ON_HOST" {
		r, err := store.ResizeOf(c.Task)
		if err != nil {
			return err
		}
		return f.store.ResizeHost(ctx, c.Data.EntityID, int64(r.CPU), r.MemoryMB, f.policy.Ratios())
	}
	vm, raw, err := store.GetRaw[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	r, ok, err := f.store.HostReservationOf(ctx, vm.ID)
	if err != nil {
		return err
	}
	if !ok {
		req, err := f.request(ctx, vm)
		if err != nil {
			return err
		}
		if r, err = f.Place(ctx, req); err != nil {
			return err
		}
	}
	_, _, err = store.UpdateFrom(ctx, f.store, model.KindVM, vm.ID, raw, func(v *model.VM) error {
		v.HostID, v.Datastore = r.HostID, r.Datastore
		return nil
	})
	return err
}

// request turns a VM's flavor, disks, image and affinities into a placement request.
func (f *Function) request(ctx context.Context, vm *model.VM) (Request, error) {
	img, err := store.Get[model.Image](ctx, f.store, model.KindImage, vm.SourceImageID)
	if err != nil {
		return Request{}, err
	}
	// An ON_DEMAND image is copied to the chosen datastore from another of the host's.
	onDemand := img.ReplicationType == model.ReplicationOnDemand
	req := Request{VM: vm.ID, CPU: int64(vm.CPU), MemoryMB: vm.MemoryMB, Image: img.DiskPath, ImageRequired: !onDemand,
		ImageOnHost: onDemand, Policy: vm.Placement}
	for _, d := range vm.Disks {
		req.DiskMB += int64(d.CapacityGB) << 10
	}
	for _, a := range vm.Affinities {
		if err := f.constrain(ctx, &req, a); err != nil {
			return Request{}, err
		}
	}
	if g := vm.AntiAffinity; g != nil && g.Group != "" {
		req.Group, req.GroupHard, req.GroupCap = f.store.GroupKey(vm.ProjectID, g.Group), g.Hard, g.MaxPerHost
	}
	return req, nil
}

// one sets a constraint that two affinities must not name differently.
func one(field *string, kind, id string) error {
	if *field != "" && *field != id {
		return errs.Invalid("affinities name two different %s: %s and %s", kind, *field, id)
	}
	*field = id
	return nil
}

// constrain narrows req by one affinity, as a VM's and a persistent disk's read them.
func (f *Function) constrain(ctx context.Context, req *Request, a model.Locality) (err error) {
	switch a.Kind {
	case model.LocalityHost:
		err = one(&req.Host, "hosts", a.ID)
	case model.LocalityZone:
		err = one(&req.Zone, "availability zones", a.ID)
	case model.LocalityVM:
		other, gerr := store.Get[model.VM](ctx, f.store, model.KindVM, a.ID)
		switch {
		case gerr != nil:
			err = errs.Invalid("vm affinity: %v", gerr)
		case other.HostID == "":
			err = errs.Invalid("vm affinity: VM %s is not on a host yet", a.ID)
		default:
			err = one(&req.Host, "hosts", other.HostID)
		}
	case model.LocalityDatastore:
		err = one(&req.Datastore, "datastores", a.ID)
	case model.LocalityDisk:
		d, gerr := store.Get[model.PersistentDisk](ctx, f.store, model.KindDisk, a.ID)
		switch {
		case gerr != nil:
			err = errs.Invalid("disk affinity: %v", gerr)
		case d.DatastoreID == "":
			err = errs.Invalid("disk affinity: persistent disk %s is not on a datastore yet", a.ID)
		default:
			err = one(&req.Datastore, "datastores", d.DatastoreID)
		}
	case model.LocalityHostTag:
		req.HostTags = append(req.HostTags, a.ID)
	case model.LocalityDatastoreTag:
		req.DatastoreTags = append(req.DatastoreTags, a.ID)
	case model.LocalityDatastoreType:
		err = one(&req.DatastoreType, "datastore types", a.ID)
	default:
		err = errs.Invalid("unknown affinity kind %q", a.Kind)
	}
	return err
}

// rounds bounds how often a placement walks the index again after every host it tried
// was taken meanwhile by placements elsewhere.
const rounds = 8

// Place chooses a host for req and reserves it: the index names the best few feasible
// hosts, and the reservation script re-verifies each in turn.
func (f *Function) Place(ctx context.Context, req Request) (model.HostReservation, error) {
	if err := f.index.ensure(ctx); err != nil {
		return model.HostReservation{}, err
	}
	if req.Group != "" {
		counts, err := f.store.GroupCounts(ctx, req.Group)
		if err != nil {
			return model.HostReservation{}, err
		}
		req.GroupCounts = counts
	}
	var groupCap int32
	if req.GroupHard {
		groupCap = int32(req.groupCap())
	}
	taken, synced := 0, false
	for range rounds {
		choices := f.index.choose(&req, f.store.Now(), f.policy.spreadOver())
		if len(choices) == 0 && !synced {
			// The index may not know yet what makes this request fit (a host that just
			// registered or left maintenance, room just released): catch up once.
			synced = true
			if err := f.index.Sync(ctx); err != nil {
				return model.HostReservation{}, err
			}
			choices = f.index.choose(&req, f.store.Now(), f.policy.spreadOver())
		}
		if len(choices) == 0 {
			break
		}
		for i, ch := range choices {
			if i > 0 {
				f.index.claim(ch.Host.ID, ch.Datastore, &req)
			}
			r, counters, err := f.store.ReserveHost(ctx, req.VM, model.HostReservation{HostID: ch.Host.ID,
				Datastore: ch.Datastore, CPU: req.CPU, MemoryMB: req.MemoryMB, DiskMB: req.DiskMB, Group: req.Group},
				f.policy.Ratios(), groupCap)
			var full *store.HostFullError
			switch {
			case err == nil:
				f.index.settle(ch.Host.ID, ch.Datastore, &req, counters)
				return r, nil
			case errors.As(err, &full):
				f.index.settle(ch.Host.ID, ch.Datastore, &req, full.Counters)
			case errors.Is(err, errs.ErrNotFound): // the host is gone; the next sync drops it
				f.index.settle(ch.Host.ID, ch.Datastore, &req, counters)
				full = &store.HostFullError{}
			default:
				f.index.settle(ch.Host.ID, ch.Datastore, &req, store.ReservedCounters{Ver: -1})
				return model.HostReservation{}, err
			}
			taken++
			if full.Resource == "anti-affinity" {
				req.GroupCounts[ch.Host.ID] = req.groupCap()
			}
		}
	}
	return model.HostReservation{}, f.noHost(&req, taken)
}

// noHost explains a failed placement: what was asked, and why each host was rejected.
func (f *Function) noHost(req *Request, taken int) error {
	n, rej := f.index.Explain(req, f.store.Now())
	var where []string
	if req.Zone != "" {
		where = append(where, "in zone "+req.Zone)
	}
	if req.Host != "" {
		where = append(where, "on host "+req.Host)
	}
	for _, t := range req.HostTags {
		where = append(where, "tagged "+t)
	}
	msg := fmt.Sprintf("no host %s can take %d vCPU, %d MB memory and %d MB disk", strings.Join(where, " "),
		req.CPU, req.MemoryMB, req.DiskMB)
	if req.ByDatastore {
		if req.Datastore != "" {
			where = append(where, "named "+req.Datastore)
		}
		if req.DatastoreType != "" {
			where = append(where, "of type "+req.DatastoreType)
		}
		for _, t := range req.DatastoreTags {
			where = append(where, "tagged "+t)
		}
		msg = fmt.Sprintf("no datastore %s has room for a %d GB disk", strings.Join(where, " "), req.DiskMB>>10)
	}
	msg = strings.Join(strings.Fields(msg), " ")
	msg += fmt.Sprintf(": %d hosts", n)
	if len(rej) > 0 {
		msg += ", " + rej.String()
	}
	if taken > 0 {
		msg += fmt.Sprintf("; %d taken by other placements meanwhile", taken)
	}
	return errs.New(rej.Code(), "%s", msg)
}

// Undo releases the VM's host reservation.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	if c.Operation() == "RESIZE_ON_HOST" {
		// Back to the VM's size, which the resize has not changed yet.
		vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
		if err != nil {
			return err
		}
		return f.store.ResizeHost(ctx, vm.ID, int64(vm.CPU), vm.MemoryMB, f.policy.Ratios())
	}
	_, err := f.store.ReleaseHost(ctx, c.Data.EntityID)
	if err != nil {
		return err
	}
	_, err = store.Update(ctx, f.store, model.KindVM, c.Data.EntityID, func(v *model.VM) error {
		v.HostID, v.Datastore = "", ""
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}
