package model

import "github.com/photon-cloud/photon/shared/errs"

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
	// UndoError is set while the step's undo, retried until it was dead-lettered, waits
	// for an operator (Task.ParkedUndo).
	UndoError *errs.Error `json:"undoError,omitempty"`
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
	// ParentID is the task this one is part of (a bulk create's parent), if any.
	ParentID string `json:"parentId,omitempty"`
	// WakesParent is set on the sub-tasks of a step that awaits them (a service's node
	// VMs): their end wakes the parent (store.Wake) instead of counting in its progress.
	WakesParent bool `json:"wakesParent,omitempty"`
	// SubTasks is, on a parent task, how many sub-tasks it runs; their progress is
	// counted apart (store.Progress) so that they never contend for the parent's document.
	SubTasks int `json:"subTasks,omitempty"`
	// StartEvent is the encoded event that starts the task's chain, if it has one. It is
	// not part of the record: store.AddTask appends it to the starts stream in the same
	// atomic call that writes the task (see store.StartsStream).
	StartEvent []byte `json:"-"`
	// ParkedUndo is the undo event that was dead-lettered, kept while the task waits in
	// ERROR for an operator to retry it (store.RetryUndo): the undo chain stopped there,
	// so the entity stays held by the task and nothing it reserved is released.
	ParkedUndo []byte `json:"parkedUndo,omitempty"`
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
