package nsx

import (
	"context"
	"net/http"

	"github.com/vmware/go-vmware-nsxt/common"
	"github.com/vmware/go-vmware-nsxt/manager"
)

// VMTagScope is the scope of the tag that names the VM a NIC's port belongs to.
const VMTagScope = "photon/vm"

func (c *Client) switches(ctx context.Context, photonID string) ([]manager.LogicalSwitch, error) {
	return listAll(ctx, c, "list logical switches",
		func(ctx context.Context, o map[string]any) ([]manager.LogicalSwitch, string, *http.Response, error) {
			r, resp, err := c.api.LogicalSwitchingApi.ListLogicalSwitches(ctx, o)
			return r.Results, r.Cursor, resp, err
		}, nil, func(s *manager.LogicalSwitch) bool { return tagged(s.Tags, photonID) })
}

// ports lists the logical ports that filter selects (e.g. logicalSwitchId, attachmentId)
// and that carry photonID's tag (any port when photonID is empty).
func (c *Client) ports(ctx context.Context, photonID string, filter map[string]any) ([]manager.LogicalPort, error) {
	return listAll(ctx, c, "list logical ports",
		func(ctx context.Context, o map[string]any) ([]manager.LogicalPort, string, *http.Response, error) {
			r, resp, err := c.api.LogicalSwitchingApi.ListLogicalPorts(ctx, o)
			return r.Results, r.Cursor, resp, err
		}, filter, func(p *manager.LogicalPort) bool { return photonID == "" || tagged(p.Tags, photonID) })
}

// EnsureSwitch returns the id of the logical switch of Photon subnet photonID, creating it
// (admin state UP, in the configured transport zone) when there is none.
func (c *Client) EnsureSwitch(ctx context.Context, photonID, name string) (string, error) {
	found, err := c.switches(ctx, photonID)
	if err != nil || len(found) > 0 {
		return firstID(found, func(s manager.LogicalSwitch) string { return s.Id }), err
	}
	tz, err := c.transportZone(ctx)
	if err != nil {
		return "", err
	}
	ls := manager.LogicalSwitch{DisplayName: name, TransportZoneId: tz.Id, AdminState: "UP", Tags: tags(photonID)}
	if tz.TransportType == "OVERLAY" {
		ls.ReplicationMode = "MTEP"
	}
	cctx, err := c.ctx(ctx)
	if err != nil {
		return "", err
	}
	ls, resp, err := c.api.LogicalSwitchingApi.CreateLogicalSwitch(cctx, ls)
	if e := callError("create logical switch "+name, resp, err); e != nil {
		return "", e.result()
	}
	return ls.Id, nil
}

// DeleteSwitch deletes the logical switch of Photon subnet photonID. NSX refuses while the
// switch still has ports; the error then satisfies IsConflict.
func (c *Client) DeleteSwitch(ctx context.Context, photonID string) error {
	found, err := c.switches(ctx, photonID)
	if err != nil {
		return err
	}
	for _, s := range found {
		cctx, err := c.ctx(ctx)
		if err != nil {
			return err
		}
		resp, err := c.api.LogicalSwitchingApi.DeleteLogicalSwitch(cctx, s.Id, nil)
		e := callError("delete logical switch "+s.Id, resp, err)
		if e != nil && e.Status == http.StatusBadRequest {
			if ports, lerr := c.ports(ctx, "", map[string]any{"logicalSwitchId": s.Id}); lerr == nil && len(ports) > 0 {
				e.Kind = ErrInUse
			}
		}
		if err := gone(e); err != nil {
			return err
		}
	}
	return nil
}

// EnsurePort returns the id of the logical port of NIC nicID on switch switchID, creating it
// with the NIC attached as a VIF (attachment id nicID) when there is none. A port of the NIC
// on another switch is a conflict.
func (c *Client) EnsurePort(ctx context.Context, nicID, switchID, vmID string) (string, error) {
	found, err := c.ports(ctx, nicID, map[string]any{"attachmentId": nicID})
	if err != nil {
		return "", err
	}
	for _, p := range found {
		if p.LogicalSwitchId != switchID {
			return "", (&Error{Op: "ensure logical port for NIC " + nicID, Kind: ErrInUse,
				Message: "the NIC already has port " + p.Id + " on logical switch " + p.LogicalSwitchId}).result()
		}
		return p.Id, nil
	}
	lp := manager.LogicalPort{
		DisplayName:     nicID,
		LogicalSwitchId: switchID,
		AdminState:      "UP",
		Attachment:      &manager.LogicalPortAttachment{AttachmentType: "VIF", Id: nicID},
		Tags:            tags(nicID, common.Tag{Scope: VMTagScope, Tag: vmID}),
	}
	cctx, err := c.ctx(ctx)
	if err != nil {
		return "", err
	}
	lp, resp, err := c.api.LogicalSwitchingApi.CreateLogicalPort(cctx, lp)
	if e := callError("create logical port for NIC "+nicID, resp, err); e != nil {
		return "", e.result()
	}
	return lp.Id, nil
}

// DeletePort deletes the logical port of NIC nicID, detaching the NIC.
func (c *Client) DeletePort(ctx context.Context, nicID string) error {
	found, err := c.ports(ctx, nicID, map[string]any{"attachmentId": nicID})
	if err != nil {
		return err
	}
	for _, p := range found {
		if err := c.deletePort(ctx, p.Id); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) deletePort(ctx context.Context, portID string) error {
	cctx, err := c.ctx(ctx)
	if err != nil {
		return err
	}
	resp, err := c.api.LogicalSwitchingApi.DeleteLogicalPort(cctx, portID, map[string]any{"detach": true})
	return gone(callError("delete logical port "+portID, resp, err))
}

// firstID is the id of the first object found, or "".
func firstID[T any](found []T, id func(T) string) string {
	if len(found) == 0 {
		return ""
	}
	return id(found[0])
}
