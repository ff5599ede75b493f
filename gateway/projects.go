package gateway

import (
	"context"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

type projects struct {
	pb.UnimplementedProjectsServer
	*core
}

func (s *projects) CreateProject(ctx context.Context, req *pb.CreateProjectRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createProject(ctx, req) })
}

func (s *projects) createProject(ctx context.Context, req *pb.CreateProjectRequest) (*pb.Task, error) {
	t, err := store.Get[store.Tenant](ctx, s.store, store.KindTenant, req.GetTenantId())
	if err != nil {
		return nil, err
	}
	if !policy.IsTenantAdmin(caller(ctx), t) {
		return nil, errs.NotFound("Tenant", t.ID)
	}
	spec := req.GetSpec()
	name := strings.TrimSpace(spec.GetName())
	if name == "" {
		return nil, errs.Invalid("name is required")
	}
	limits, err := canonical(fromQuotaItems(spec.GetResourceTicket().GetLimits()))
	if err != nil {
		return nil, err
	}
	for _, l := range limits {
		if l.Key == "" || l.Value < 0 {
			return nil, errs.Invalid("quota limits need a key and a value of 0 or more")
		}
	}
	policy, err := placementPolicy(spec.GetPlacementPolicy())
	if err != nil {
		return nil, err
	}
	p := &store.Project{ID: newID(), TenantID: t.ID, Name: name, TicketName: spec.GetResourceTicket().GetName(),
		Limits: limits, SecurityGroups: spec.GetSecurityGroups(), CreatedAt: s.store.Now(), PlacementPolicy: policy}
	task := s.store.NewTask(taskID(ctx), "CREATE_PROJECT", store.Entity{ID: p.ID, Kind: store.KindProject}, caller(ctx), nil)
	task.TenantID, task.ProjectID = t.ID, p.ID
	if err := s.store.CreateProject(ctx, p, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *projects) ListProjects(ctx context.Context, req *pb.ListProjectsRequest) (*pb.ProjectList, error) {
	t, err := store.Get[store.Tenant](ctx, s.store, store.KindTenant, req.GetTenantId())
	if err != nil {
		return nil, err
	}
	c := caller(ctx)
	page, err := s.store.ListProjects(ctx, t.ID, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.ProjectList{NextPageLink: pageLink("/v1/tenants/"+t.ID+"/projects", req.GetPageSize(), page.Next)}
	for _, p := range page.Items {
		if !policy.MayUseProject(c, t, p) || (req.GetName() != "" && p.Name != req.GetName()) {
			continue
		}
		pp, err := s.withUsage(ctx, p)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, pp)
	}
	return out, nil
}

func (s *projects) withUsage(ctx context.Context, p *store.Project) (*pb.Project, error) {
	_, used, units, err := s.store.QuotaUsage(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	return projectPB(p, used, units), nil
}

func (s *projects) GetProject(ctx context.Context, req *pb.IdRequest) (*pb.Project, error) {
	p, _, err := s.projectFor(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return s.withUsage(ctx, p)
}

func (s *projects) DeleteProject(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.deleteProject(ctx, req) })
}

func (s *projects) deleteProject(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	p, t, err := s.projectFor(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if !policy.IsTenantAdmin(caller(ctx), t) {
		return nil, errs.New(errs.CodeAccessForbidden, "only tenant administrators delete projects")
	}
	task := s.store.NewTask(taskID(ctx), "DELETE_PROJECT", store.Entity{ID: p.ID, Kind: store.KindProject}, caller(ctx), nil)
	if err := s.store.DeleteProject(ctx, p, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}
