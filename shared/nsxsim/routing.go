package nsxsim

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/vmware/go-vmware-nsxt/common"
	"github.com/vmware/go-vmware-nsxt/manager"
)

// downlinkMAC is the MAC NSX gives every downlink port of a tier-1 router.
const downlinkMAC = "02:50:56:56:44:52"

func (s *Server) createRouter(r *http.Request) (int, any, *apiError) {
	var lr manager.LogicalRouter
	if err := decode(r, &lr); err != nil {
		return 0, nil, err
	}
	if lr.RouterType != "TIER0" && lr.RouterType != "TIER1" {
		return 0, nil, badRequest(codeInvalid, "router_type must be TIER0 or TIER1, not %q", lr.RouterType).in(moduleRouting)
	}
	switch lr.HighAvailabilityMode {
	case "":
		lr.HighAvailabilityMode = "ACTIVE_STANDBY"
	case "ACTIVE_STANDBY", "ACTIVE_ACTIVE":
	default:
		return 0, nil, badRequest(codeInvalid, "unknown high_availability_mode %q", lr.HighAvailabilityMode).in(moduleRouting)
	}
	lr.Id, lr.Revision = "", 0
	s.stamp(&lr.Id, &lr.ResourceType, "LogicalRouter", &lr.CreateTime, &lr.CreateUser, &lr.LastModifiedTime, &lr.LastModifiedUser)
	if lr.DisplayName == "" {
		lr.DisplayName = lr.Id
	}
	s.routers[lr.Id] = &row[manager.LogicalRouter]{seq: s.next(), v: lr}
	return http.StatusCreated, lr, nil
}

