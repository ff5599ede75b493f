package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/streams"
)

// Finished tasks are kept for a retention, then SweepTasks deletes each with its index
// entries: the entity's task index, its parent's sub-task index, and, for a parent, its
// sub-task index and progress counts. Every task is in one more index, by queue time
// (<prefix>idx:alltasks, written by AddTask), which the sweep walks from its old end up to
// the retention, so it reads only tasks old enough to go.
//
// A task stays while it runs, however old, and while it is the newest task of an entity
// that still exists: the heartbeat reconciliation weighs a host's power states against
// the end of a VM's last task (lastTaskEnd), and a VM's task list then still shows what
// last happened to it. Such a task is looked at again one retention later. An entity's
// delete is its newest task, so nothing of a deleted entity outlives the retention.
//
// Each deletion is one script that first checks the task is as the sweep read it, so a
// task that changes meanwhile is left to the next sweep, and gateways may sweep at once.
// Tasks are not followed by the outbox once they are swept: a retention is no change of
// state anyone subscribes to.
//
// The retention must be longer than an idempotency key lives (a day, the gateway's
// IdempotencyTTL): a retried call answers with its first call's task.

// DefaultTaskRetention is how long a finished task is kept by default.
const DefaultTaskRetention = 7 * 24 * time.Hour

func (s *Store) allTasksIdx() string { return s.key("idx", "alltasks") }

// sweepBatch is how many tasks one round of a sweep reads.
const sweepBatch = 500

// sweepTask: KEYS task, alltasks index, the entity's task index, the entity, the parent's
// sub-task index, the task's own sub-task index, progress hash and ended set; ARGV the
// task as read, its member in the entity and sub-task indexes, its member in the alltasks
// index, that member renewed to now, "1" when it has a parent. It returns 1 when it
// deleted the task, 2 when it kept it as the entity's newest, 0 when the task changed.
var sweepTask = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('EXISTS', KEYS[4]) == 1 then
  local newest = redis.call('ZREVRANGE', KEYS[3], 0, 0)
  if newest[1] == ARGV[2] then
    redis.call('ZREM', KEYS[2], ARGV[3])
    redis.call('ZADD', KEYS[2], 0, ARGV[4])
    return 2
  end
end
redis.call('DEL', KEYS[1], KEYS[6], KEYS[7], KEYS[8])
redis.call('ZREM', KEYS[3], ARGV[2])
if ARGV[5] == '1' then redis.call('ZREM', KEYS[5], ARGV[2]) end
redis.call('ZREM', KEYS[2], ARGV[3])
return 1
`)

// SweepTasks deletes the tasks that ended longer than retention ago (see above) and
// reports how many it deleted.
func (s *Store) SweepTasks(ctx context.Context, retention time.Duration) (int, error) {
	now := s.Now()
	cutoff := now - retention.Milliseconds()
	renewed := func(id string) string { return indexMember(now, id) }
	deleted := 0
	for from := "-"; ; {
		members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.allTasksIdx(), ByLex: true,
			Start: from, Stop: "(" + fmt.Sprintf("%013d", cutoff), Count: sweepBatch}).Result()
		if err != nil {
			return deleted, fmt.Errorf("sweep tasks: %w", err)
		}
		if len(members) == 0 {
			return deleted, nil
		}
		from = "(" + members[len(members)-1]
		keys := make([]string, len(members))
		for i, m := range members {
			keys[i] = s.entityKey(model.KindTask, memberID(m))
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return deleted, fmt.Errorf("sweep tasks: %w", err)
		}
		// Pipelined EVALSHA does not fall back to EVAL: the script is loaded first.
		if err := sweepTask.Load(ctx, s.rdb).Err(); err != nil {
			return deleted, fmt.Errorf("sweep tasks: %w", err)
		}
		p := s.rdb.Pipeline()
		var runs []*redis.Cmd
		for i, v := range vals {
			raw, ok := v.(string)
			if !ok { // deleted already
				p.ZRem(ctx, s.allTasksIdx(), members[i])
				continue
			}
			t, err := decode[model.Task](raw)
			if err != nil || !t.Done() || t.EndTime >= cutoff {
				continue // running, or ended within the retention: a later sweep looks again
			}
			parent := "0"
			if t.ParentID != "" {
				parent = "1"
			}
			runs = append(runs, sweepTask.EvalSha(ctx, p,
				[]string{keys[i], s.allTasksIdx(), s.key("idx", "tasks", t.Entity.ID), s.entityKey(t.Entity.Kind, t.Entity.ID),
					s.subTasksIdx(t.ParentID), s.subTasksIdx(t.ID), s.progressKey(t.ID), s.key("progress", t.ID, "ended")},
				raw, indexMember(t.QueuedTime, t.ID), members[i], renewed(t.ID), parent))
		}
		if _, err := p.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return deleted, fmt.Errorf("sweep tasks: %w", err)
		}
		for _, r := range runs {
			if n, _ := r.Int(); n == 1 {
				deleted++
			}
		}
	}
}

func decode[T any](raw string) (*T, error) {
	v := new(T)
	return v, codec.Unmarshal([]byte(raw), v)
}

// IndexOldTasks puts the tasks written before the alltasks index existed into it, so
// that the sweep finds them too. It runs once per Redis: a marker key records that it
// finished, and running it twice adds nothing twice.
func (s *Store) IndexOldTasks(ctx context.Context) error {
	done := s.key("idx", "alltasks", "complete")
	if n, err := s.rdb.Exists(ctx, done).Result(); err != nil || n == 1 {
		return err
	}
	var keys []string
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		vals, err := s.rdb.MGet(ctx, keys...).Result()
		if err != nil {
			return err
		}
		var zs []redis.Z
		for _, v := range vals {
			if raw, ok := v.(string); ok {
				if t, err := decode[model.Task](raw); err == nil && t.ID != "" {
					zs = append(zs, redis.Z{Member: indexMember(t.QueuedTime, t.ID)})
				}
			}
		}
		keys = keys[:0]
		if len(zs) == 0 {
			return nil
		}
		return s.rdb.ZAdd(ctx, s.allTasksIdx(), zs...).Err()
	}
	err := keyspace.Scan(ctx, s.rdb, s.key(model.KindTask, "*"), "", func(key string) error {
		if keys = append(keys, key); len(keys) == sweepBatch {
			return flush()
		}
		return nil
	})
	if err := errors.Join(err, flush()); err != nil {
		return fmt.Errorf("index old tasks: %w", err)
	}
	return s.rdb.Set(ctx, done, "1", 0).Err()
}

// TrimStarts drops what the relays are done with from the starts stream (streams.Trim):
// they delete what they acknowledge, but a stream keeps its nodes until trimmed.
func (s *Store) TrimStarts(ctx context.Context) error {
	_, err := streams.Trim(ctx, s.rdb, streams.Retention{Stream: s.StartsStream(), Acked: true})
	return err
}
