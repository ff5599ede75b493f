package place

import (
	"context"
	"errors"
	"fmt"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the place step.
type Function struct {
	store  *store.Store
	policy Policy
}

// DefaultPolicy overcommits CPU 8:1 and memory 1:1 and skips hosts silent for a minute.
var DefaultPolicy = Policy{CPURatio: 8, MemRatio: 1, StaleAfterMs: 60_000}

// New returns the place function.
func New(s *store.Store, p Policy) *Function { return &Function{store: s, policy: p} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "place" }

// Do places the VM and records its host and datastore.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	vm, err := store.Get[store.VM](ctx, f.store, store.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	r, ok, err := f.store.HostReservationOf(ctx, vm.ID)
	if err != nil {
		return err
	}
	if !ok {
		if r, err = f.reserve(ctx, vm); err != nil {
			return err
		}
	}
	_, err = store.Update(ctx, f.store, store.KindVM, vm.ID, func(v *store.VM) error {
		v.HostID, v.Datastore = r.HostID, r.Datastore
		return nil
	})
	return err
}

func (f *Function) reserve(ctx context.Context, vm *store.VM) (store.HostReservation, error) {
	img, err := store.Get[store.Image](ctx, f.store, store.KindImage, vm.SourceImageID)
	if err != nil {
		return store.HostReservation{}, err
	}
	hosts, err := f.store.ListHosts(ctx)
	if err != nil {
		return store.HostReservation{}, err
	}
	cands := make([]Candidate, 0, len(hosts))
	for _, h := range hosts {
		capy, err := f.store.GetHostCapacity(ctx, h.ID)
		if err != nil {
			return store.HostReservation{}, err
		}
		cands = append(cands, Candidate{Host: h, Capacity: capy})
	}
	req := Request{CPU: int64(vm.CPU), MemoryMB: vm.MemoryMB, Image: img.DiskPath}
	choices, rej := Feasible(req, cands, f.policy, f.store.Now())
	for _, ch := range choices {
		r, err := f.store.ReserveHost(ctx, vm.ID, store.HostReservation{HostID: ch.Host.ID, Datastore: ch.Datastore,
			CPU: req.CPU, MemoryMB: req.MemoryMB}, f.policy.CPURatio, f.policy.MemRatio)
		if errors.Is(err, store.ErrHostFull) {
			rej["capacity taken meanwhile"]++
			continue
		}
		return r, err
	}
	msg := fmt.Sprintf("no host can take %d vCPU and %d MB with image %s: %d hosts", req.CPU, req.MemoryMB, img.Name, len(hosts))
	if len(rej) > 0 {
		msg += ", " + rej.String()
	}
	return store.HostReservation{}, errs.New(errs.CodeNotEnoughCapacity, "%s", msg)
}

// Undo releases the VM's host reservation.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	_, err := f.store.ReleaseHost(ctx, c.Data.EntityID)
	if err != nil {
		return err
	}
	_, err = store.Update(ctx, f.store, store.KindVM, c.Data.EntityID, func(v *store.VM) error {
		v.HostID, v.Datastore = "", ""
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}
