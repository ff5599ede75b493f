package gateway

import (
	"context"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

type tasks struct {
	pb.UnimplementedTasksServer
	*core
}

// mayRead reports whether the caller may see task t: its project's users, or for tasks
// outside projects, system admins and whoever started it.
func (c *core) mayRead(ctx context.Context, t *store.Task) bool {
	who := caller(ctx)
	if policy.IsSystemAdmin(who) || (who.Subject != "" && who.Subject == t.Caller.Subject) {
		return true
	}
	if t.ProjectID != "" {
		_, _, err := c.projectFor(ctx, t.ProjectID)
		return err == nil
	}
	if t.TenantID != "" {
		ten, err := store.Get[store.Tenant](ctx, c.store, store.KindTenant, t.TenantID)
		return err == nil && policy.IsTenantAdmin(who, ten)
	}
	return false
}

func (s *tasks) GetTask(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	t, err := s.store.GetTask(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if !s.mayRead(ctx, t) {
		return nil, errs.NotFound("Task", req.GetId())
	}
	return taskPB(t), nil
}

func (s *tasks) ListTasks(ctx context.Context, req *pb.ListTasksRequest) (*pb.TaskList, error) {
	if req.GetEntityId() == "" {
		return nil, errs.Invalid("entityId is required")
	}
	return listTasks(ctx, s.core, req.GetEntityId(), req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/tasks")
}

func listTasks(ctx context.Context, c *core, entity, state string, size int32, link, path string) (*pb.TaskList, error) {
	page, err := c.store.ListTasks(ctx, entity, int(size), link)
	if err != nil {
		return nil, err
	}
	out := &pb.TaskList{NextPageLink: pageLink(path, size, page.Next)}
	if out.NextPageLink != "" && path == "/v1/tasks" {
		out.NextPageLink += "&entityId=" + entity
	}
	for _, t := range page.Items {
		if (state == "" || t.State == state) && c.mayRead(ctx, t) {
			out.Items = append(out.Items, taskPB(t))
		}
	}
	return out, nil
}
