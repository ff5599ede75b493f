package gateway

import (
	"context"
	"net/url"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

type tasks struct {
	pb.UnimplementedTasksServer
	*core
}

// mayRead reports whether the caller may see task t: its project's users, or for tasks
// outside projects, system admins and whoever started it.
func (c *core) mayRead(ctx context.Context, t *model.Task) bool {
	who := caller(ctx)
	if policy.IsSystemAdmin(who) || (who.Subject != "" && who.Subject == t.Caller.Subject) {
		return true
	}
	if t.ProjectID != "" {
		_, _, err := c.projectFor(ctx, t.ProjectID)
		return err == nil
	}
	if t.TenantID != "" {
		ten, err := store.Get[model.Tenant](ctx, c.store, model.KindTenant, t.TenantID)
		return err == nil && policy.MaySeeTenant(who, ten)
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
	return s.taskPB(ctx, t)
}

// taskPB is taskPB with, for a parent task, the live progress of its sub-tasks.
func (c *core) taskPB(ctx context.Context, t *model.Task) (*pb.Task, error) {
	out := taskPB(t)
	if t.SubTasks > 0 {
		p, err := c.store.Progress(ctx, t.ID)
		if err != nil {
			return nil, err
		}
		out.Progress = &pb.TaskProgress{Total: int32(t.SubTasks), Completed: int32(p.Completed), Failed: int32(p.Failed),
			InFlight: int32(t.SubTasks - p.Completed - p.Failed)}
	}
	return out, nil
}

func (s *tasks) ListTasks(ctx context.Context, req *pb.ListTasksRequest) (*pb.TaskList, error) {
	switch {
	case req.GetParentId() != "":
		parent, err := s.store.GetTask(ctx, req.GetParentId())
		if err != nil {
			return nil, err
		}
		if !s.mayRead(ctx, parent) {
			return nil, errs.NotFound("Task", req.GetParentId())
		}
		page, err := s.store.ListSubTasks(ctx, parent.ID, int(req.GetPageSize()), req.GetPageLink())
		if err != nil {
			return nil, err
		}
		return s.taskList(ctx, page, req.GetState(), "", req.GetPageSize(), "/v1/tasks", "&parentId="+parent.ID)
	case req.GetEntityId() != "":
		return listTasks(ctx, s.core, req.GetEntityId(), req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/tasks")
	}
	// Every task, as Photon listed them, filtered by entityKind and state: a page of the
	// index of all tasks holds what the caller may read of it (system administrators
	// read all), so each call reads at most one page however few the caller may see.
	page, err := s.store.ListAllTasks(ctx, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	query := ""
	for _, q := range [][2]string{{"entityKind", req.GetEntityKind()}, {"state", req.GetState()}} {
		if q[1] != "" {
			query += "&" + q[0] + "=" + url.QueryEscape(q[1])
		}
	}
	return s.taskList(ctx, page, req.GetState(), req.GetEntityKind(), req.GetPageSize(), "/v1/tasks", query)
}

func listTasks(ctx context.Context, c *core, entity, state string, size int32, link, path string) (*pb.TaskList, error) {
	page, err := c.store.ListTasks(ctx, entity, int(size), link)
	if err != nil {
		return nil, err
	}
	query := ""
	if path == "/v1/tasks" {
		query = "&entityId=" + entity
	}
	return c.taskList(ctx, page, state, "", size, path, query)
}

// taskList is one page of tasks the caller may read, in state if state is set and of
// entities of kind if kind is set.
func (c *core) taskList(ctx context.Context, page store.Page[model.Task], state, kind string, size int32, path, query string) (*pb.TaskList, error) {
	out := &pb.TaskList{NextPageLink: pageLink(path, size, page.Next)}
	if out.NextPageLink != "" {
		out.NextPageLink += query
	}
	for _, t := range page.Items {
		if (state == "" || t.State == state) && (kind == "" || t.Entity.Kind == kind) && c.mayRead(ctx, t) {
			pt, err := c.taskPB(ctx, t)
			if err != nil {
				return nil, err
			}
			out.Items = append(out.Items, pt)
		}
	}
	return out, nil
}

// RetryTask republishes the undo a task is parked on (store.RetryUndo), through the
// starts stream that the relay publishes, as a chain's start is.
func (s *tasks) RetryTask(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	t, err := s.store.RetryUndo(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return s.taskPB(ctx, t)
}
