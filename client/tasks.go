package client

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// Task states that end a task.
const (
	TaskCompleted = "COMPLETED"
	TaskError     = "ERROR"
)

// TaskFailed is a task that ended in ERROR: Err is the first error of its failed step.
type TaskFailed struct {
	Task *pb.Task
	Err  APIError
}

func (e *TaskFailed) Error() string {
	return fmt.Sprintf("task %s (%s) failed: %s: %s", e.Task.GetId(), e.Task.GetOperation(), e.Err.Code, e.Err.Message)
}

// Failure is the TaskFailed of a task in ERROR, else nil.
func Failure(t *pb.Task) *TaskFailed {
	if t.GetState() != TaskError {
		return nil
	}
	f := &TaskFailed{Task: t, Err: APIError{Code: "TaskError", Message: "the task failed"}}
	for _, s := range t.GetSteps() {
		if len(s.GetErrors()) > 0 {
			e := s.GetErrors()[0]
			f.Err = APIError{Code: e.GetCode(), Message: e.GetMessage(), Data: e.GetData()}
			break
		}
	}
	if p := t.GetProgress(); f.Err.Code == "TaskError" && p != nil {
		f.Err.Message = fmt.Sprintf("%d of %d failed", p.GetFailed(), p.GetTotal())
	}
	return f
}

// Done tells whether a task has ended.
func Done(t *pb.Task) bool { return t.GetState() == TaskCompleted || t.GetState() == TaskError }

// GetTask reads a task.
func (c *Client) GetTask(ctx context.Context, id string) (*pb.Task, error) {
	t := &pb.Task{}
	return t, c.call(ctx, "GET", "/v1/tasks/"+url.PathEscape(id), nil, nil, t)
}

// Wait polls the task until it ends, every 100ms at first and up to every 2s for a long
// one. Each time the task has changed, onChange (when not nil) is called with it: the
// CLI draws the chain's steps or a bulk create's counts from it. A task that ends in
// ERROR answers with the task and a *TaskFailed.
func (c *Client) Wait(ctx context.Context, id string, onChange func(*pb.Task)) (*pb.Task, error) {
	every := 100 * time.Millisecond
	var last *pb.Task
	for {
		t, err := c.GetTask(ctx, id)
		if err != nil {
			return last, err
		}
		if onChange != nil && !proto.Equal(t, last) {
			onChange(t)
		}
		last = t
		if Done(t) {
			if f := Failure(t); f != nil {
				return t, f
			}
			return t, nil
		}
		if err := sleep(ctx, every); err != nil {
			return t, err
		}
		every = min(every*3/2, 2*time.Second)
	}
}

// Run waits on the task a call started: it is what most callers do with a *pb.Task.
func (c *Client) Run(ctx context.Context, t *pb.Task, err error) (*pb.Task, error) {
	if err != nil {
		return t, err
	}
	if Done(t) {
		if f := Failure(t); f != nil {
			return t, f
		}
		return t, nil
	}
	return c.Wait(ctx, t.GetId(), nil)
}

// TaskOptions filter a task list.
type TaskOptions struct {
	EntityID, EntityKind, State, ParentID string
}

// ListTasks lists tasks (all pages).
func (c *Client) ListTasks(ctx context.Context, o TaskOptions) ([]*pb.Task, error) {
	q := url.Values{}
	for k, v := range map[string]string{"entityId": o.EntityID, "entityKind": o.EntityKind, "state": o.State, "parentId": o.ParentID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return listAll(ctx, c, "/v1/tasks", q, func(l *pb.TaskList) ([]*pb.Task, string) { return l.GetItems(), l.GetNextPageLink() })
}

// EntityTasks lists the tasks of one entity by its path, e.g. "/v1/vms/ID/tasks".
func (c *Client) EntityTasks(ctx context.Context, path, state string) ([]*pb.Task, error) {
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	return listAll(ctx, c, path, q, func(l *pb.TaskList) ([]*pb.Task, string) { return l.GetItems(), l.GetNextPageLink() })
}

// listAll reads every page of a list: the first at path, the next at each nextPageLink.
func listAll[T any, L any, PL interface {
	*L
	proto.Message
}](ctx context.Context, c *Client, path string, q url.Values, items func(PL) ([]T, string)) ([]T, error) {
	var all []T
	for path != "" {
		var l PL = new(L)
		if err := c.call(ctx, "GET", path, q, nil, l); err != nil {
			return all, err
		}
		page, next := items(l)
		all = append(all, page...)
		path, q = next, nil
	}
	return all, nil
}
