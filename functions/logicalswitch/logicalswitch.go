// Package logicalswitch makes and removes the NSX-T logical switch behind a Photon subnet.
//
// Consumes: io.photon.subnet.create (CREATE_LOGICAL_SWITCH) and, as the delete chain's
// forward step, io.photon.subnet.delete.router.disconnected (DELETE_LOGICAL_SWITCH).
// Emits: io.photon.subnet.create.switch.created, io.photon.subnet.delete.switch.deleted.
// Undoes: deletes the switch. Idempotency: the switch carries the subnet's id as a tag, so
// a replay finds the switch the first run made (shared/nsx).
//
// Without NSX (no client) a subnet is backed by the hosts' port groups: the step does
// nothing.
package logicalswitch

import (
	"context"
	"fmt"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the logicalswitch step.
type Function struct {
	store *store.Store
	nsx   *nsx.Client
}

// New returns the logicalswitch function; n is nil when Photon runs without NSX.
func New(s *store.Store, n *nsx.Client) *Function { return &Function{store: s, nsx: n} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "logicalswitch" }

// Do makes the subnet's logical switch and records its id on the subnet.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	if f.nsx == nil {
		return nil
	}
	sn, err := store.Get[model.Subnet](ctx, f.store, model.KindSubnet, c.Data.EntityID)
	if err != nil {
		return err
	}
	id, err := f.nsx.EnsureSwitch(ctx, sn.ID, sn.Name)
	if err != nil {
		return fmt.Errorf("logical switch of subnet %s: %w", sn.ID, err)
	}
	_, err = store.Update(ctx, f.store, model.KindSubnet, sn.ID, func(sn *model.Subnet) error {
		if sn.SwitchID == id {
			return store.ErrNoChange
		}
		sn.SwitchID = id
		return nil
	})
	return err
}

// Undo deletes the subnet's logical switch (NSX refuses while ports are left on it: the
// router's port goes in the step before, VMs' ports with the VMs).
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	if f.nsx == nil {
		return nil
	}
	if err := f.nsx.DeleteSwitch(ctx, c.Data.EntityID); err != nil {
		return fmt.Errorf("delete logical switch of subnet %s: %w", c.Data.EntityID, err)
	}
	return nil
}
