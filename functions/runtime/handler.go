package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/tracing"
)

// Runtime wraps functions into event handlers.
type Runtime struct {
	Store *store.Store
	Log   *slog.Logger
}

// Handler returns the CloudEvents handler of fn: the Handle that Redis Streams and
// Knative deliver to.
func (r *Runtime) Handler(fn Function) events.Handler {
	return func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
		return r.handle(ctx, fn, e)
	}
}

func (r *Runtime) source(fn Function) string { return "photon/function/" + fn.Name() }

func (r *Runtime) handle(ctx context.Context, fn Function, e cloudevents.Event) (_ *cloudevents.Event, err error) {
	var call *Call
	defer func() { measureEvent(ctx, fn.Name(), call, err) }()
	route, ok := events.RouteOf(e.Type())
	if !ok || route.Function != fn.Name() {
		return nil, errs.Permanent(fmt.Errorf("function %s does not take %s", fn.Name(), e.Type()))
	}
	if events.Hops(e) > events.MaxHops {
		return nil, errs.Permanent(fmt.Errorf("event %s exceeded %d hops", e.ID(), events.MaxHops))
	}
	if route.Signal != nil {
		return nil, r.signal(ctx, fn, route, e)
	}
	data, err := events.Decode(e)
	if err != nil {
		return nil, errs.Permanent(err)
	}
	ctx = tracing.Extract(ctx, e)
	op := route.Chain.Steps[route.Step].Operation
	name := fn.Name() + " " + string(op)
	if route.Undo {
		name = fn.Name() + " undo " + string(op)
	}
	ctx, span := tracing.Tracer("function").Start(ctx, name, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("photon.task", data.TaskID), attribute.String("photon.entity", data.EntityID),
			attribute.String("cloudevents.type", e.Type())))
	defer span.End()

	task, raw, err := store.GetRaw[model.Task](ctx, r.Store, model.KindTask, data.TaskID)
	if err != nil {
		if errs.IsPermanent(err) {
			return nil, errs.Permanent(err)
		}
		return nil, err
	}
	call = &Call{Task: task, Data: data, Chain: route.Chain, Step: route.Step, raw: raw}
	var reply *cloudevents.Event
	start := time.Now()
	if route.Undo {
		reply, err = r.undo(ctx, fn, e, call)
	} else {
		reply, err = r.do(ctx, fn, e, call)
	}
	measureStep(ctx, fn.Name(), call, route.Undo, start)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	if reply != nil {
		tracing.Inject(ctx, reply)
	}
	return reply, err
}

