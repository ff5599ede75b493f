package gateway

import (
	"context"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
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
	limits, err := quotaSpec(spec.GetQuota().GetQuotaItems(), store.QuotaSet)
	if err != nil {
		return nil, err
	}
	t := &model.Tenant{ID: newID(), Name: name, SecurityGroups: store.CleanGroups(spec.GetSecurityGroups()), CreatedAt: s.store.Now()}
	task := s.store.NewTask(taskID(ctx), "CREATE_TENANT", model.Entity{ID: t.ID, Kind: model.KindTenant}, caller(ctx), nil)
	task.TenantID = t.ID
	if err := s.store.CreateTenantWithQuota(ctx, t, limits, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *tenants) ListTenants(ctx context.Context, req *pb.ListTenantsRequest) (*pb.TenantList, error) {
	c := caller(ctx)
	if req.GetName() != "" {
		id, err := s.store.LookupName(ctx, model.KindTenant, "", req.GetName())
		if err != nil {
			return nil, err
		}
		out := &pb.TenantList{}
		if t, err := store.Get[model.Tenant](ctx, s.store, model.KindTenant, id); err == nil && policy.MaySeeTenant(c, t) {
			pt, err := s.tenantPB(ctx, t)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, pt)
		}
		return out, nil
	}
	page, err := s.store.ListTenants(ctx, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.TenantList{NextPageLink: pageLink("/v1/tenants", req.GetPageSize(), page.Next)}
	for _, t := range page.Items {
		if policy.MaySeeTenant(c, t) {
			pt, err := s.tenantPB(ctx, t)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, pt)
		}
	}
	return out, nil
}

// tenantPB is tenantPB with the tenant's quota and its security groups, the system's
// shown as inherited.
func (c *core) tenantPB(ctx context.Context, t *model.Tenant) (*pb.Tenant, error) {
	q, err := c.store.Quota(ctx, model.KindTenant, t.ID)
	if err != nil {
		return nil, err
	}
	system, err := c.store.SystemSecurityGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := tenantPB(t)
	out.Quota, out.SecurityGroups = quotaPB(q), securityGroupsPB(system, t.SecurityGroups)
	return out, nil
}

// tenant reads a tenant the caller has a role on (any other is NotFound) and charges the
// call to it.
func (c *core) tenant(ctx context.Context, id string) (*model.Tenant, error) {
	t, err := store.Get[model.Tenant](ctx, c.store, model.KindTenant, id)
	if err != nil {
		return nil, err
	}
	if err := allowAs(ctx, policy.TenantRole(caller(ctx), t), policy.Viewer, "Tenant", id); err != nil {
		return nil, err
	}
	if err := c.limitTenant(ctx, t.ID); err != nil {
		return nil, err
	}
	return t, nil
}

func (s *tenants) GetTenant(ctx context.Context, req *pb.IdRequest) (*pb.Tenant, error) {
	t, err := s.tenant(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	out, err := s.tenantPB(ctx, t)
	if err != nil {
		return nil, err
	}
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
	task := s.store.NewTask(taskID(ctx), "DELETE_TENANT", model.Entity{ID: t.ID, Kind: model.KindTenant}, caller(ctx), nil)
	if err := s.store.DeleteTenant(ctx, t, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *tenants) ListTenantTasks(ctx context.Context, req *pb.ListTenantTasksRequest) (*pb.TaskList, error) {
	t, err := s.tenant(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, t.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/tenants/"+t.ID+"/tasks")
}

func (s *tenants) GetTenantQuota(ctx context.Context, req *pb.IdRequest) (*pb.Quota, error) {
	t, err := s.tenant(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	q, err := s.store.Quota(ctx, model.KindTenant, t.ID)
	if err != nil {
		return nil, err
	}
	return quotaPB(q), nil
}

func (s *tenants) SetTenantQuota(ctx context.Context, req *pb.QuotaRequest) (*pb.Task, error) {
	return s.changeTenantQuota(ctx, req, store.QuotaSet)
}

func (s *tenants) UpdateTenantQuota(ctx context.Context, req *pb.QuotaRequest) (*pb.Task, error) {
	return s.changeTenantQuota(ctx, req, store.QuotaUpdate)
}

func (s *tenants) ExcludeTenantQuota(ctx context.Context, req *pb.QuotaRequest) (*pb.Task, error) {
	return s.changeTenantQuota(ctx, req, store.QuotaExclude)
}

// changeTenantQuota: a tenant's quota bounds what all its projects use together, so only
// system administrators change it; its administrators read it.
func (s *tenants) changeTenantQuota(ctx context.Context, req *pb.QuotaRequest, change store.QuotaChange) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		t, err := s.tenant(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		if !policy.MaySetTenantGroups(caller(ctx)) {
			return nil, errs.New(errs.CodeAccessForbidden, "only system administrators change a tenant's quota")
		}
		return s.changeQuota(ctx, model.Entity{ID: t.ID, Kind: model.KindTenant}, t.ID, change, req.GetItems())
	})
}

func (s *tenants) SetTenantSecurityGroups(ctx context.Context, req *pb.SecurityGroupsRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		t, err := s.tenant(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		if !policy.MaySetTenantGroups(caller(ctx)) {
			return nil, errs.New(errs.CodeAccessForbidden, "only system administrators set a tenant's security groups")
		}
		task := s.store.NewTask(taskID(ctx), "SET_TENANT_SECURITY_GROUPS", model.Entity{ID: t.ID, Kind: model.KindTenant}, caller(ctx), nil)
		task.TenantID = t.ID
		if _, err := s.store.SetTenantSecurityGroups(ctx, t.ID, req.GetItems(), task); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

// SetSystemSecurityGroups sets the groups whose members are system administrators. The
// gateway reads them on every request (see withSystemRoles), so they hold at once.
func (s *tenants) SetSystemSecurityGroups(ctx context.Context, req *pb.SystemSecurityGroupsRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		if err := requireSystemAdmin(ctx); err != nil {
			return nil, err
		}
		task := s.store.NewTask(taskID(ctx), "UPDATE_DEPLOYMENT_SECURITY_GROUPS",
			model.Entity{ID: store.DeploymentID, Kind: store.KindDeployment}, caller(ctx), nil)
		if err := s.store.SetSystemSecurityGroups(ctx, req.GetItems(), task); err != nil {
			return nil, err
		}
		s.settings.forget()
		return taskPB(task), nil
	})
}

// withSystemRoles adds the role of system administrator to a principal that belongs to
// one of the system's security groups (policy.WithSystemGroups).
func (c *core) withSystemRoles(ctx context.Context, p auth.Principal) (auth.Principal, error) {
	if len(p.Groups) == 0 {
		return p, nil
	}
	_, system, err := c.settings.get(ctx, c.store)
	if err != nil {
		return p, err
	}
	p.Groups = policy.WithSystemGroups(p.Groups, system)
	return p, nil
}
