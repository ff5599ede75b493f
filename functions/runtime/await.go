package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// AwaitError is what a step that awaits (events.StepDef.Awaits) answers when what it
// waits for is not there yet: the runtime keeps the step's event (store.Await) and the
// step runs again when its task is woken, or at Until at the latest.
type AwaitError struct{ Until time.Time }

func (e *AwaitError) Error() string { return "awaiting, until " + e.Until.Format(time.RFC3339) }

// Await is the answer of a step that waits, until at the latest.
func Await(until time.Time) error { return &AwaitError{Until: until} }

// wakeSeq is the task's wake count before a step that may await runs (0 for the others,
// which never await).
func (r *Runtime) wakeSeq(ctx context.Context, c *Call) (int64, error) {
	if !c.Chain.Steps[c.Step].Awaits {
		return 0, nil
	}
	return r.Store.WakeSeq(ctx, c.Task.ID)
}

// awaiting handles a step's answer: an AwaitError keeps the step's event until the task
// is woken, with the step shown STARTED; handled reports whether it was one.
func (r *Runtime) awaiting(ctx context.Context, c *Call, in cloudevents.Event, seq int64, err error) (handled bool, _ error) {
	var a *AwaitError
	if !errors.As(err, &a) {
		return false, nil
	}
	if !c.Chain.Steps[c.Step].Awaits {
		return true, fmt.Errorf("step %s of %s awaits, which its chain does not allow", c.Operation(), c.Chain.Name)
	}
	t, err := r.updateTask(ctx, c, func(t *model.Task) error {
		s := &t.Steps[c.Step]
		if s.State != model.TaskQueued && t.State != model.TaskQueued {
			return store.ErrNoChange
		}
		if t.State == model.TaskQueued {
			t.State, t.StartedTime = model.TaskStarted, c.started
		}
		if s.State == model.TaskQueued {
			s.State, s.StartedTime = model.TaskStarted, c.started
		}
		return nil
	})
	if err != nil {
		return true, err
	}
	c.Task = t
	raw, err := json.Marshal(in)
	if err != nil {
		return true, err
	}
	return true, r.Store.Await(ctx, c.Task.ID, raw, seq, a.Until)
}