// do runs a forward step.
func (r *Runtime) do(ctx context.Context, fn Function, in cloudevents.Event, c *Call) (*cloudevents.Event, error) {
	step := &c.Task.Steps[c.Step]
	switch {
	case step.State == model.TaskCompleted:
		return r.next(ctx, fn, in, c) // replay: answer as the first time
	case step.State == model.TaskError:
		if len(step.Errors) == 0 {
			return nil, nil // a step that never ran because an earlier one failed
		}
		return r.startUndo(ctx, in, fn, c, c.Step, step.Errors[0]), nil
	case c.Task.Done():
		return nil, nil
	}
	// The step's start is recorded with its outcome, in one write: a step's STARTED state
	// would cost a round trip per step and decides nothing (a redelivered step that has
	// not completed runs again either way).
	c.started = r.Store.Now()
	act := fn.Do
	if c.Chain.Steps[c.Step].RunsUndo {
		act = fn.Undo // a forward step made of another chain's undo (the delete chain)
	}
	seq, err := r.wakeSeq(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := act(ctx, c); err != nil {
		if ok, err := r.awaiting(ctx, c, in, seq, err); ok {
			return nil, err
		}
		if !errs.IsPermanent(err) {
			return nil, err // transient: the transport retries, then dead-letters
		}
		return r.fail(ctx, fn, in, c, err)
	}
	t, err := r.updateTask(ctx, c, func(t *model.Task) error {
		if t.State == model.TaskQueued {
			t.State, t.StartedTime = model.TaskStarted, c.started
		}
		s := &t.Steps[c.Step]
		if s.State == model.TaskCompleted {
			return store.ErrNoChange // a concurrent redelivery got here first
		}
		s.State, s.EndTime = model.TaskCompleted, r.Store.Now()
		if s.StartedTime == 0 {
			s.StartedTime = c.started // a step that awaited started at its first run
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.Task = t
	return r.next(ctx, fn, in, c)
}

// next is the event after a completed step; after the last step it ends the task.
func (r *Runtime) next(ctx context.Context, fn Function, in cloudevents.Event, c *Call) (*cloudevents.Event, error) {
	if c.Step < len(c.Chain.Steps)-1 {
		e := events.Next(in, r.source(fn), c.Chain.DoneType(c.Step), events.StepData{TaskID: c.Task.ID, EntityID: c.Data.EntityID})
		return &e, nil
	}
	if fin := c.Chain.Finalizer; fin != nil {
		if err := fin.Completed(ctx, r.Store, c.Chain.Name, c.Task); err != nil {
			return nil, err
		}
	}
	ending := false // this call ends the task (not a replay of its end)
	t, err := r.updateTask(ctx, c, func(t *model.Task) error {
		if ending = !t.Done(); !ending {
			return store.ErrNoChange
		}
		t.State, t.EndTime = model.TaskCompleted, r.Store.Now()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := r.ended(ctx, c, t); err != nil {
		return nil, err
	}
	if ending {
		measureChainEnd(ctx, c, t)
	}
	e := events.Next(in, r.source(fn), c.Chain.CompletedType(), events.StepData{TaskID: c.Task.ID, EntityID: c.Data.EntityID})
	return &e, nil
}

// fail records a step's permanent failure and starts the undo chain from that step.
func (r *Runtime) fail(ctx context.Context, fn Function, in cloudevents.Event, c *Call, cause error) (*cloudevents.Event, error) {
	apiErr := errs.As(cause)
	if _, err := r.updateTask(ctx, c, func(t *model.Task) error {
		s := &t.Steps[c.Step]
		if s.State == model.TaskError {
			return store.ErrNoChange
		}
		s.State, s.EndTime = model.TaskError, r.Store.Now()
		if s.StartedTime == 0 {
			s.StartedTime = c.started
		}
		if t.State == model.TaskQueued {
			t.State, t.StartedTime = model.TaskStarted, c.started
		}
		apiErr = apiErr.WithData("step", s.Operation) // the undo and the finalizer name it too
		s.Errors = append(s.Errors, apiErr)
		for i := c.Step + 1; i < len(t.Steps); i++ {
			t.Steps[i].State = model.TaskError // never run
		}
		return nil
	}); err != nil {
		return nil, err
	}
	c.failed = true
	if r.Log != nil {
		r.Log.Info("step failed", "task", c.Task.ID, "step", c.Operation(), "code", apiErr.Code, "err", apiErr.Message)
	}
	return r.startUndo(ctx, in, fn, c, c.Step, apiErr), nil
}

// startUndo is the event that begins undoing after step failed or, when nothing needs
// undoing, the chain's failed event, after the task is ended.
func (r *Runtime) startUndo(ctx context.Context, in cloudevents.Event, fn Function, c *Call, failed int, cause *errs.Error) *cloudevents.Event {
	d := events.StepData{TaskID: c.Task.ID, EntityID: c.Data.EntityID, Error: cause}
	if i := c.Chain.UndoFrom(failed, true); i >= 0 {
		e := events.Next(in, r.source(fn), c.Chain.UndoType(i), d)
		return &e
	}
	// Nothing to undo: the undo chain is empty, so end the task here.
	if err := r.finishFailed(ctx, c, cause); err != nil && r.Log != nil {
		r.Log.Error("end failed task", "task", c.Task.ID, "err", err)
	}
	e := events.Next(in, r.source(fn), c.Chain.FailedType(), d)
	return &e
}

// undo runs one step of the undo chain.
func (r *Runtime) undo(ctx context.Context, fn Function, in cloudevents.Event, c *Call) (*cloudevents.Event, error) {
	if !c.Task.Steps[c.Step].Undone {
		seq, err := r.wakeSeq(ctx, c)
		if err != nil {
			return nil, err
		}
		if err := fn.Undo(ctx, c); err != nil {
			if ok, err := r.awaiting(ctx, c, in, seq, err); ok {
				return nil, err
			}
			if !errs.IsPermanent(err) {
				return nil, err
			}
			// An undo that cannot succeed is not skipped either: what the step made or
			// reserved would stay with nothing holding it. Its task parks, as a
			// dead-lettered undo's does, for an operator to see and retry.
			return nil, r.park(ctx, c, in, err)
		}
		t, err := r.updateTask(ctx, c, func(t *model.Task) error {
			t.Steps[c.Step].Undone = true
			t.Steps[c.Step].UndoError, t.ParkedUndo = nil, nil // a parked undo that ran after all
			return nil
		})
		if err != nil {
			return nil, err
		}
		c.Task = t
	}
	d := events.StepData{TaskID: c.Task.ID, EntityID: c.Data.EntityID, Error: c.Data.Error}
	if i := c.Chain.UndoFrom(c.Step, false); i >= 0 {
		e := events.Next(in, r.source(fn), c.Chain.UndoType(i), d)
		return &e, nil
	}
	if err := r.finishFailed(ctx, c, c.Data.Error); err != nil {
		return nil, err
	}
	e := events.Next(in, r.source(fn), c.Chain.FailedType(), d)
	return &e, nil
}

// finishFailed ends a task in ERROR once everything it reserved is released.
func (r *Runtime) finishFailed(ctx context.Context, c *Call, cause *errs.Error) error {
	if fin := c.Chain.Finalizer; fin != nil {
		if err := fin.Failed(ctx, r.Store, c.Chain.Name, c.Task, cause); err != nil {
			return err
		}
	}
	ending := false
	t, err := r.updateTask(ctx, c, func(t *model.Task) error {
		if ending = !t.Done(); !ending {
			return store.ErrNoChange
		}
		t.State, t.EndTime = model.TaskError, r.Store.Now()
		return nil
	})
	if err != nil {
		return err
	}
	if err := r.ended(ctx, c, t); err != nil {
		return err
	}
	if ending {
		measureChainEnd(ctx, c, t)
	}
	return nil
}

// updateTask applies fn to the call's task, starting from the version the call last read
// or wrote (one round trip when nobody else wrote since).
func (r *Runtime) updateTask(ctx context.Context, c *Call, fn func(*model.Task) error) (*model.Task, error) {
	t, raw, err := store.UpdateFrom(ctx, r.Store, model.KindTask, c.Task.ID, c.raw, fn)
	if err != nil {
		return nil, err
	}
	c.raw = raw
	return t, nil
}

// ended is what the end of every chain does, after its task is ended: it gives back the
// task's admission and counts it in its parent's progress (ending the parent after its
// last sub-task). Both are idempotent, so a replayed end changes nothing.
func (r *Runtime) ended(ctx context.Context, c *Call, t *model.Task) error {
	if err := r.Store.Release(ctx, t.TenantID, t.ID); err != nil {
		return err
	}
	if c.Chain.Awaits() {
		if err := r.Store.ForgetAwait(ctx, t.ID); err != nil {
			return err
		}
	}
	return r.Store.SubTaskEnded(ctx, t)
}

// DeadLetter fails the task of an event whose retries ran out, so nothing hangs in
// STARTED, and answers with the undo event.
func (r *Runtime) DeadLetter(fn Function) events.DeadLetter {
	return func(ctx context.Context, e cloudevents.Event, cause error) (*cloudevents.Event, error) {
		deadLetters.Add(context.WithoutCancel(ctx), 1, fn.Name())
		route, ok := events.RouteOf(e.Type())
		data, err := events.Decode(e)
		if !ok || err != nil {
			return nil, nil // nothing to fail: the event names no task
		}
		task, err := r.Store.GetTask(ctx, data.TaskID)
		if err != nil {
			return nil, err
		}
		c := &Call{Task: task, Data: data, Chain: route.Chain, Step: route.Step}
		if route.Undo {
			return nil, r.park(ctx, c, e, cause)
		}
		return r.fail(ctx, fn, e, c, errs.New(errs.CodeUnavailable, "%s gave up after retries: %v", route.Chain.Steps[route.Step].Operation, cause))
	}
}

// park stops the undo chain at an undo step whose retries ran out, or that failed for
// good, instead of skipping it: had the step made something (a VM on a host), skipping would leave it there with
// what it reserved released. The task ends in ERROR with the step's undo error and the
// event kept (Task.ParkedUndo); the entity stays held by the task and nothing is
// released, until an operator retries the undo (POST /v1/tasks/{id}/retry,
// store.RetryUndo) and the chain goes on from there.
func (r *Runtime) park(ctx context.Context, c *Call, e cloudevents.Event, cause error) error {
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	op := c.Operation()
	code, why := errs.CodeUnavailable, "gave up after retries"
	if errs.IsPermanent(cause) {
		code, why = errs.As(cause).Code, "failed"
	}
	undoErr := errs.New(code, "undo %s %s: %v", op, why, cause).
		WithData("step", string(op)).WithData("undo", "failed")
	_, err = r.updateTask(ctx, c, func(t *model.Task) error {
		s := &t.Steps[c.Step]
		if s.Undone || s.UndoError != nil {
			return store.ErrNoChange // a redelivery finished it, or parked it already
		}
		s.UndoError, t.ParkedUndo = undoErr, raw
		t.State, t.EndTime = model.TaskError, r.Store.Now()
		return nil
	})
	if err == nil {
		c.failed = true
	}
	if err == nil && r.Log != nil {
		r.Log.Error("undo parked until retried", "task", c.Task.ID, "step", op, "err", cause)
	}
	return err
}