func (s *Server) listRouters(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	typ := q.Get("router_type")
	res, cursor, n, err := list(s.routers, q, func(lr *manager.LogicalRouter) bool {
		return typ == "" || lr.RouterType == typ
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, manager.LogicalRouterListResult{Results: res, Cursor: cursor, ResultCount: n}, nil
}

func (s *Server) getRouter(r *http.Request) (int, any, *apiError) {
	lr, err := lookup(s.routers, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, lr.v, nil
}

// deleteRouter refuses while the router has ports, unless force=true, which deletes them.
func (s *Server) deleteRouter(r *http.Request) (int, any, *apiError) {
	id := r.PathValue("id")
	if _, err := lookup(s.routers, id); err != nil {
		return 0, nil, err
	}
	var ports []string
	for pid, p := range s.rports {
		if p.v.LogicalRouterId == id {
			ports = append(ports, pid)
		}
	}
	if len(ports) > 0 && !flag(r, "force") {
		return 0, nil, badRequest(codeInUse, "Logical router %s has %d logical router port(s); delete them first.", id, len(ports)).in(moduleRouting)
	}
	for _, pid := range ports {
		s.removeRouterPort(pid)
	}
	for rid, n := range s.nat {
		if n.v.LogicalRouterId == id {
			delete(s.nat, rid)
		}
	}
	delete(s.routers, id)
	return http.StatusOK, nil, nil
}

// createRouterPort creates a downlink port (the only kind the simulator has) and links it
// to a logical switch port, which becomes attached to the router (LOGICALROUTER).
func (s *Server) createRouterPort(r *http.Request) (int, any, *apiError) {
	var p manager.LogicalRouterDownLinkPort
	if err := decode(r, &p); err != nil {
		return 0, nil, err
	}
	if p.ResourceType != "LogicalRouterDownLinkPort" {
		return 0, nil, badRequest(codeInvalid, "unsupported logical router port resource_type %q", p.ResourceType).in(moduleRouting)
	}
	if _, ok := s.routers[p.LogicalRouterId]; !ok {
		return 0, nil, notFound(p.LogicalRouterId).in(moduleRouting)
	}
	if len(p.Subnets) == 0 {
		return 0, nil, badRequest(codeInvalid, "a downlink port needs at least one subnet").in(moduleRouting)
	}
	var prefixes []netip.Prefix
	for _, sn := range p.Subnets {
		if len(sn.IpAddresses) == 0 {
			return 0, nil, badRequest(codeInvalid, "subnet has no ip_addresses").in(moduleRouting)
		}
		for _, ip := range sn.IpAddresses {
			a, err := netip.ParseAddr(ip)
			if err != nil || sn.PrefixLength < 1 || int(sn.PrefixLength) > a.BitLen() {
				return 0, nil, badRequest(codeInvalid, "invalid subnet %s/%d", ip, sn.PrefixLength).in(moduleRouting)
			}
			prefixes = append(prefixes, netip.PrefixFrom(a, int(sn.PrefixLength)).Masked())
		}
	}
	// A router cannot route two downlinks with overlapping subnets.
	for _, other := range s.rports {
		if other.v.LogicalRouterId != p.LogicalRouterId {
			continue
		}
		for _, sn := range other.v.Subnets {
			for _, ip := range sn.IpAddresses {
				o := netip.PrefixFrom(netip.MustParseAddr(ip), int(sn.PrefixLength)).Masked()
				for _, mine := range prefixes {
					if mine.Overlaps(o) {
						return 0, nil, badRequest(codeInvalid, "subnet %s overlaps %s of logical router port %s", mine, o, other.v.Id).in(moduleRouting)
					}
				}
			}
		}
	}
	link := p.LinkedLogicalSwitchPortId
	if link == nil || link.TargetId == "" {
		return 0, nil, badRequest(codeInvalid, "linked_logical_switch_port_id is required").in(moduleRouting)
	}
	lp, ok := s.ports[link.TargetId]
	if !ok {
		return 0, nil, notFound(link.TargetId).in(moduleRouting)
	}
	if a := lp.v.Attachment; a != nil {
		return 0, nil, badRequest(codeAttached, "logical port %s already has a %s attachment %s", lp.v.Id, a.AttachmentType, a.Id).in(moduleRouting)
	}
	p.Id, p.Revision, p.MacAddress = "", 0, downlinkMAC
	s.stamp(&p.Id, &p.ResourceType, "LogicalRouterDownLinkPort", &p.CreateTime, &p.CreateUser, &p.LastModifiedTime, &p.LastModifiedUser)
	if p.DisplayName == "" {
		p.DisplayName = p.Id
	}
	p.LinkedLogicalSwitchPortId = &common.ResourceReference{TargetId: lp.v.Id, TargetType: "LogicalPort",
		TargetDisplayName: lp.v.DisplayName, IsValid: true}
	lp.v.Attachment = &manager.LogicalPortAttachment{AttachmentType: "LOGICALROUTER", Id: p.Id}
	lp.v.Revision++
	lp.v.LastModifiedTime = time.Now().UnixMilli()
	s.rports[p.Id] = &row[manager.LogicalRouterDownLinkPort]{seq: s.next(), v: p}
	return http.StatusCreated, p, nil
}

func (s *Server) listRouterPorts(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	router, sw, typ := q.Get("logical_router_id"), q.Get("logical_switch_id"), q.Get("resource_type")
	res, cursor, n, err := list(s.rports, q, func(p *manager.LogicalRouterDownLinkPort) bool {
		if sw != "" {
			l := p.LinkedLogicalSwitchPortId
			if l == nil || s.ports[l.TargetId] == nil || s.ports[l.TargetId].v.LogicalSwitchId != sw {
				return false
			}
		}
		return (router == "" || p.LogicalRouterId == router) && (typ == "" || p.ResourceType == typ)
	})
	if err != nil {
		return 0, nil, err
	}
	// The list's results are the polymorphic LogicalRouterPort; encoding the downlink ports
	// themselves keeps their subnets and link, as NSX does.
	return http.StatusOK, struct {
		Cursor      string                              `json:"cursor,omitempty"`
		ResultCount int64                               `json:"result_count,omitempty"`
		Results     []manager.LogicalRouterDownLinkPort `json:"results"`
	}{cursor, n, res}, nil
}

func (s *Server) getRouterPort(r *http.Request) (int, any, *apiError) {
	p, err := lookup(s.rports, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, p.v, nil
}

func (s *Server) deleteRouterPort(r *http.Request) (int, any, *apiError) {
	id := r.PathValue("id")
	if _, err := lookup(s.rports, id); err != nil {
		return 0, nil, err
	}
	s.removeRouterPort(id)
	return http.StatusOK, nil, nil
}

// removeRouterPort deletes a router port and detaches the switch port it was linked to.
func (s *Server) removeRouterPort(id string) {
	if l := s.rports[id].v.LinkedLogicalSwitchPortId; l != nil {
		if lp, ok := s.ports[l.TargetId]; ok && lp.v.Attachment != nil && lp.v.Attachment.Id == id {
			lp.v.Attachment = nil
			lp.v.Revision++
			lp.v.LastModifiedTime = time.Now().UnixMilli()
		}
	}
	delete(s.rports, id)
}
