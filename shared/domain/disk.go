package domain

import (
	"slices"

	"github.com/photon-cloud/photon/shared/errs"
)

// Persistent disk states, as Photon named them.
const (
	DiskCreating = "CREATING"
	DiskDetached = "DETACHED"
	DiskAttached = "ATTACHED"
	DiskDeleting = "DELETING"
	DiskError    = "ERROR"
)

// diskFrom is, for each verb on a persistent disk, the states it starts from: a disk is
// attached when detached and detached when attached; it is deleted detached, or after a
// failed create or delete left it in ERROR.
var diskFrom = map[ChainID][]string{
	DiskDelete:   {DiskDetached, DiskError},
	VMAttachDisk: {DiskDetached},
	VMDetachDisk: {DiskAttached},
}

// DiskMayStart decides whether chain (reporting as op) may start now on the persistent
// disk id, which is in state and held by activeTask (none when ""): only when no other
// task holds it (ConcurrentTask) and its state is one the chain starts from (StateError).
func DiskMayStart(id, state, activeTask string, chain ChainID, op Op) error {
	if activeTask != "" {
		return errs.New(errs.CodeConcurrentTask, "PersistentDisk #%s is busy with task %s", id, activeTask).WithData("task", activeTask)
	}
	if from := diskFrom[chain]; !slices.Contains(from, state) {
		return errs.New(errs.CodeStateError, "PersistentDisk #%s is %s: %s needs it %s", id, state, op, OrList(from)).
			WithData("state", state)
	}
	return nil
}

// DiskStartState is the state a persistent disk takes as chain starts on it ("" keeps
// its state): a delete marks it DELETING at once.
func DiskStartState(chain ChainID) string {
	if chain == DiskDelete {
		return DiskDeleting
	}
	return ""
}

// DiskEnd is what the end of chain makes of its persistent disk, completed or failed: a
// completed create keeps the DETACHED its step recorded, a completed delete removes the
// disk, and a failed create or delete leaves it in ERROR (holding nothing: the undo chain
// ran) for its user to delete. The VM chains that hold a disk (attach, detach) leave its
// state to their step.
func DiskEnd(chain ChainID, completed bool) End {
	switch {
	case chain == DiskDelete && completed:
		return End{Remove: true}
	case (chain == DiskCreate || chain == DiskDelete) && !completed:
		return End{State: DiskError}
	}
	return End{}
}

// DiskGone is what the reconciler makes of a persistent disk in state cur, held by
// activeTask, whose file its datastore no longer has (confirmed by two reads): ERROR,
// unless a task holds it or it is not resting (being created or deleted, or in ERROR).
func DiskGone(cur, activeTask string) (next string, ok bool) {
	if activeTask != "" || (cur != DiskDetached && cur != DiskAttached) {
		return cur, false
	}
	return DiskError, true
}
