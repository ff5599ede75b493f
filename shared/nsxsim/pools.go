package nsxsim

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"slices"

	"github.com/vmware/go-vmware-nsxt/manager"
)

// span is one allocation range of a pool, inclusive, and the gateway of its subnet, which
// is never handed out.
type span struct {
	start, end, gateway netip.Addr
}

// spans validates a pool's subnets and returns its ranges, lowest first. The simulator
// takes IPv4 pools only.
func spans(subnets []manager.IpPoolSubnet) ([]span, *apiError) {
	var out []span
	for _, sn := range subnets {
		cidr, err := netip.ParsePrefix(sn.Cidr)
		if err != nil || !cidr.Addr().Is4() || cidr.Masked() != cidr {
			return nil, badRequest(codeInvalid, "invalid IPv4 cidr %q", sn.Cidr).in(modulePools)
		}
		var gw netip.Addr
		if sn.GatewayIp != "" {
			if gw, err = netip.ParseAddr(sn.GatewayIp); err != nil || !cidr.Contains(gw) {
				return nil, badRequest(codeInvalid, "gateway_ip %q is not in %s", sn.GatewayIp, cidr).in(modulePools)
			}
		}
		if len(sn.AllocationRanges) == 0 {
			return nil, badRequest(codeInvalid, "subnet %s has no allocation_ranges", cidr).in(modulePools)
		}
		for _, rg := range sn.AllocationRanges {
			start, err1 := netip.ParseAddr(rg.Start)
			end, err2 := netip.ParseAddr(rg.End)
			if err1 != nil || err2 != nil || !cidr.Contains(start) || !cidr.Contains(end) || end.Less(start) {
				return nil, badRequest(codeInvalid, "allocation range %s-%s is not a range of %s", rg.Start, rg.End, cidr).in(modulePools)
			}
			out = append(out, span{start, end, gw})
		}
	}
	slices.SortFunc(out, func(a, b span) int { return a.start.Compare(b.start) })
	for i := 1; i < len(out); i++ {
		if !out[i-1].end.Less(out[i].start) {
			return nil, badRequest(codeInvalid, "allocation ranges %s-%s and %s-%s overlap",
				out[i-1].start, out[i-1].end, out[i].start, out[i].end).in(modulePools)
		}
	}
	return out, nil
}

func (sp span) size() int64 {
	a, b := sp.start.As4(), sp.end.As4()
	n := int64(u32(b)) - int64(u32(a)) + 1
	if sp.gateway.IsValid() && !sp.gateway.Less(sp.start) && !sp.end.Less(sp.gateway) {
		n--
	}
	return n
}

func u32(b [4]byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// withUsage returns the pool with pool_usage computed from its allocations.
func (s *Server) withUsage(p manager.IpPool) manager.IpPool {
	sps, _ := spans(p.Subnets) // validated on create
	var total int64
	for _, sp := range sps {
		total += sp.size()
	}
	used := int64(len(s.allocs[p.Id]))
	p.PoolUsage = &manager.PoolUsage{TotalIds: total, AllocatedIds: used, FreeIds: total - used}
	return p
}

func (s *Server) createPool(r *http.Request) (int, any, *apiError) {
	var p manager.IpPool
	if err := decode(r, &p); err != nil {
		return 0, nil, err
	}
	if _, err := spans(p.Subnets); err != nil {
		return 0, nil, err
	}
	p.Id, p.Revision, p.PoolUsage = "", 0, nil
	s.stamp(&p.Id, &p.ResourceType, "IpPool", &p.CreateTime, &p.CreateUser, &p.LastModifiedTime, &p.LastModifiedUser)
	if p.DisplayName == "" {
		p.DisplayName = p.Id
	}
	s.pools[p.Id] = &row[manager.IpPool]{seq: s.next(), v: p}
	s.allocs[p.Id] = map[netip.Addr]bool{}
	return http.StatusCreated, s.withUsage(p), nil
}

func (s *Server) listPools(r *http.Request) (int, any, *apiError) {
	res, cursor, n, err := list(s.pools, r.URL.Query(), nil)
	if err != nil {
		return 0, nil, err
	}
	for i := range res {
		res[i] = s.withUsage(res[i])
	}
	return http.StatusOK, manager.IpPoolListResult{Results: res, Cursor: cursor, ResultCount: n}, nil
}

func (s *Server) getPool(r *http.Request) (int, any, *apiError) {
	p, err := lookup(s.pools, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.withUsage(p.v), nil
}

// deletePool refuses while addresses are allocated, unless force=true.
func (s *Server) deletePool(r *http.Request) (int, any, *apiError) {
	id := r.PathValue("id")
	if _, err := lookup(s.pools, id); err != nil {
		return 0, nil, err
	}
	if n := len(s.allocs[id]); n > 0 && !flag(r, "force") {
		return 0, nil, badRequest(codeInUse, "IP pool %s has %d allocated address(es); release them first or use force=true.", id, n).in(modulePools)
	}
	delete(s.pools, id)
	delete(s.allocs, id)
	return http.StatusOK, nil, nil
}

// poolAction is POST /pools/ip-pools/{id}?action=ALLOCATE|RELEASE. ALLOCATE hands out the
// lowest free address of the pool's ranges; RELEASE takes back an allocated one and, as NSX
// does, answers null.
func (s *Server) poolAction(r *http.Request) (int, any, *apiError) {
	id := r.PathValue("id")
	p, err := lookup(s.pools, id)
	if err != nil {
		return 0, nil, err
	}
	var req manager.AllocationIpAddress
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	allocated := s.allocs[id]
	switch action := r.URL.Query().Get("action"); action {
	case "ALLOCATE":
		sps, _ := spans(p.v.Subnets)
		for _, sp := range sps {
			for a := sp.start; a.IsValid() && !sp.end.Less(a); a = a.Next() {
				if a != sp.gateway && !allocated[a] {
					allocated[a] = true
					return http.StatusOK, manager.AllocationIpAddress{AllocationId: a.String()}, nil
				}
			}
		}
		return 0, nil, badRequest(codeExhausted, "IP pool %s is exhausted: no free address in its allocation ranges.", id).in(modulePools)
	case "RELEASE":
		a, perr := netip.ParseAddr(req.AllocationId)
		if perr != nil || !allocated[a] {
			return 0, nil, badRequest(codeNotAllocated, "Address %q is not allocated from IP pool %s.", req.AllocationId, id).in(modulePools)
		}
		delete(allocated, a)
		return http.StatusOK, json.RawMessage("null"), nil
	default:
		return 0, nil, badRequest(codeInvalidParam, "action must be ALLOCATE or RELEASE, not %q", action).in(modulePools)
	}
}

func (s *Server) listAllocations(r *http.Request) (int, any, *apiError) {
	id := r.PathValue("id")
	if _, err := lookup(s.pools, id); err != nil {
		return 0, nil, err
	}
	addrs := make([]netip.Addr, 0, len(s.allocs[id]))
	for a := range s.allocs[id] {
		addrs = append(addrs, a)
	}
	slices.SortFunc(addrs, netip.Addr.Compare)
	res := make([]manager.AllocationIpAddress, len(addrs))
	for i, a := range addrs {
		res[i] = manager.AllocationIpAddress{AllocationId: a.String()}
	}
	return http.StatusOK, manager.AllocationIpAddressListResult{Results: res, ResultCount: int64(len(res))}, nil
}
