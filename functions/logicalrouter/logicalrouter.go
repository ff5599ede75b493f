// Package logicalrouter makes and removes the NSX-T side of Photon routers: a router's
// tier-1 logical router, and the connection of a subnet's logical switch to it.
//
// Consumes: io.photon.router.create (CREATE_LOGICAL_ROUTER), io.photon.subnet.create.switch.created
// (CONNECT_LOGICAL_ROUTER), and as the delete chains' forward steps io.photon.router.delete
// (DELETE_LOGICAL_ROUTER) and io.photon.subnet.delete (DISCONNECT_LOGICAL_ROUTER).
// Emits: io.photon.router.create.created, io.photon.subnet.create.router.connected, ...
// Undoes: deletes the logical router; disconnects the switch (router downlink port, then
// the switch port). Idempotency: the NSX objects carry the Photon id of the router or
// subnet as a tag, so a replay finds what the first run made (shared/nsx).
//
// Without NSX (no client) routers are address spaces only: every step does nothing.
package logicalrouter

import (
	"context"
	"fmt"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the logicalrouter step.
type Function struct {
	store *store.Store
	nsx   *nsx.Client
}

// New returns the logicalrouter function; n is nil when Photon runs without NSX.
func New(s *store.Store, n *nsx.Client) *Function { return &Function{store: s, nsx: n} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "logicalrouter" }

// Do makes the router's logical router (router chains) or connects the subnet's switch to
// its router's logical router, which answers on the subnet's first address (subnet chains).
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	if f.nsx == nil {
		return nil
	}
	switch c.Chain.Kind {
	case model.KindRouter:
		r, err := store.Get[model.Router](ctx, f.store, model.KindRouter, c.Data.EntityID)
		if err != nil {
			return err
		}
		id, err := f.nsx.EnsureRouter(ctx, r.ID, r.Name)
		if err != nil {
			return fmt.Errorf("logical router of router %s: %w", r.ID, err)
		}
		_, err = store.Update(ctx, f.store, model.KindRouter, r.ID, func(r *model.Router) error {
			if r.NSXID == id {
				return store.ErrNoChange
			}
			r.NSXID = id
			return nil
		})
		return err
	case model.KindSubnet:
		sn, err := store.Get[model.Subnet](ctx, f.store, model.KindSubnet, c.Data.EntityID)
		if err != nil {
			return err
		}
		r, err := store.Get[model.Router](ctx, f.store, model.KindRouter, sn.RouterID)
		if err != nil {
			return err
		}
		gw, ok := store.Gateway(sn.PrivateIPCIDR)
		switch {
		case r.NSXID == "":
			return errs.New(errs.CodeStateError, "Router #%s has no NSX logical router", r.ID)
		case sn.SwitchID == "":
			return errs.New(errs.CodeStateError, "Subnet #%s has no NSX logical switch", sn.ID)
		case !ok:
			return errs.Invalid("Subnet #%s: privateIpCidr %q has no gateway address", sn.ID, sn.PrivateIPCIDR)
		}
		if err := f.nsx.ConnectSwitch(ctx, sn.ID, r.NSXID, sn.SwitchID, gw); err != nil {
			return fmt.Errorf("connect subnet %s to router %s: %w", sn.ID, r.ID, err)
		}
		return nil
	}
	return errs.Permanent(fmt.Errorf("logicalrouter: no step for %s", c.Chain.Name))
}

// Undo deletes the router's logical router, or disconnects the subnet's switch from it.
// Both count what is already gone as done.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	if f.nsx == nil {
		return nil
	}
	switch c.Chain.Kind {
	case model.KindRouter:
		if err := f.nsx.DeleteRouter(ctx, c.Data.EntityID); err != nil {
			return fmt.Errorf("delete logical router of router %s: %w", c.Data.EntityID, err)
		}
		return nil
	case model.KindSubnet:
		if err := f.nsx.DisconnectSwitch(ctx, c.Data.EntityID); err != nil {
			return fmt.Errorf("disconnect subnet %s from its router: %w", c.Data.EntityID, err)
		}
		return nil
	}
	return errs.Permanent(fmt.Errorf("logicalrouter: no step for %s", c.Chain.Name))
}
