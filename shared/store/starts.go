package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/streams"
)

// A chain starts with the write that creates its task: the task's start event
// (Task.StartEvent) is appended to the starts stream, <prefix>starts, by the same atomic
// call that writes the task and whatever entity the task holds. A relay (one in every
// gateway) reads the stream in a consumer group, publishes each event to the broker and
// only then acknowledges and deletes the entry. So a task exists exactly when its start
// is on the way: a broker that is down delays the chain, a gateway that dies before
// publishing leaves the entry pending for another relay to claim, and neither leaves an
// entity held by a task that never runs.

// startsGroup is the relays' consumer group on the starts stream.
const startsGroup = "relay"

// StartsStream is the starts stream's key.
func (s *Store) StartsStream() string { return s.key("starts") }

// A Start is one entry of the starts stream: the encoded start event of a task's chain.
type Start struct {
	ID    string // the stream entry's id
	Event []byte
}

func startsOf(ms []redis.XMessage) []Start {
	out := make([]Start, 0, len(ms))
	for _, m := range ms {
		e, _ := m.Values["e"].(string)
		out = append(out, Start{ID: m.ID, Event: []byte(e)})
	}
	return out
}

// StartsReader is one relay's consumer of the starts stream (a shared/streams consumer of
// the relays' group): it holds what it read until it acknowledges it, renewing its hold
// meanwhile, and takes over what a relay that died held.
type StartsReader struct {
	s *Store
	c *streams.Consumer
}

// OpenStarts opens the starts stream for the relay named consumer: a start it reads and
// holds for longer than claimIdle without renewing it (its gateway died) is taken over by
// another relay.
func (s *Store) OpenStarts(ctx context.Context, consumer string, claimIdle time.Duration, log *slog.Logger) (*StartsReader, error) {
	c, err := streams.Open(ctx, s.rdb, streams.Options{Stream: s.StartsStream(), Group: startsGroup, Consumer: consumer,
		ClaimIdle: claimIdle, Block: min(time.Second, claimIdle/2), Logger: log})
	if err != nil {
		return nil, err
	}
	return &StartsReader{s: s, c: c}, nil
}

// Next returns up to n starts no other live relay holds (see streams.Consumer.Next).
func (r *StartsReader) Next(ctx context.Context, n int) ([]Start, error) {
	ms, err := r.c.Next(ctx, n)
	return startsOf(ms), err
}

// Ack acknowledges and deletes published starts.
func (r *StartsReader) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	defer r.c.Release(ids...)
	_, err := r.s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		r.c.AckIn(ctx, p, ids...)
		p.XDel(ctx, r.s.StartsStream(), ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("acknowledge starts: %w", err)
	}
	return nil
}

// Release gives back starts not published: another relay, or this one, reads them again
// after the claim time.
func (r *StartsReader) Release(ids ...string) { r.c.Release(ids...) }

// Close stops renewing what the relay holds.
func (r *StartsReader) Close() { r.c.Close() }

// PruneStartConsumers forgets the relays that hold no start and have not read for idle
// (gateways gone), so that the group does not grow with every gateway ever started.
func (s *Store) PruneStartConsumers(ctx context.Context, idle time.Duration) error {
	cs, err := s.rdb.XInfoConsumers(ctx, s.StartsStream(), startsGroup).Result()
	if err != nil {
		if strings.HasPrefix(err.Error(), "NOGROUP") || strings.Contains(err.Error(), "no such key") {
			return nil
		}
		return fmt.Errorf("list relays: %w", err)
	}
	for _, c := range cs {
		if c.Pending == 0 && c.Idle > idle {
			if err := s.rdb.XGroupDelConsumer(ctx, s.StartsStream(), startsGroup, c.Name).Err(); err != nil {
				return fmt.Errorf("forget relay %s: %w", c.Name, err)
			}
		}
	}
	return nil
}

// PendingStarts counts the starts written and not yet acknowledged.
func (s *Store) PendingStarts(ctx context.Context) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.StartsStream()).Result()
	if err != nil {
		return 0, fmt.Errorf("count starts: %w", err)
	}
	return n, nil
}

// FailStart ends a task whose start can never be published (the broker refuses the event
// for good): its entity is no longer held by it, its admission is given back and then
// the task is ERROR with cause, so that whoever sees the task ended finds the entity free
// for the next verb.
func (s *Store) FailStart(ctx context.Context, taskID string, cause *errs.Error) error {
	t, err := s.GetTask(ctx, taskID)
	if errors.Is(err, errs.ErrNotFound) || (err == nil && t.Done()) {
		return nil
	}
	if err != nil {
		return err
	}
	// The entity's record is read as raw fields so that one function serves every kind
	// (VM, disk, image, router, subnet): only its activeTask changes.
	_, err = Update(ctx, s, t.Entity.Kind, t.Entity.ID, func(rec *map[string]json.RawMessage) error {
		var held string
		_ = codec.Unmarshal((*rec)["activeTask"], &held)
		if held != t.ID {
			return ErrNoChange
		}
		delete(*rec, "activeTask")
		return nil
	})
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	if err := s.Release(ctx, t.TenantID, t.ID); err != nil {
		return err
	}
	t, err = s.UpdateTask(ctx, taskID, func(t *model.Task) error {
		if t.Done() {
			return ErrNoChange
		}
		now := s.Now()
		t.State, t.EndTime = model.TaskError, now
		if len(t.Steps) > 0 {
			t.Steps[0].State, t.Steps[0].EndTime = model.TaskError, now
			t.Steps[0].Errors = append(t.Steps[0].Errors, cause)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return s.SubTaskEnded(ctx, t)
}

// AppendStarts appends the start events of tasks written earlier to the starts stream,
// in one atomic call.
func (s *Store) AppendStarts(ctx context.Context, tasks ...*model.Task) error {
	b := new(Batch)
	for _, t := range tasks {
		if len(t.StartEvent) > 0 {
			b.Append(s.StartsStream(), t.StartEvent)
		}
	}
	return s.Apply(ctx, b)
}

// RetryUndo starts again the undo a task was parked on (model.Task.ParkedUndo): the task
// goes back to STARTED, its step's undo error is cleared and the parked event is appended
// to the starts stream, in one atomic call, for a relay to publish. A task with no parked
// undo is refused with StateError.
func (s *Store) RetryUndo(ctx context.Context, taskID string) (*model.Task, error) {
	key := s.key(model.KindTask, taskID)
	var out *model.Task
	err := s.watch(ctx, []string{key}, func(*redis.Tx) (*Batch, error) {
		t, err := s.GetTask(ctx, taskID)
		if err != nil {
			return nil, err
		}
		if len(t.ParkedUndo) == 0 {
			return nil, errs.New(errs.CodeStateError, "task %s has no failed undo to retry (state %s)", t.ID, t.State)
		}
		event := t.ParkedUndo
		for i := range t.Steps {
			t.Steps[i].UndoError = nil
		}
		t.ParkedUndo, t.State, t.EndTime = nil, model.TaskStarted, 0
		out = t
		return new(Batch).Put(key, t).Append(s.StartsStream(), event), nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AppendSignals appends encoded events that start work without a task (events.Signal)
// to the starts stream: the relay publishes them as it publishes chains' starts.
func (s *Store) AppendSignals(ctx context.Context, evs ...[]byte) error {
	b := new(Batch)
	for _, e := range evs {
		b.Append(s.StartsStream(), e)
	}
	return s.Apply(ctx, b)
}
