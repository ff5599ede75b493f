package domain

// Persistent disk states, as Photon named them.
const (
	DiskCreating = "CREATING"
	DiskDetached = "DETACHED"
	DiskAttached = "ATTACHED"
	DiskDeleting = "DELETING"
	DiskError    = "ERROR"
)

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
