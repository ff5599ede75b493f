package store

import (
	"context"
	"fmt"

	"github.com/photon-cloud/photon/shared/model"
)

// EditVM changes the record of VM id with edit and writes task, the completed task that
// reports the change (one without steps: NewTask makes it COMPLETED), in one atomic call:
// the VM, the task and their outbox entries are all written or none is. edit sees the VM
// as the write finds it and refuses by returning an error; if another writer changes the
// VM meanwhile, the VM is read again and edit runs again. It returns the VM as written.
// An edit that leaves the record as it was writes only the task.
func (s *Store) EditVM(ctx context.Context, id string, task *model.Task, edit func(*model.VM) error) (*model.VM, error) {
	if task.State != model.TaskCompleted {
		return nil, fmt.Errorf("edit vm %s: task %s is %s, an edit's task is written COMPLETED", id, task.ID, task.State)
	}
	return StartTask(ctx, s, model.KindVM, id, task, edit)
}
