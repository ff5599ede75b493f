package place

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"time"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the place step.
type Function struct {
	store  *store.Store
	policy Policy
	hosts  hostCache
}

// hostCache keeps the host records (not their counters, which are read per placement)
// for a second: they change on registration and state changes, not per VM.
type hostCache struct {
	mu    sync.Mutex
	at    time.Time
	hosts []*store.Host
}

func (c *hostCache) get(ctx context.Context, s *store.Store) ([]*store.Host, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hosts != nil && time.Since(c.at) < time.Second {
		return c.hosts, nil
	}
	hosts, err := s.ListHosts(ctx)
	if err != nil {
		return nil, err
	}
	c.hosts, c.at = hosts, time.Now()
	return hosts, nil
}

// DefaultPolicy overcommits CPU 8:1 and memory 1:1 and skips hosts silent for a minute.
var DefaultPolicy = Policy{CPURatio: 8, MemRatio: 1, StaleAfterMs: 60_000}

// New returns the place function.
func New(s *store.Store, p Policy) *Function { return &Function{store: s, policy: p} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "place" }

// Do places the VM and records its host and datastore.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	vm, raw, err := store.GetRaw[store.VM](ctx, f.store, store.KindVM, c.Data.EntityID)
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
	_, _, err = store.UpdateFrom(ctx, f.store, store.KindVM, vm.ID, raw, func(v *store.VM) error {
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
	hosts, err := f.hosts.get(ctx, f.store)
	if err != nil {
		return store.HostReservation{}, err
	}
	ids := make([]string, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
	}
	caps, err := f.store.HostCapacities(ctx, ids...)
	if err != nil {
		return store.HostReservation{}, err
	}
	cands := make([]Candidate, len(hosts))
	for i, h := range hosts {
		cands[i] = Candidate{Host: h, Capacity: caps[i]}
	}
	req := Request{CPU: int64(vm.CPU), MemoryMB: vm.MemoryMB, Image: img.DiskPath}
	choices, rej := Feasible(req, cands, f.policy, f.store.Now())
	// Placements running at once see the same counters and would all pick the best host:
	// each starts at one of the best few, chosen by its VM id, and falls through the rest.
	if k := min(len(choices), f.policy.spreadOver()); k > 1 {
		i := int(crc32.ChecksumIEEE([]byte(vm.ID)) % uint32(k))
		choices = append(choices[i:i+1], append(slices.Clone(choices[:i]), choices[i+1:]...)...)
	}
	for _, ch := range choices {
		r, _, err := f.store.ReserveHost(ctx, vm.ID, store.HostReservation{HostID: ch.Host.ID, Datastore: ch.Datastore,
			CPU: req.CPU, MemoryMB: req.MemoryMB}, store.Ratios{CPU: f.policy.CPURatio, Mem: f.policy.MemRatio}, 0)
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
