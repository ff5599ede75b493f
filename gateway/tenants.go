package gateway

import (
	"context"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

type tenants struct {
	pb.UnimplementedTenantsServer
	*core
}

func (s *tenants) CreateTenant(ctx context.Context, req *pb.CreateTenantRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createTenant(ctx, req) })
}

func (s *tenants) createTenant(ctx context.Context, req *pb.CreateTenantRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	spec := req.GetSpec()
	name := strings.TrimSpace(spec.GetName())
	if name == "" {
		return nil, errs.Invalid("name is required")
	}
	t := &store.Tenant{ID: newID(), Name: name, SecurityGroups: spec.GetSecurityGroups(), CreatedAt: s.store.Now()}
	task := s.store.NewTask(taskID(ctx), "CREATE_TENANT", store.Entity{ID: t.ID, Kind: store.KindTenant}, caller(ctx), nil)
	task.TenantID = t.ID
	if err := s.store.CreateTenant(ctx, t, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *tenants) ListTenants(ctx context.Context, req *pb.ListTenantsRequest) (*pb.TenantList, error) {
	c := caller(ctx)
	if req.GetName() != "" {
		id, err := s.store.LookupName(ctx, store.KindTenant, "", req.GetName())
		if err != nil {
			return nil, err
		}
		out := &pb.TenantList{}
		if t, err := store.Get[store.Tenant](ctx, s.store, store.KindTenant, id); err == nil && policy.IsTenantAdmin(c, t) {
			out.Items = append(out.Items, tenantPB(t))
		}
		return out, nil
	}
	page, err := s.store.ListTenants(ctx, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.TenantList{NextPageLink: pageLink("/v1/tenants", req.GetPageSize(), page.Next)}
	for _, t := range page.Items {
		if policy.IsTenantAdmin(c, t) {
			out.Items = append(out.Items, tenantPB(t))
		}
	}
	return out, nil
}

func (s *tenants) tenant(ctx context.Context, id string) (*store.Tenant, error) {
	t, err := store.Get[store.Tenant](ctx, s.store, store.KindTenant, id)
	if err != nil {
		return nil, err
	}
	if !policy.IsTenantAdmin(caller(ctx), t) {
		return nil, errs.NotFound("Tenant", id)
	}
	return t, nil
}

func (s *tenants) GetTenant(ctx context.Context, req *pb.IdRequest) (*pb.Tenant, error) {
	t, err := s.tenant(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	out := tenantPB(t)
	page, err := s.store.ListProjects(ctx, t.ID, store.MaxPageSize, "")
	if err != nil {
		return nil, err
	}
	for _, p := range page.Items {
		out.Projects = append(out.Projects, &pb.BaseCompact{Id: p.ID, Name: p.Name})
	}
	return out, nil
}

func (s *tenants) DeleteTenant(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.deleteTenant(ctx, req) })
}

func (s *tenants) deleteTenant(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	t, err := s.tenant(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	task := s.store.NewTask(taskID(ctx), "DELETE_TENANT", store.Entity{ID: t.ID, Kind: store.KindTenant}, caller(ctx), nil)
	if err := s.store.DeleteTenant(ctx, t, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}
