package store

import (
	"context"

	"github.com/photon-cloud/photon/shared/errs"
)

// Task and step states.
const (
	TaskQueued    = "QUEUED"
	TaskStarted   = "STARTED"
	TaskCompleted = "COMPLETED"
	TaskError     = "ERROR"
)

// Entity names what a task acts on.
type Entity struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

// Caller is who asked for a task; authorize checks it.
type Caller struct {
	Subject string   `json:"subject"`
	Groups  []string `json:"groups,omitempty"`
}

// Step is one function of a task's chain.
type Step struct {
	Operation   string        `json:"operation"`
	State       string        `json:"state"`
	Sequence    int           `json:"sequence"`
	QueuedTime  int64         `json:"queuedTime"`
	StartedTime int64         `json:"startedTime,omitempty"`
	EndTime     int64         `json:"endTime,omitempty"`
	Errors      []*errs.Error `json:"errors,omitempty"`
	// Undone is set when the undo chain has reversed this step.
	Undone bool `json:"undone,omitempty"`
}

// Task is one asynchronous operation.
type Task struct {
	ID          string            `json:"id"`
	Operation   string            `json:"operation"`
	State       string            `json:"state"`
	Entity      Entity            `json:"entity"`
	TenantID    string            `json:"tenantId,omitempty"`
	ProjectID   string            `json:"projectId,omitempty"`
	Caller      Caller            `json:"caller"`
	QueuedTime  int64             `json:"queuedTime"`
	StartedTime int64             `json:"startedTime,omitempty"`
	EndTime     int64             `json:"endTime,omitempty"`
	Steps       []Step            `json:"steps,omitempty"`
	Properties  map[string]string `json:"resourceProperties,omitempty"`
}

// Failed returns the step that failed, or nil.
func (t *Task) Failed() *Step {
	for i := range t.Steps {
		if t.Steps[i].State == TaskError {
			return &t.Steps[i]
		}
	}
	return nil
}

// Done reports whether the task has ended.
func (t *Task) Done() bool { return t.State == TaskCompleted || t.State == TaskError }

// NewTask builds a QUEUED task with one QUEUED step per operation in steps; a task with
// no steps is COMPLETED at once (synchronous operations still answer with a task).
func (s *Store) NewTask(id, op string, entity Entity, caller Caller, steps []string) *Task {
	now := s.Now()
	t := &Task{ID: id, Operation: op, State: TaskQueued, Entity: entity, Caller: caller, QueuedTime: now}
	for i, name := range steps {
		t.Steps = append(t.Steps, Step{Operation: name, State: TaskQueued, Sequence: i, QueuedTime: now})
	}
	if len(steps) == 0 {
		t.State, t.StartedTime, t.EndTime = TaskCompleted, now, now
	}
	return t
}

// AddTask adds the writes that create t to b: the document and the entity's task index.
func (s *Store) AddTask(b *Batch, t *Task) *Batch {
	return b.Put(s.Key(KindTask, t.ID), t).
		Index(s.Key("idx", "tasks", t.Entity.ID), indexMember(t.QueuedTime, t.ID))
}

// GetTask reads a task.
func (s *Store) GetTask(ctx context.Context, id string) (*Task, error) {
	return Get[Task](ctx, s, KindTask, id)
}

// UpdateTask applies fn to the task atomically.
func (s *Store) UpdateTask(ctx context.Context, id string, fn func(*Task) error) (*Task, error) {
	return Update(ctx, s, KindTask, id, fn)
}

// ListTasks lists the tasks of an entity, oldest first.
func (s *Store) ListTasks(ctx context.Context, entityID string, size int, cursor string) (Page[Task], error) {
	return List[Task](ctx, s, s.Key("idx", "tasks", entityID), KindTask, size, cursor)
}
