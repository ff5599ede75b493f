package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
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

// ReadStarts takes up to n starts no relay has read, as consumer, waiting up to block
// for one; none is not an error. It makes the consumer group the first time.
func (s *Store) ReadStarts(ctx context.Context, consumer string, n int, block time.Duration) ([]Start, error) {
	args := &redis.XReadGroupArgs{Group: startsGroup, Consumer: consumer, Streams: []string{s.StartsStream(), ">"},
		Count: int64(n), Block: block}
	res, err := s.rdb.XReadGroup(ctx, args).Result()
	if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
		if err := s.rdb.XGroupCreateMkStream(ctx, s.StartsStream(), startsGroup, "0").Err(); err != nil &&
			!strings.HasPrefix(err.Error(), "BUSYGROUP") {
			return nil, fmt.Errorf("create group on %s: %w", s.StartsStream(), err)
		}
		res, err = s.rdb.XReadGroup(ctx, args).Result()
	}
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read starts: %w", err)
	}
	var out []Start
	for _, st := range res {
		out = append(out, startsOf(st.Messages)...)
	}
	return out, nil
}

// ClaimStarts takes over, for consumer, up to n starts another relay read but has not
// acknowledged for at least idle (its gateway died, or its broker is down).
func (s *Store) ClaimStarts(ctx context.Context, consumer string, idle time.Duration, n int) ([]Start, error) {
	ms, _, err := s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: s.StartsStream(), Group: startsGroup,
		Consumer: consumer, MinIdle: idle, Start: "0-0", Count: int64(n)}).Result()
	if err != nil && !errors.Is(err, redis.Nil) && !strings.HasPrefix(err.Error(), "NOGROUP") {
		return nil, fmt.Errorf("claim starts: %w", err)
	}
	return startsOf(ms), nil
}

// TouchStarts tells the other relays that consumer still works on the starts ids (its
// broker is down and it keeps trying), so that they do not claim them meanwhile.
func (s *Store) TouchStarts(ctx context.Context, consumer string, ids ...string) error {
	err := s.rdb.XClaimJustID(ctx, &redis.XClaimArgs{Stream: s.StartsStream(), Group: startsGroup, Consumer: consumer,
		Messages: ids}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("touch starts: %w", err)
	}
	return nil
}

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

// AckStarts acknowledges and deletes published starts.
func (s *Store) AckStarts(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, s.StartsStream(), startsGroup, ids...)
		p.XDel(ctx, s.StartsStream(), ids...)
		return nil
	})
	if err != nil {
		return fmt.Errorf("acknowledge starts: %w", err)
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
		_ = json.Unmarshal((*rec)["activeTask"], &held)
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
