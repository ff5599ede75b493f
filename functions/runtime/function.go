package runtime

import (
	"context"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/model"
)

// Function is one control-plane operation. Do performs the step and Undo reverses it;
// both are idempotent: calling them again after they took effect changes nothing.
type Function interface {
	Name() string
	Do(ctx context.Context, c *Call) error
	Undo(ctx context.Context, c *Call) error
}

// Background is implemented by a function that has work of its own besides its events
// (place keeps its host index current and marks silent hosts ERROR). The runtime runs it
// for as long as it consumes the function's events.
type Background interface {
	Background(ctx context.Context)
}

// Call is what a function gets for one step.
type Call struct {
	Task *model.Task
	Data events.StepData
	// Chain and Step say which step of which chain this is.
	Chain *events.Chain
	Step  int
	// started is when this run of the step began (ms), recorded with its outcome.
	started int64
	// raw is the task as stored when last read or written here, for updateTask.
	raw []byte
	// failed: the step failed for good here (its undo chain starts), or its undo parked.
	failed bool
}

// Operation is the Task step operation being run.
func (c *Call) Operation() domain.Op { return c.Chain.Steps[c.Step].Operation }
