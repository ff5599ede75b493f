package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/model"
)

// NewTask builds a QUEUED task with one QUEUED step per operation in steps; a task with
// no steps is COMPLETED at once (synchronous operations still answer with a task).
func (s *Store) NewTask(id, op string, entity model.Entity, caller model.Caller, steps []string) *model.Task {
	now := s.Now()
	t := &model.Task{ID: id, Operation: op, State: model.TaskQueued, Entity: entity, Caller: caller, QueuedTime: now}
	for i, name := range steps {
		t.Steps = append(t.Steps, model.Step{Operation: name, State: model.TaskQueued, Sequence: i, QueuedTime: now})
	}
	if len(steps) == 0 {
		t.State, t.StartedTime, t.EndTime = model.TaskCompleted, now, now
	}
	return t
}

// AddTask adds the writes that create t to b: the document, the entity's task index, the
// index of all tasks by age (retention.go) and the chain's start event.
func (s *Store) AddTask(b *Batch, t *model.Task) *Batch {
	b.prefix = s.space // a batch written outside Apply and watch (ChangeQuota) still reaches the outbox
	b.durable = true
	b.Put(s.key(model.KindTask, t.ID), t).Index(s.key("idx", "tasks", t.Entity.ID), indexMember(t.QueuedTime, t.ID)).
		Index(s.allTasksIdx(), indexMember(t.QueuedTime, t.ID))
	if t.ParentID != "" {
		b.Index(s.subTasksIdx(t.ParentID), indexMember(t.QueuedTime, t.ID))
	}
	if t.SubTasks > 0 {
		b.HashSet(s.progressKey(t.ID), map[string]string{"total": strconv.Itoa(t.SubTasks), "completed": "0", "failed": "0"})
	}
	if len(t.StartEvent) > 0 {
		b.Append(s.StartsStream(), t.StartEvent)
	}
	return b
}

func (s *Store) subTasksIdx(parent string) string { return s.key("idx", "subtasks", parent) }
func (s *Store) progressKey(parent string) string { return s.key("progress", parent) }

// ListSubTasks lists a parent task's sub-tasks, oldest first.
func (s *Store) ListSubTasks(ctx context.Context, parentID string, size int, cursor string) (Page[model.Task], error) {
	return List[model.Task](ctx, s, s.subTasksIdx(parentID), model.KindTask, size, cursor)
}

// Progress counts a parent task's sub-tasks.
type Progress struct {
	Total, Completed, Failed int
}

// InFlight is how many sub-tasks have not ended.
func (p Progress) InFlight() int { return p.Total - p.Completed - p.Failed }

// Done reports whether every sub-task has ended.
func (p Progress) Done() bool { return p.Total > 0 && p.InFlight() <= 0 }

// Progress reads a parent task's counts.
func (s *Store) Progress(ctx context.Context, parentID string) (Progress, error) {
	v, err := s.rdb.HMGet(ctx, s.progressKey(parentID), "total", "completed", "failed").Result()
	if err != nil {
		return Progress{}, fmt.Errorf("read progress of %s: %w", parentID, err)
	}
	n := func(x any) int { i, _ := strconv.Atoi(fmt.Sprint(x)); return i }
	return Progress{Total: n(v[0]), Completed: n(v[1]), Failed: n(v[2])}, nil
}

// subTaskEnded: KEYS progress hash, set of ended sub-tasks; ARGV sub-task id, "completed"
// or "failed". A sub-task is counted once however often its end is replayed.
var subTaskEnded = redis.NewScript(`
if redis.call('SADD', KEYS[2], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[1], ARGV[2], 1) end
return redis.call('HMGET', KEYS[1], 'total', 'completed', 'failed')
`)

// SubTaskEnded counts the end of sub-task t in its parent's progress and, when it was the
// last, ends the parent (a sub-task that WakesParent wakes it instead): COMPLETED if every sub-task completed, ERROR otherwise. It is
// idempotent: replaying a sub-task's end counts nothing twice and still ends the parent.
func (s *Store) SubTaskEnded(ctx context.Context, t *model.Task) error {
	if t.ParentID == "" || !t.Done() {
		return nil
	}
	if t.WakesParent {
		_, err := s.Wake(ctx, t.ParentID)
		return err
	}
	field := "completed"
	if t.State == model.TaskError {
		field = "failed"
	}
	v, err := subTaskEnded.Run(ctx, s.rdb, []string{s.progressKey(t.ParentID), s.key("progress", t.ParentID, "ended")}, t.ID, field).Slice()
	if err != nil {
		return fmt.Errorf("count end of %s in %s: %w", t.ID, t.ParentID, err)
	}
	n := func(x any) int { i, _ := strconv.Atoi(fmt.Sprint(x)); return i }
	p := Progress{Total: n(v[0]), Completed: n(v[1]), Failed: n(v[2])}
	if !p.Done() {
		return nil
	}
	_, err = s.UpdateTask(ctx, t.ParentID, func(parent *model.Task) error {
		if parent.Done() {
			return ErrNoChange
		}
		parent.State, parent.EndTime = model.TaskCompleted, s.Now()
		if p.Failed > 0 {
			parent.State = model.TaskError
		}
		return nil
	})
	if err == nil {
		s.rdb.Del(ctx, s.key("progress", t.ParentID, "ended")) // the counts in the hash stay
	}
	return err
}

// GetTask reads a task.
func (s *Store) GetTask(ctx context.Context, id string) (*model.Task, error) {
	return Get[model.Task](ctx, s, model.KindTask, id)
}

// UpdateTask applies fn to the task atomically.
func (s *Store) UpdateTask(ctx context.Context, id string, fn func(*model.Task) error) (*model.Task, error) {
	return Update(ctx, s, model.KindTask, id, fn)
}

// ListAllTasks lists every task, oldest first (the index retention trims).
func (s *Store) ListAllTasks(ctx context.Context, size int, cursor string) (Page[model.Task], error) {
	return List[model.Task](ctx, s, s.allTasksIdx(), model.KindTask, size, cursor)
}

// ListTasks lists the tasks of an entity, oldest first.
func (s *Store) ListTasks(ctx context.Context, entityID string, size int, cursor string) (Page[model.Task], error) {
	return List[model.Task](ctx, s, s.key("idx", "tasks", entityID), model.KindTask, size, cursor)
}
