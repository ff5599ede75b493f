package gateway

import (
	"context"
	"errors"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Availability zone operations, as Photon names them in Tasks.
const (
	OpCreateZone = "CREATE_ZONE"
	OpDeleteZone = "DELETE_ZONE"
)

// zones: any authenticated user reads availability zones (a VM's availabilityZone
// affinity names one); system administrators create and delete them.
type zones struct {
	pb.UnimplementedAvailabilityZonesServer
	*core
}

func (s *zones) CreateAvailabilityZone(ctx context.Context, req *pb.CreateAvailabilityZoneRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createZone(ctx, req) })
}

func (s *zones) createZone(ctx context.Context, req *pb.CreateAvailabilityZoneRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.GetSpec().GetName())
	if name == "" {
		return nil, errs.Invalid("name is required")
	}
	z := &model.Zone{ID: newID(), Name: name, State: model.ZoneReady, CreatedAt: s.store.Now()}
	task := s.store.NewTask(taskID(ctx), OpCreateZone, model.Entity{ID: z.ID, Kind: model.KindZone}, caller(ctx), nil)
	if err := s.store.CreateZone(ctx, z, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *zones) ListAvailabilityZones(ctx context.Context, req *pb.ListAvailabilityZonesRequest) (*pb.AvailabilityZoneList, error) {
	if req.GetName() != "" {
		out := &pb.AvailabilityZoneList{}
		z, err := s.store.ZoneByName(ctx, req.GetName())
		if errors.Is(err, errs.ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, zonePB(z))
		return out, nil
	}
	page, err := s.store.ListZones(ctx, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.AvailabilityZoneList{NextPageLink: pageLink("/v1/zones", req.GetPageSize(), page.Next)}
	for _, z := range page.Items {
		out.Items = append(out.Items, zonePB(z))
	}
	return out, nil
}

func (s *zones) GetAvailabilityZone(ctx context.Context, req *pb.IdRequest) (*pb.AvailabilityZone, error) {
	z, err := s.store.GetZone(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return zonePB(z), nil
}

func (s *zones) DeleteAvailabilityZone(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.deleteZone(ctx, req) })
}

// deleteZone refuses a zone that hosts are in. Hosts name their zone in their own records,
// so the check reads them all before the delete: a host moved into the zone between the
// two is not seen (the zone must exist when a host is moved, which narrows it to that).
func (s *zones) deleteZone(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	z, err := s.store.GetZone(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	hs, err := s.store.ListHosts(ctx)
	if err != nil {
		return nil, err
	}
	var in []string
	for _, h := range hs {
		if h.AvailabilityZone == z.ID {
			in = append(in, h.ID)
		}
	}
	if len(in) > 0 {
		return nil, errs.New(errs.CodeStateError, "AvailabilityZone #%s still has %d hosts", z.ID, len(in)).
			WithData("hosts", strings.Join(in, ","))
	}
	task := s.store.NewTask(taskID(ctx), OpDeleteZone, model.Entity{ID: z.ID, Kind: model.KindZone}, caller(ctx), nil)
	if err := s.store.DeleteZone(ctx, z, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *zones) ListAvailabilityZoneTasks(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.TaskList, error) {
	z, err := s.store.GetZone(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, z.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/zones/"+z.ID+"/tasks")
}
