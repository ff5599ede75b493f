package gateway

import (
	"context"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/model"
)

const orphansPath = "/v1/infrastructure/orphans"

// ListOrphans pages through what the reconciler (functions/reconcile) reported on the
// hosts, or on one host: system administrators only, as the hosts are.
func (s *hosts) ListOrphans(ctx context.Context, req *pb.ListOrphansRequest) (*pb.OrphanList, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	page, err := s.store.ListOrphans(ctx, req.GetHostId(), int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.OrphanList{Items: make([]*pb.Orphan, len(page.Items))}
	for i, o := range page.Items {
		out.Items[i] = orphanPB(o)
	}
	path := orphansPath
	if id := req.GetHostId(); id != "" {
		path = hostsPath + "/" + id + "/orphans"
	}
	out.NextPageLink = pageLink(path, req.GetPageSize(), page.Next)
	return out, nil
}

func orphanPB(o *model.Orphan) *pb.Orphan {
	return &pb.Orphan{Id: o.ID, Kind: model.KindOrphan, HostId: o.HostID, Type: o.Type, Name: o.Name, VmId: o.VMID,
		State: o.State, StateReason: o.StateReason, FirstSeen: o.FirstSeen, ReportedAt: o.ReportedAt}
}
