package nsxsim

import (
	"net/http"
	"time"

	"github.com/vmware/go-vmware-nsxt/manager"
)

func (s *Server) listZones(r *http.Request) (int, any, *apiError) {
	res, cursor, n, err := list(s.zones, r.URL.Query(), nil)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, manager.TransportZoneListResult{Results: res, Cursor: cursor, ResultCount: n}, nil
}

func (s *Server) getZone(r *http.Request) (int, any, *apiError) {
	z, err := lookup(s.zones, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, z.v, nil
}

func validAdminState(v string) *apiError {
	if v != "UP" && v != "DOWN" {
		return badRequest(codeInvalid, "admin_state must be UP or DOWN, not %q", v)
	}
	return nil
}

func (s *Server) createSwitch(r *http.Request) (int, any, *apiError) {
	var ls manager.LogicalSwitch
	if err := decode(r, &ls); err != nil {
		return 0, nil, err
	}
	if err := validAdminState(ls.AdminState); err != nil {
		return 0, nil, err.in(moduleSwitching)
	}
	tz, ok := s.zones[ls.TransportZoneId]
	if !ok {
		return 0, nil, notFound(ls.TransportZoneId).in(moduleSwitching)
	}
	if tz.v.TransportType == "OVERLAY" {
		switch ls.ReplicationMode {
		case "":
			ls.ReplicationMode = "MTEP"
		case "MTEP", "SOURCE":
		default:
			return 0, nil, badRequest(codeInvalid, "replication_mode must be MTEP or SOURCE").in(moduleSwitching)
		}
		ls.Vni, ls.Vlan = s.nextVNI, 0
		s.nextVNI++
	} else if ls.Vlan < 0 || ls.Vlan > 4094 {
		return 0, nil, badRequest(codeInvalid, "vlan must be from 0 to 4094").in(moduleSwitching)
	}
	ls.Id, ls.Revision = "", 0
	s.stamp(&ls.Id, &ls.ResourceType, "LogicalSwitch", &ls.CreateTime, &ls.CreateUser, &ls.LastModifiedTime, &ls.LastModifiedUser)
	if ls.DisplayName == "" {
		ls.DisplayName = ls.Id
	}
	s.switches[ls.Id] = &row[manager.LogicalSwitch]{seq: s.next(), v: ls}
	return http.StatusCreated, ls, nil
}

func (s *Server) listSwitches(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	tz := q.Get("transport_zone_id")
	res, cursor, n, err := list(s.switches, q, func(ls *manager.LogicalSwitch) bool {
		return tz == "" || ls.TransportZoneId == tz
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, manager.LogicalSwitchListResult{Results: res, Cursor: cursor, ResultCount: n}, nil
}

func (s *Server) getSwitch(r *http.Request) (int, any, *apiError) {
	ls, err := lookup(s.switches, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, ls.v, nil
}

// updateSwitch replaces the mutable fields of a switch. As in NSX, the body must carry the
// _revision it read; anything else means someone else changed the switch since (412).
func (s *Server) updateSwitch(r *http.Request) (int, any, *apiError) {
	cur, err := lookup(s.switches, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	var ls manager.LogicalSwitch
	if err := decode(r, &ls); err != nil {
		return 0, nil, err
	}
	if ls.Revision != cur.v.Revision {
		return 0, nil, &apiError{http.StatusPreconditionFailed, codeStale, moduleCommon,
			"The object was modified by somebody else. Please retry."}
	}
	if err := validAdminState(ls.AdminState); err != nil {
		return 0, nil, err.in(moduleSwitching)
	}
	if ls.TransportZoneId != cur.v.TransportZoneId {
		return 0, nil, badRequest(codeInvalid, "transport_zone_id cannot be changed").in(moduleSwitching)
	}
	old := cur.v
	ls.Id, ls.ResourceType, ls.Vni, ls.ReplicationMode = old.Id, old.ResourceType, old.Vni, old.ReplicationMode
	ls.CreateTime, ls.CreateUser = old.CreateTime, old.CreateUser
	ls.Revision = old.Revision + 1
	ls.LastModifiedTime, ls.LastModifiedUser = time.Now().UnixMilli(), s.opts.User
	cur.v = ls
	return http.StatusOK, ls, nil
}

// deleteSwitch refuses while the switch has ports. cascade=true deletes the ports too when
// none of them is attached; detach=true deletes them whatever they are attached to.
func (s *Server) deleteSwitch(r *http.Request) (int, any, *apiError) {
	id := r.PathValue("id")
	if _, err := lookup(s.switches, id); err != nil {
		return 0, nil, err
	}
	var ports []string
	attached := 0
	for pid, p := range s.ports {
		if p.v.LogicalSwitchId == id {
			ports = append(ports, pid)
			if p.v.Attachment != nil {
				attached++
			}
		}
	}
	switch {
	case len(ports) == 0 || flag(r, "detach"):
	case flag(r, "cascade") && attached == 0:
	case flag(r, "cascade"):
		return 0, nil, badRequest(codeAttached, "Logical switch %s has %d attached logical port(s); use detach=true to delete it.", id, attached).in(moduleSwitching)
	default:
		return 0, nil, badRequest(codeInUse, "Logical switch %s has %d logical port(s); delete them first or use cascade=true.", id, len(ports)).in(moduleSwitching)
	}
	for _, pid := range ports {
		s.removePort(pid)
	}
	delete(s.switches, id)
	return http.StatusOK, nil, nil
}

func (s *Server) createPort(r *http.Request) (int, any, *apiError) {
	var lp manager.LogicalPort
	if err := decode(r, &lp); err != nil {
		return 0, nil, err
	}
	if err := validAdminState(lp.AdminState); err != nil {
		return 0, nil, err.in(moduleSwitching)
	}
	if _, ok := s.switches[lp.LogicalSwitchId]; !ok {
		return 0, nil, notFound(lp.LogicalSwitchId).in(moduleSwitching)
	}
	if a := lp.Attachment; a != nil {
		if a.Id == "" {
			return 0, nil, badRequest(codeInvalid, "attachment.id is required").in(moduleSwitching)
		}
		switch a.AttachmentType {
		case "":
			a.AttachmentType = "VIF" // NSX's default
		case "VIF", "LOGICALROUTER", "BRIDGEENDPOINT", "DHCP_SERVICE", "METADATA_PROXY", "L2VPN_SESSION":
		default:
			return 0, nil, badRequest(codeInvalid, "unknown attachment_type %q", a.AttachmentType).in(moduleSwitching)
		}
	}
	lp.Id, lp.Revision = "", 0
	s.stamp(&lp.Id, &lp.ResourceType, "LogicalPort", &lp.CreateTime, &lp.CreateUser, &lp.LastModifiedTime, &lp.LastModifiedUser)
	if lp.DisplayName == "" {
		lp.DisplayName = lp.Id
	}
	s.ports[lp.Id] = &row[manager.LogicalPort]{seq: s.next(), v: lp}
	return http.StatusCreated, lp, nil
}

func (s *Server) listPorts(r *http.Request) (int, any, *apiError) {
	q := r.URL.Query()
	sw, att, attType := q.Get("logical_switch_id"), q.Get("attachment_id"), q.Get("attachment_type")
	res, cursor, n, err := list(s.ports, q, func(lp *manager.LogicalPort) bool {
		a := lp.Attachment
		return (sw == "" || lp.LogicalSwitchId == sw) &&
			(att == "" || a != nil && a.Id == att) &&
			(attType == "" || a != nil && a.AttachmentType == attType)
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, manager.LogicalPortListResult{Results: res, Cursor: cursor, ResultCount: n}, nil
}

func (s *Server) getPort(r *http.Request) (int, any, *apiError) {
	lp, err := lookup(s.ports, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, lp.v, nil
}

// deletePort refuses to delete an attached port unless detach=true, as NSX does.
func (s *Server) deletePort(r *http.Request) (int, any, *apiError) {
	id := r.PathValue("id")
	lp, err := lookup(s.ports, id)
	if err != nil {
		return 0, nil, err
	}
	if a := lp.v.Attachment; a != nil && !flag(r, "detach") {
		return 0, nil, badRequest(codeAttached, "Logical port %s has a %s attachment %s; use detach=true to delete it.", id, a.AttachmentType, a.Id).in(moduleSwitching)
	}
	s.removePort(id)
	return http.StatusOK, nil, nil
}

// removePort deletes a port and unlinks the router port it was connected to, if any.
func (s *Server) removePort(id string) {
	for _, rp := range s.rports {
		if l := rp.v.LinkedLogicalSwitchPortId; l != nil && l.TargetId == id {
			rp.v.LinkedLogicalSwitchPortId = nil
			rp.v.Revision++
		}
	}
	delete(s.ports, id)
}
