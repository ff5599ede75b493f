package gateway

import (
	"fmt"
	"net/url"
	"sort"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Conversions between the store's records and the API's messages, with Photon's selfLinks.

func selfLink(kind, id string) string { return "/v1/" + kind + "s/" + id }

func quotaItems(in []model.QuotaLineItem) []*pb.QuotaLineItem {
	out := make([]*pb.QuotaLineItem, len(in))
	for i, q := range in {
		out[i] = &pb.QuotaLineItem{Key: q.Key, Value: q.Value, Unit: q.Unit}
	}
	return out
}

func fromQuotaItems(in []*pb.QuotaLineItem) []model.QuotaLineItem {
	out := make([]model.QuotaLineItem, len(in))
	for i, q := range in {
		out[i] = model.QuotaLineItem{Key: q.GetKey(), Value: q.GetValue(), Unit: q.GetUnit()}
	}
	return out
}

func securityGroups(in []string) []*pb.SecurityGroup {
	out := make([]*pb.SecurityGroup, len(in))
	for i, g := range in {
		out[i] = &pb.SecurityGroup{Name: g}
	}
	return out
}

func apiError(e *errs.Error) *pb.ApiError {
	return &pb.ApiError{Code: e.Code, Message: e.Message, Data: e.Data}
}

func taskPB(t *model.Task) *pb.Task {
	out := &pb.Task{
		Id: t.ID, Operation: t.Operation, State: t.State, QueuedTime: t.QueuedTime,
		StartedTime: t.StartedTime, EndTime: t.EndTime, SelfLink: selfLink("task", t.ID),
		Entity: &pb.Entity{Id: t.Entity.ID, Kind: t.Entity.Kind}, ResourceProperties: t.Properties, ParentId: t.ParentID,
	}
	for _, s := range t.Steps {
		ps := &pb.Step{Id: fmt.Sprint(s.Sequence), Operation: s.Operation, State: s.State, Sequence: int32(s.Sequence),
			QueuedTime: s.QueuedTime, StartedTime: s.StartedTime, EndTime: s.EndTime}
		for _, e := range s.Errors {
			ps.Errors = append(ps.Errors, apiError(e))
		}
		if s.UndoError != nil { // data undo=failed: the task waits for POST /v1/tasks/{id}/retry
			ps.Errors = append(ps.Errors, apiError(s.UndoError))
		}
		out.Steps = append(out.Steps, ps)
	}
	return out
}

func tenantPB(t *model.Tenant) *pb.Tenant {
	return &pb.Tenant{Id: t.ID, Kind: "tenant", Name: t.Name, SelfLink: selfLink("tenant", t.ID),
		Tags: t.Tags, SecurityGroups: securityGroups(t.SecurityGroups)}
}

func projectPB(p *model.Project, used map[string]float64, units map[string]string) *pb.Project {
	ticket := &pb.ProjectTicket{TenantTicketName: p.TicketName, Limits: quotaItems(p.Limits)}
	keys := make([]string, 0, len(used))
	for k := range used {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ticket.Usage = append(ticket.Usage, &pb.QuotaLineItem{Key: k, Value: used[k], Unit: units[k]})
	}
	return &pb.Project{Id: p.ID, Kind: "project", Name: p.Name, SelfLink: selfLink("project", p.ID), Tags: p.Tags,
		ResourceTicket: ticket, SecurityGroups: securityGroups(p.SecurityGroups), TenantId: p.TenantID,
		PlacementPolicy: p.PlacementPolicy}
}

func flavorPB(f *model.Flavor) *pb.Flavor {
	return &pb.Flavor{Id: f.ID, Kind: f.Kind, Name: f.Name, Cost: quotaItems(f.Cost), State: f.State,
		SelfLink: selfLink("flavor", f.ID), PlacementPolicy: f.PlacementPolicy}
}

func vmPB(v *model.VM) *pb.Vm {
	out := &pb.Vm{Id: v.ID, Kind: "vm", Name: v.Name, State: v.State, Flavor: v.Flavor,
		SourceImageId: v.SourceImageID, Cost: quotaItems(v.Cost), Datastore: v.Datastore, Host: v.HostID,
		Tags: v.Tags, Metadata: v.Metadata, SelfLink: selfLink("vm", v.ID), ProjectId: v.ProjectID, StateReason: v.StateReason,
		FloatingIp: v.FloatingIP}
	for _, d := range v.Disks {
		out.AttachedDisks = append(out.AttachedDisks, &pb.AttachedDisk{Id: d.ID, Name: d.Name, Kind: d.Kind,
			Flavor: d.Flavor, CapacityGb: d.CapacityGB, BootDisk: d.Boot, State: d.State})
	}
	if v.ISO != nil {
		out.AttachedIsos = []*pb.Iso{{Id: v.ID, Kind: "iso", Name: v.ISO.Name, Size: v.ISO.Size}}
	}
	return out
}

// pageLink is the nextPageLink Photon clients append to their endpoint.
func pageLink(path string, size int32, next string) string {
	if next == "" {
		return ""
	}
	q := url.Values{"pageLink": {next}}
	if size > 0 {
		q.Set("pageSize", fmt.Sprint(size))
	}
	return path + "?" + q.Encode()
}

// hostPB is Photon's Host from a host record, the registration an administrator gave
// (nil for a host whose hostd registered itself) and Photon's reservations on it. The
// address is the registered one, else the name the ESXi host reports.
func hostPB(h *model.Host, reg *store.HostRegistration, c store.HostCapacity) *pb.Host {
	out := &pb.Host{Id: h.ID, Kind: "host", Address: h.Name, AvailabilityZone: h.AvailabilityZone, UsageTags: h.Tags,
		State: h.State, StateReason: h.StateReason, Metadata: h.Metadata, EsxVersion: h.EsxVersion,
		SelfLink: hostsPath + "/" + h.ID, CpuCores: h.CPUCores, MemoryMb: h.MemoryMB, Networks: h.Networks,
		LastHeartbeat: h.LastHeartbeat, Reserved: &pb.HostReserved{Cpus: c.CPUUsed, MemoryMb: c.MemUsed, Vms: c.VMs}}
	if reg != nil {
		out.Address, out.Username = reg.Address, reg.Username
	}
	for _, d := range h.Datastores {
		out.Datastores = append(out.Datastores, &pb.HostDatastore{Id: datastoreID(h.ID, d), Name: d.Name, Type: d.Type,
			Tags: d.Tags, CapacityBytes: d.CapacityBytes, FreeBytes: d.FreeBytes, ReservedMb: c.Datastores[d.Name].Used})
	}
	return out
}

func zonePB(z *model.Zone) *pb.AvailabilityZone {
	return &pb.AvailabilityZone{Id: z.ID, Kind: "availability-zone", Name: z.Name, State: z.State, SelfLink: selfLink("zone", z.ID)}
}
