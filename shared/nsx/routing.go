package nsx

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"

	"github.com/vmware/go-vmware-nsxt/common"
	"github.com/vmware/go-vmware-nsxt/manager"

	"github.com/photon-cloud/photon/shared/errs"
)

func (c *Client) routers(ctx context.Context, photonID string) ([]manager.LogicalRouter, error) {
	return listAll(ctx, c, "list logical routers",
		func(ctx context.Context, o map[string]any) ([]manager.LogicalRouter, string, *http.Response, error) {
			r, resp, err := c.api.LogicalRoutingAndServicesApi.ListLogicalRouters(ctx, o)
			return r.Results, r.Cursor, resp, err
		}, map[string]any{"routerType": "TIER1"}, func(r *manager.LogicalRouter) bool { return tagged(r.Tags, photonID) })
}

// routerPorts lists the router ports that filter selects (e.g. logicalRouterId) and that
// carry photonID's tag (any port when photonID is empty).
func (c *Client) routerPorts(ctx context.Context, photonID string, filter map[string]any) ([]manager.LogicalRouterPort, error) {
	return listAll(ctx, c, "list logical router ports",
		func(ctx context.Context, o map[string]any) ([]manager.LogicalRouterPort, string, *http.Response, error) {
			r, resp, err := c.api.LogicalRoutingAndServicesApi.ListLogicalRouterPorts(ctx, o)
			return r.Results, r.Cursor, resp, err
		}, filter, func(p *manager.LogicalRouterPort) bool { return photonID == "" || tagged(p.Tags, photonID) })
}

// EnsureRouter returns the id of the tier-1 logical router of Photon router photonID,
// creating it when there is none.
func (c *Client) EnsureRouter(ctx context.Context, photonID, name string) (string, error) {
	found, err := c.routers(ctx, photonID)
	if err != nil || len(found) > 0 {
		return firstID(found, func(r manager.LogicalRouter) string { return r.Id }), err
	}
	cctx, err := c.ctx(ctx)
	if err != nil {
		return "", err
	}
	lr, resp, err := c.api.LogicalRoutingAndServicesApi.CreateLogicalRouter(cctx, manager.LogicalRouter{
		DisplayName: name, RouterType: "TIER1", Tags: tags(photonID)})
	if e := callError("create logical router "+name, resp, err); e != nil {
		return "", e.result()
	}
	return lr.Id, nil
}

// DeleteRouter deletes the logical router of Photon router photonID. NSX refuses while
// switches are connected to it; the error then satisfies IsConflict.
func (c *Client) DeleteRouter(ctx context.Context, photonID string) error {
	found, err := c.routers(ctx, photonID)
	if err != nil {
		return err
	}
	for _, r := range found {
		cctx, err := c.ctx(ctx)
		if err != nil {
			return err
		}
		resp, err := c.api.LogicalRoutingAndServicesApi.DeleteLogicalRouter(cctx, r.Id, nil)
		e := callError("delete logical router "+r.Id, resp, err)
		if e != nil && e.Status == http.StatusBadRequest {
			if ports, lerr := c.routerPorts(ctx, "", map[string]any{"logicalRouterId": r.Id}); lerr == nil && len(ports) > 0 {
				e.Kind = ErrInUse
			}
		}
		if err := gone(e); err != nil {
			return err
		}
	}
	return nil
}

// ConnectSwitch connects switch switchID to router routerID, the router answering on the
// gateway address of gatewayCIDR (e.g. 10.0.0.1/24): a logical port on the switch, linked
// to a downlink port of the router, both tagged with the connection's Photon id photonID.
// A replay reuses the switch port an interrupted attempt left behind.
func (c *Client) ConnectSwitch(ctx context.Context, photonID, routerID, switchID, gatewayCIDR string) error {
	gw, err := netip.ParsePrefix(gatewayCIDR)
	if err != nil {
		return errs.Permanent(fmt.Errorf("nsx: connect switch %s: gateway %q is not an address/prefix: %w", switchID, gatewayCIDR, err))
	}
	rps, err := c.routerPorts(ctx, photonID, map[string]any{"logicalRouterId": routerID})
	if err != nil || len(rps) > 0 {
		return err
	}
	ports, err := c.ports(ctx, photonID, map[string]any{"logicalSwitchId": switchID})
	if err != nil {
		return err
	}
	var portID string
	if len(ports) > 0 {
		portID = ports[0].Id
	} else {
		cctx, err := c.ctx(ctx)
		if err != nil {
			return err
		}
		lp, resp, err := c.api.LogicalSwitchingApi.CreateLogicalPort(cctx, manager.LogicalPort{
			DisplayName: "router-" + photonID, LogicalSwitchId: switchID, AdminState: "UP", Tags: tags(photonID)})
		if e := callError("create router link port on logical switch "+switchID, resp, err); e != nil {
			return e.result()
		}
		portID = lp.Id
	}
	cctx, err := c.ctx(ctx)
	if err != nil {
		return err
	}
	_, resp, err := c.api.LogicalRoutingAndServicesApi.CreateLogicalRouterDownLinkPort(cctx, manager.LogicalRouterDownLinkPort{
		ResourceType:              "LogicalRouterDownLinkPort",
		DisplayName:               "downlink-" + photonID,
		LogicalRouterId:           routerID,
		Subnets:                   []manager.IpSubnet{{IpAddresses: []string{gw.Addr().String()}, PrefixLength: int64(gw.Bits())}},
		LinkedLogicalSwitchPortId: &common.ResourceReference{TargetId: portID, TargetType: "LogicalPort"},
		Tags:                      tags(photonID),
	})
	if e := callError("create downlink port on logical router "+routerID, resp, err); e != nil {
		return e.result()
	}
	return nil
}

// DisconnectSwitch undoes ConnectSwitch for connection photonID: the router's downlink port
// first (which detaches the switch port), then the switch port.
func (c *Client) DisconnectSwitch(ctx context.Context, photonID string) error {
	rps, err := c.routerPorts(ctx, photonID, nil)
	if err != nil {
		return err
	}
	var switchPorts []string
	for _, rp := range rps {
		cctx, err := c.ctx(ctx)
		if err != nil {
			return err
		}
		down, resp, err := c.api.LogicalRoutingAndServicesApi.ReadLogicalRouterDownLinkPort(cctx, rp.Id)
		if e := callError("read logical router port "+rp.Id, resp, err); e != nil && e.Status != http.StatusNotFound {
			return e.result()
		} else if e == nil && down.LinkedLogicalSwitchPortId != nil {
			switchPorts = append(switchPorts, down.LinkedLogicalSwitchPortId.TargetId)
		}
		if cctx, err = c.ctx(ctx); err != nil {
			return err
		}
		resp, err = c.api.LogicalRoutingAndServicesApi.DeleteLogicalRouterPort(cctx, rp.Id, nil)
		if err := gone(callError("delete logical router port "+rp.Id, resp, err)); err != nil {
			return err
		}
	}
	if len(switchPorts) == 0 {
		// No router port left to say which switch port it used: an earlier attempt got this
		// far, or the connection never existed. Find the switch port by its tag.
		ports, err := c.ports(ctx, photonID, nil)
		if err != nil {
			return err
		}
		for _, p := range ports {
			switchPorts = append(switchPorts, p.Id)
		}
	}
	for _, id := range switchPorts {
		if err := c.deletePort(ctx, id); err != nil {
			return err
		}
	}
	return nil
}
