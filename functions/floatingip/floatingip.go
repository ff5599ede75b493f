// Package floatingip gives a VM a floating IP and takes it back: an address of the
// system's floating IP pool (vmrules.FloatingPool, a port-group subnet's address table in
// Redis, allocated like a NIC's) and, on NSX, a DNAT and an SNAT rule on the logical
// router of the VM's NIC's subnet mapping it to the NIC's address.
//
// Consumes: io.photon.vm.acquire_floating_ip.quota.reserved (ALLOCATE_FLOATING_IP), and
// as the forward steps of io.photon.vm.release_floating_ip.authorized and
// io.photon.vm.delete.quota.released (FREE_FLOATING_IP).
// Emits: io.photon.vm.acquire_floating_ip.allocated, io.photon.vm.release_floating_ip.freed,
// io.photon.vm.delete.floatingip.freed.
// Undoes: the NAT rules, the address, and the VM's record of them (its cost loses its
// sdn.floatingip.size; the quota step that follows, or precedes on a delete, moves the
// reservation). Idempotency: the address is keyed by vmrules.FloatingOwner and the NAT
// rules carry the same id as a tag, so a replay finds what the first run made.
package floatingip

import (
	"context"
	"errors"
	"fmt"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the floatingip step.
type Function struct {
	store *store.Store
	nsx   *nsx.Client
}

// New returns the floatingip function; n is nil when Photon runs without NSX (the
// address is then only recorded: there is no router to translate it).
func New(s *store.Store, n *nsx.Client) *Function { return &Function{store: s, nsx: n} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "floatingip" }

// routerOf is the NSX logical router of the subnet a NIC is on, "" when there is none.
func (f *Function) routerOf(ctx context.Context, sn *model.Subnet) (string, error) {
	if f.nsx == nil || sn == nil || sn.RouterID == "" {
		return "", nil
	}
	r, err := store.Get[model.Router](ctx, f.store, model.KindRouter, sn.RouterID)
	if errors.Is(err, errs.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return r.NSXID, nil
}

// Do allocates the address of the pool the task names, maps it on NSX to the NIC the task
// names, and records both on the VM with the address in its cost.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	pool, nicID := c.Task.Properties[vmrules.PropFloatingPool], c.Task.Properties[vmrules.PropFloatingNic]
	if pool == "" || nicID == "" {
		return errs.Permanent(fmt.Errorf("floatingip: task %s names no pool or NIC", c.Task.ID))
	}
	nic, sn, err := f.nic(ctx, vm, nicID)
	if err != nil {
		return err
	}
	ip, err := f.store.AllocateIP(ctx, pool, vmrules.FloatingOwner(vm.ID))
	if err != nil {
		return err
	}
	if ip == "" {
		return errs.Permanent(errs.New(errs.CodeStateError, "the floating IP pool, Subnet #%s, has no address range", pool))
	}
	router, err := f.routerOf(ctx, sn)
	if err != nil {
		return err
	}
	if router != "" {
		if err := f.nsx.EnsureFloatingIP(ctx, vmrules.FloatingOwner(vm.ID), router, ip, nic.IP); err != nil {
			return fmt.Errorf("NAT rules of the floating IP of vm %s: %w", vm.ID, err)
		}
	}
	_, err = store.Update(ctx, f.store, model.KindVM, vm.ID, func(v *model.VM) error {
		if v.FloatingIP == ip && v.FloatingSubnet == pool && v.FloatingNic == nicID {
			return store.ErrNoChange
		}
		v.FloatingIP, v.FloatingSubnet, v.FloatingNic = ip, pool, nicID
		v.Cost = vmrules.WithFloatingIP(v.Cost, true)
		return nil
	})
	return err
}

// nic is the VM's NIC nicID with the subnet it is on (nil for none of Photon's).
func (f *Function) nic(ctx context.Context, vm *model.VM, nicID string) (model.Nic, *model.Subnet, error) {
	for _, n := range vm.Nics {
		if n.ID != nicID {
			continue
		}
		sn, err := store.Get[model.Subnet](ctx, f.store, model.KindSubnet, n.Network)
		if errors.Is(err, errs.ErrNotFound) {
			return n, nil, nil
		}
		return n, sn, err
	}
	return model.Nic{}, nil, errs.Permanent(errs.New(errs.CodeStateError, "Vm #%s has no NIC %s", vm.ID, nicID))
}

// Undo removes the NAT rules, gives the address back and clears the VM's record of them;
// a VM without a floating IP (and an acquire that allocated nothing) has nothing to undo.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	pool, nicID := vm.FloatingSubnet, vm.FloatingNic
	if pool == "" {
		pool, nicID = c.Task.Properties[vmrules.PropFloatingPool], c.Task.Properties[vmrules.PropFloatingNic]
	}
	if pool == "" {
		return nil
	}
	if nicID != "" {
		_, sn, err := f.nic(ctx, vm, nicID)
		if err != nil && !errors.Is(err, errs.ErrState) {
			return err
		}
		router, err := f.routerOf(ctx, sn)
		if err != nil {
			return err
		}
		if router != "" {
			if err := f.nsx.DeleteFloatingIP(ctx, vmrules.FloatingOwner(vm.ID), router); err != nil {
				return fmt.Errorf("delete the NAT rules of the floating IP of vm %s: %w", vm.ID, err)
			}
		}
	}
	if _, err := f.store.ReleaseIP(ctx, pool, vmrules.FloatingOwner(vm.ID)); err != nil {
		return err
	}
	_, err = store.Update(ctx, f.store, model.KindVM, vm.ID, func(v *model.VM) error {
		if v.FloatingSubnet == "" {
			return store.ErrNoChange
		}
		v.FloatingIP, v.FloatingSubnet, v.FloatingNic = "", "", ""
		v.Cost = vmrules.WithFloatingIP(v.Cost, false)
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}
