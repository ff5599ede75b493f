package nsx

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"

	"github.com/vmware/go-vmware-nsxt/manager"
)

func (c *Client) pools(ctx context.Context, photonID string) ([]manager.IpPool, error) {
	return listAll(ctx, c, "list IP pools",
		func(ctx context.Context, o map[string]any) ([]manager.IpPool, string, *http.Response, error) {
			r, resp, err := c.api.PoolManagementApi.ListIpPools(ctx, o)
			return r.Results, r.Cursor, resp, err
		}, nil, func(p *manager.IpPool) bool { return tagged(p.Tags, photonID) })
}

// EnsureIPPool returns the id of the IP pool of Photon subnet photonID, creating it when
// there is none: one subnet cidr with gateway gateway, handing out start through end.
func (c *Client) EnsureIPPool(ctx context.Context, photonID, cidr, gateway, start, end string) (string, error) {
	found, err := c.pools(ctx, photonID)
	if err != nil || len(found) > 0 {
		return firstID(found, func(p manager.IpPool) string { return p.Id }), err
	}
	cctx, err := c.ctx(ctx)
	if err != nil {
		return "", err
	}
	p, resp, err := c.api.PoolManagementApi.CreateIpPool(cctx, manager.IpPool{
		DisplayName: photonID,
		Subnets: []manager.IpPoolSubnet{{
			Cidr: cidr, GatewayIp: gateway,
			AllocationRanges: []manager.IpPoolRange{{Start: start, End: end}},
		}},
		Tags: tags(photonID),
	})
	if e := callError("create IP pool for "+photonID, resp, err); e != nil {
		return "", e.result()
	}
	return p.Id, nil
}

// AllocateIP takes the lowest free address of pool poolID. It is not idempotent: the caller
// records the address and gives it back with ReleaseIP. An empty pool is reported as an
// error that satisfies IsExhausted.
func (c *Client) AllocateIP(ctx context.Context, poolID string) (string, error) {
	cctx, err := c.ctx(ctx)
	if err != nil {
		return "", err
	}
	a, resp, err := c.api.PoolManagementApi.AllocateOrReleaseFromIpPool(cctx, poolID, manager.AllocationIpAddress{}, "ALLOCATE")
	e := callError("allocate an address from IP pool "+poolID, resp, err)
	if e == nil {
		if _, perr := netip.ParseAddr(a.AllocationId); perr != nil {
			return "", (&Error{Op: "allocate an address from IP pool " + poolID, Status: resp.StatusCode,
				Message: "NSX answered with no address", Err: perr}).result()
		}
		return a.AllocationId, nil
	}
	if e.Status == http.StatusBadRequest {
		// NSX says only "bad request"; the pool's usage says whether it is empty.
		if rctx, err := c.ctx(ctx); err == nil {
			p, resp, err := c.api.PoolManagementApi.ReadIpPool(rctx, poolID)
			if callError("", resp, err) == nil && p.PoolUsage != nil && p.PoolUsage.FreeIds == 0 {
				e.Kind = ErrPoolExhausted
			}
		}
	}
	return "", e.result()
}

// ReleaseIP gives address ip back to pool poolID. An address that is not allocated (or a
// pool that no longer exists) counts as released.
func (c *Client) ReleaseIP(ctx context.Context, poolID, ip string) error {
	cctx, err := c.ctx(ctx)
	if err != nil {
		return err
	}
	_, resp, err := c.api.PoolManagementApi.AllocateOrReleaseFromIpPool(cctx, poolID, manager.AllocationIpAddress{AllocationId: ip}, "RELEASE")
	if resp != nil && resp.StatusCode < 300 && errors.Is(err, io.EOF) {
		err = nil // NSX may answer a release with an empty body
	}
	e := callError("release "+ip+" to IP pool "+poolID, resp, err)
	if e == nil || e.Status == http.StatusNotFound {
		return nil
	}
	if e.Status == http.StatusBadRequest {
		// Already released (by an earlier attempt of this step)? Then there is nothing to do.
		if lctx, err := c.ctx(ctx); err == nil {
			list, resp, err := c.api.PoolManagementApi.ListIpPoolAllocations(lctx, poolID)
			if callError("", resp, err) == nil && !allocated(list.Results, ip) {
				return nil
			}
		}
	}
	return e.result()
}

func allocated(as []manager.AllocationIpAddress, ip string) bool {
	for _, a := range as {
		if a.AllocationId == ip {
			return true
		}
	}
	return false
}

// DeleteIPPool deletes the IP pool of Photon subnet photonID. NSX refuses while addresses
// are allocated; the error then satisfies IsConflict.
func (c *Client) DeleteIPPool(ctx context.Context, photonID string) error {
	found, err := c.pools(ctx, photonID)
	if err != nil {
		return err
	}
	for _, p := range found {
		cctx, err := c.ctx(ctx)
		if err != nil {
			return err
		}
		resp, err := c.api.PoolManagementApi.DeleteIpPool(cctx, p.Id, nil)
		e := callError("delete IP pool "+p.Id, resp, err)
		if e != nil && e.Status == http.StatusBadRequest {
			if rctx, err := c.ctx(ctx); err == nil {
				cur, resp, err := c.api.PoolManagementApi.ReadIpPool(rctx, p.Id)
				if callError("", resp, err) == nil && cur.PoolUsage != nil && cur.PoolUsage.AllocatedIds > 0 {
					e.Kind = ErrInUse
				}
			}
		}
		if err := gone(e); err != nil {
			return err
		}
	}
	return nil
}
