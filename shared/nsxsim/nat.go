package nsxsim

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/vmware/go-vmware-nsxt/manager"
)

// natNetwork reports whether v is what NSX takes as a NAT rule's network: an IP address,
// a CIDR or a range a-b.
func natNetwork(v string) bool {
	if _, err := netip.ParseAddr(v); err == nil {
		return true
	}
	if _, err := netip.ParsePrefix(v); err == nil {
		return true
	}
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return false
	}
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	return err1 == nil && err2 == nil && !y.Less(x)
}

// addNATRule adds a NAT rule to a logical router, as NSX does: SNAT and DNAT translate
// to translated_network (required), NO_NAT has none; the networks must be addresses,
// CIDRs or ranges.
func (s *Server) addNATRule(r *http.Request) (int, any, *apiError) {
	id := r.PathValue("id")
	if _, err := lookup(s.routers, id); err != nil {
		return 0, nil, err
	}
	var n manager.NatRule
	if err := decode(r, &n); err != nil {
		return 0, nil, err
	}
	switch n.Action {
	case "SNAT", "DNAT":
		if !natNetwork(n.TranslatedNetwork) {
			return 0, nil, badRequest(codeInvalid, "translated_network %q is not an IP address, CIDR or range", n.TranslatedNetwork).in(moduleRouting)
		}
	case "NO_NAT":
		if n.TranslatedNetwork != "" {
			return 0, nil, badRequest(codeInvalid, "a NO_NAT rule has no translated_network").in(moduleRouting)
		}
	default:
		return 0, nil, badRequest(codeInvalid, "action must be SNAT, DNAT or NO_NAT, not %q", n.Action).in(moduleRouting)
	}
	for _, v := range []string{n.MatchSourceNetwork, n.MatchDestinationNetwork} {
		if v != "" && !natNetwork(v) {
			return 0, nil, badRequest(codeInvalid, "match network %q is not an IP address, CIDR or range", v).in(moduleRouting)
		}
	}
	n.Id, n.Revision, n.LogicalRouterId = "", 0, id
	s.stamp(&n.Id, &n.ResourceType, "NatRule", &n.CreateTime, &n.CreateUser, &n.LastModifiedTime, &n.LastModifiedUser)
	if n.RulePriority == 0 {
		n.RulePriority = 1024 // NSX's default priority
	}
	s.nat[n.Id] = &row[manager.NatRule]{seq: s.next(), v: n}
	return http.StatusCreated, n, nil
}

func (s *Server) listNATRules(r *http.Request) (int, any, *apiError) {
	id := r.PathValue("id")
	if _, err := lookup(s.routers, id); err != nil {
		return 0, nil, err
	}
	res, cursor, n, err := list(s.nat, r.URL.Query(), func(n *manager.NatRule) bool { return n.LogicalRouterId == id })
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, manager.NatRuleListResult{Results: res, Cursor: cursor, ResultCount: n}, nil
}

func (s *Server) deleteNATRule(r *http.Request) (int, any, *apiError) {
	id, rule := r.PathValue("id"), r.PathValue("rule")
	if _, err := lookup(s.routers, id); err != nil {
		return 0, nil, err
	}
	n, err := lookup(s.nat, rule)
	if err != nil {
		return 0, nil, err
	}
	if n.v.LogicalRouterId != id {
		return 0, nil, notFound(rule)
	}
	delete(s.nat, rule)
	return http.StatusOK, nil, nil
}

// NATRules lists the NAT rules of logical router id, for tests.
func (s *Server) NATRules(id string) []manager.NatRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []manager.NatRule
	for _, n := range s.nat {
		if n.v.LogicalRouterId == id {
			out = append(out, n.v)
		}
	}
	return out
}
