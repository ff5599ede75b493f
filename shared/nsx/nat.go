package nsx

import (
	"context"
	"net/http"
	"strings"

	"github.com/vmware/go-vmware-nsxt/manager"
)

// natRules lists the NAT rules of logical router routerID tagged with photonID.
func (c *Client) natRules(ctx context.Context, routerID, photonID string) ([]manager.NatRule, error) {
	return listAll(ctx, c, "list NAT rules",
		func(ctx context.Context, o map[string]any) ([]manager.NatRule, string, *http.Response, error) {
			r, resp, err := c.api.LogicalRoutingAndServicesApi.ListNatRules(ctx, routerID, o)
			return r.Results, r.Cursor, resp, err
		}, nil, func(n *manager.NatRule) bool { return tagged(n.Tags, photonID) })
}

// EnsureFloatingIP maps floating IP address floating to private on logical router
// routerID: a DNAT rule (floating → private) and an SNAT rule (private → floating), both
// tagged with the floating IP's Photon id photonID, so a replay finds what the first run
// made.
func (c *Client) EnsureFloatingIP(ctx context.Context, photonID, routerID, floating, private string) error {
	found, err := c.natRules(ctx, routerID, photonID)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, n := range found {
		have[n.Action] = true
	}
	for _, n := range []manager.NatRule{
		{Action: "DNAT", MatchDestinationNetwork: floating, TranslatedNetwork: private},
		{Action: "SNAT", MatchSourceNetwork: private, TranslatedNetwork: floating},
	} {
		if have[n.Action] {
			continue
		}
		n.Enabled, n.Tags, n.DisplayName = true, tags(photonID), photonID+"-"+strings.ToLower(n.Action)
		cctx, err := c.ctx(ctx)
		if err != nil {
			return err
		}
		_, resp, err := c.api.LogicalRoutingAndServicesApi.AddNatRule(cctx, routerID, n)
		if e := callError("add "+n.Action+" rule of "+photonID, resp, err); e != nil {
			return e.result()
		}
	}
	return nil
}

// DeleteFloatingIP deletes the NAT rules of floating IP photonID from logical router
// routerID; rules (or a router) already gone count as deleted.
func (c *Client) DeleteFloatingIP(ctx context.Context, photonID, routerID string) error {
	found, err := c.natRules(ctx, routerID, photonID)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, n := range found {
		cctx, err := c.ctx(ctx)
		if err != nil {
			return err
		}
		resp, err := c.api.LogicalRoutingAndServicesApi.DeleteNatRule(cctx, routerID, n.Id)
		if err := gone(callError("delete NAT rule "+n.Id, resp, err)); err != nil {
			return err
		}
	}
	return nil
}
