package domain

import (
	"slices"
	"strings"

	"github.com/photon-cloud/photon/shared/errs"
)

// VM states.
const (
	VMCreating = "CREATING"
	VMStarted  = "STARTED"
	VMStopped  = "STOPPED"
	// VMSuspended is a suspended VM: its memory is saved on its datastore.
	VMSuspended = "SUSPENDED"
	VMDeleting  = "DELETING"
	VMError     = "ERROR"
)

// Host power states, as hostd reports them (vSphere's VirtualMachinePowerState).
const (
	PowerOn        = "poweredOn"
	PowerOff       = "poweredOff"
	PowerSuspended = "suspended"
)

// vmFrom is, for each verb on an existing VM that needs one, the states it starts from.
// The verbs not here (delete, metadata, tags) start from any state; vm.create makes the
// VM.
var vmFrom = map[ChainID][]string{
	VMStart:   {VMStopped},
	VMStop:    {VMStarted, VMSuspended},
	VMRestart: {VMStarted},
	VMSuspend: {VMStarted},
	VMResume:  {VMSuspended},
	// Disks and ISOs are attached to and detached from a running or stopped VM: a
	// suspended VM's saved memory refers to its devices as they were.
	VMAttachDisk: {VMStarted, VMStopped},
	VMDetachDisk: {VMStarted, VMStopped},
	VMAttachISO:  {VMStarted, VMStopped},
	VMDetachISO:  {VMStarted, VMStopped},
	VMMksTicket:  {VMStarted},
	VMResize:     {VMStopped},
	// An image is captured from a stopped VM's boot disk: a running VM's is changing.
	VMCreateImage: {VMStopped},
}

// VMFrom lists the states chain may start from on a VM; nil means any.
func VMFrom(chain ChainID) []string { return slices.Clone(vmFrom[chain]) }

// VMMayStart decides whether chain (reporting as op) may start now on the VM id, which is
// in state and held by activeTask (none when ""): only when no other task holds it
// (ConcurrentTask) and its state is one the chain starts from (StateError).
func VMMayStart(id, state, activeTask string, chain ChainID, op Op) error {
	if activeTask != "" {
		return errs.New(errs.CodeConcurrentTask, "Vm #%s is busy with task %s", id, activeTask).WithData("task", activeTask)
	}
	if from := vmFrom[chain]; len(from) > 0 && !slices.Contains(from, state) {
		return errs.New(errs.CodeStateError, "Vm #%s is %s: %s needs it %s", id, state, op, OrList(from)).
			WithData("state", state)
	}
	return nil
}

// VMStartState is the state a VM takes as chain starts on it ("" keeps its state): a
// delete marks it DELETING at once, which the steps that record power states respect.
func VMStartState(chain ChainID) string {
	if chain == VMDelete {
		return VMDeleting
	}
	return ""
}

// VMStateOfPower is the VM state for a host's power state.
func VMStateOfPower(power string) string {
	switch power {
	case PowerOn:
		return VMStarted
	case PowerSuspended:
		return VMSuspended
	default:
		return VMStopped
	}
}

// VMObserved is what a step of the task holding a VM in state cur records when the host
// reports power: the state the host has, unless the VM is being deleted, whose end the
// delete chain decides. ok is false when the record stays as it is.
func VMObserved(cur, power string) (next string, ok bool) {
	next = VMStateOfPower(power)
	if cur == VMDeleting || cur == next {
		return cur, false
	}
	return next, true
}

// VMReconciled is what a host's report of power, read outside any task, makes of a VM in
// state cur held by activeTask: only a settled VM (started, stopped or suspended) that no
// task holds takes the host's state; one being created, deleted or in ERROR is its
// chain's or its user's to change.
func VMReconciled(cur, activeTask, power string) (next string, ok bool) {
	if activeTask != "" || !VMSettled(cur) {
		return cur, false
	}
	return VMObserved(cur, power)
}

// VMGone is what the reconciler makes of a VM in state cur, held by activeTask, that its
// host no longer has (confirmed by two reads): ERROR, for its user to delete, unless a
// task holds it (the task's own host calls will find out) or it is not resting in a
// state that says it runs on the host (being created or deleted, or already in ERROR).
func VMGone(cur, activeTask string) (next string, ok bool) {
	if activeTask != "" || !VMSettled(cur) {
		return cur, false
	}
	return VMError, true
}

// VMSettled reports whether state is one a VM rests in between tasks with its host
// running it as it says.
func VMSettled(state string) bool {
	return state == VMStarted || state == VMStopped || state == VMSuspended
}

// An End is what the end of a chain makes of its entity: State ("" keeps what the steps
// recorded) and whether the record goes (Remove).
type End struct {
	State  string
	Remove bool
}

// VMEnd is what the end of chain makes of its VM, completed or failed. A failed create
// leaves the VM in ERROR for its user to inspect and delete; a failed delete leaves it in
// ERROR for the delete to be tried again; a completed delete removes it; every other
// chain leaves the state its steps recorded from the host.
func VMEnd(chain ChainID, completed bool) End {
	switch {
	case chain == VMDelete && completed:
		return End{Remove: true}
	case (chain == VMCreate || chain == VMDelete) && !completed:
		return End{State: VMError}
	}
	return End{}
}

// OrList is "A", "A or B", "A, B or C".
func OrList(xs []string) string {
	if len(xs) <= 1 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}
