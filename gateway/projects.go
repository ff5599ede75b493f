package gateway

import (
	"cmp"
	"context"
	"slices"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
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
	t, err := store.Get[model.Tenant](ctx, s.store, model.KindTenant, req.GetTenantId())
	if err != nil {
		return nil, err
	}
	if err := allowAs(ctx, policy.TenantRole(caller(ctx), t), policy.Owner, "Tenant", t.ID); err != nil {
		return nil, err
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
	quota, err := quotaSpec(spec.GetQuota().GetQuotaItems(), store.QuotaSet)
	if err != nil {
		return nil, err
	}
	limits = mergeLimits(limits, quota)
	policy, err := placementPolicy(spec.GetPlacementPolicy())
	if err != nil {
		return nil, err
	}
	p := &model.Project{ID: newID(), TenantID: t.ID, Name: name, TicketName: spec.GetResourceTicket().GetName(),
		Limits: limits, SecurityGroups: store.CleanGroups(spec.GetSecurityGroups()), CreatedAt: s.store.Now(), PlacementPolicy: policy}
	task := s.store.NewTask(taskID(ctx), "CREATE_PROJECT", model.Entity{ID: p.ID, Kind: model.KindProject}, caller(ctx), nil)
	task.TenantID, task.ProjectID = t.ID, p.ID
	if err := s.store.CreateProject(ctx, p, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *projects) ListProjects(ctx context.Context, req *pb.ListProjectsRequest) (*pb.ProjectList, error) {
	t, err := store.Get[model.Tenant](ctx, s.store, model.KindTenant, req.GetTenantId())
	if err != nil {
		return nil, err
	}
	c := caller(ctx)
	page, err := s.store.ListProjects(ctx, t.ID, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	system, err := s.store.SystemSecurityGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := &pb.ProjectList{NextPageLink: pageLink("/v1/tenants/"+t.ID+"/projects", req.GetPageSize(), page.Next)}
	for _, p := range page.Items {
		if !policy.MaySeeProject(c, t, p) || (req.GetName() != "" && p.Name != req.GetName()) {
			continue
		}
		pp, err := s.withUsage(ctx, t, p, system)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, pp)
	}
	if len(out.Items) == 0 && policy.TenantRole(c, t) == policy.None {
		// Someone with no role on the tenant learns that it exists only from a project
		// of it they may see.
		if seen, err := s.seesAProject(ctx, c, t); err != nil || !seen {
			return nil, cmp.Or(err, error(errs.NotFound("Tenant", t.ID)))
		}
	}
	return out, nil
}

// seesAProject reports whether c may see at least one project of tenant t.
func (s *projects) seesAProject(ctx context.Context, c model.Caller, t *model.Tenant) (bool, error) {
	for link := ""; ; {
		page, err := s.store.ListProjects(ctx, t.ID, store.MaxPageSize, link)
		if err != nil {
			return false, err
		}
		if slices.ContainsFunc(page.Items, func(p *model.Project) bool { return policy.MaySeeProject(c, t, p) }) {
			return true, nil
		}
		if link = page.Next; link == "" {
			return false, nil
		}
	}
}

// withUsage is the project as the API shows it: its resource ticket and quota with what
// is in use, and its security groups after those it inherits from the system and from
// tenant t.
func (s *projects) withUsage(ctx context.Context, t *model.Tenant, p *model.Project, system []string) (*pb.Project, error) {
	limits, used, units, err := s.store.QuotaUsage(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	out := projectPB(p, used, units)
	q := make(map[string]store.QuotaStatus, len(limits))
	for k, l := range limits {
		q[k] = store.QuotaStatus{Unit: units[k], Limit: l, Usage: used[k]}
	}
	out.Quota = quotaPB(q)
	out.SecurityGroups = securityGroupsPB(append(slices.Clip(system), t.SecurityGroups...), p.SecurityGroups)
	return out, nil
}

func (s *projects) GetProject(ctx context.Context, req *pb.IdRequest) (*pb.Project, error) {
	p, t, err := s.projectFor(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	system, err := s.store.SystemSecurityGroups(ctx)
	if err != nil {
		return nil, err
	}
	return s.withUsage(ctx, t, p, system)
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
	task := s.store.NewTask(taskID(ctx), "DELETE_PROJECT", model.Entity{ID: p.ID, Kind: model.KindProject}, caller(ctx), nil)
	if err := s.store.DeleteProject(ctx, p, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *projects) ListProjectTasks(ctx context.Context, req *pb.ListProjectTasksRequest) (*pb.TaskList, error) {
	p, _, err := s.projectFor(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, p.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/projects/"+p.ID+"/tasks")
}

func (s *projects) GetProjectQuota(ctx context.Context, req *pb.IdRequest) (*pb.Quota, error) {
	p, _, err := s.projectFor(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	q, err := s.store.Quota(ctx, model.KindProject, p.ID)
	if err != nil {
		return nil, err
	}
	return quotaPB(q), nil
}

func (s *projects) SetProjectQuota(ctx context.Context, req *pb.QuotaRequest) (*pb.Task, error) {
	return s.changeProjectQuota(ctx, req, store.QuotaSet)
}

func (s *projects) UpdateProjectQuota(ctx context.Context, req *pb.QuotaRequest) (*pb.Task, error) {
	return s.changeProjectQuota(ctx, req, store.QuotaUpdate)
}

func (s *projects) ExcludeProjectQuota(ctx context.Context, req *pb.QuotaRequest) (*pb.Task, error) {
	return s.changeProjectQuota(ctx, req, store.QuotaExclude)
}

// changeProjectQuota: a project's quota is its tenant administrators' to change; its users
// read it.
func (s *projects) changeProjectQuota(ctx context.Context, req *pb.QuotaRequest, change store.QuotaChange) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		p, t, err := s.projectFor(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		if !policy.MaySetProjectGroups(caller(ctx), t) {
			return nil, errs.New(errs.CodeAccessForbidden, "only tenant administrators change a project's quota")
		}
		return s.changeQuota(ctx, model.Entity{ID: p.ID, Kind: model.KindProject}, t.ID, change, req.GetItems())
	})
}

func (s *projects) SetProjectSecurityGroups(ctx context.Context, req *pb.SecurityGroupsRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		p, t, err := s.projectFor(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		if !policy.MaySetProjectGroups(caller(ctx), t) {
			return nil, errs.New(errs.CodeAccessForbidden, "only tenant administrators set a project's security groups")
		}
		task := s.store.NewTask(taskID(ctx), "SET_PROJECT_SECURITY_GROUPS", model.Entity{ID: p.ID, Kind: model.KindProject}, caller(ctx), nil)
		task.TenantID, task.ProjectID = t.ID, p.ID
		if _, err := s.store.SetProjectSecurityGroups(ctx, p.ID, req.GetItems(), task); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}
