package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A step that waits for something outside its chain (a service's node VMs, made by
// chains of their own, or its nodes' guests reporting) awaits: the runtime keeps the
// step's event under the task (Await) and acknowledges it, and whatever the step waits
// for wakes the task (Wake), which appends the kept event to the starts stream for a
// relay to publish again. The step then runs again and looks anew. A deadline wakes it
// too (WakeDue), so a wake lost to a crash delays the step, never strands it.
//
// A wake that comes while the step runs, before its event is kept, is not lost: Wake
// counts wakes, the runtime reads the count before the step (WakeSeq), and Await, which
// finds the count moved, appends the event at once instead of keeping it.
//
// Keys: <prefix>await:<task>, a hash of the kept event (e) and the wake count (seq);
// <prefix>awaits, the awaiting tasks by deadline.

func (s *Store) awaitKey(task string) string { return s.key("await", task) }
func (s *Store) awaitsKey() string           { return s.key("awaits") }

// wakeTTL bounds the life of a wake count no step read: a wake of a task that does not
// await (a bulk create's parent) leaves nothing behind for long.
const wakeTTL = time.Hour

// awaitScript: KEYS await hash, starts stream, awaits; ARGV event, the wake count the
// step saw, deadline (ms), task id.
var awaitScript = redis.NewScript(`
local seq = redis.call('HGET', KEYS[1], 'seq') or '0'
if seq ~= ARGV[2] then
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[1])
  return 1
end
redis.call('HSET', KEYS[1], 'e', ARGV[1])
redis.call('PERSIST', KEYS[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
return 0
`)

// wakeScript: KEYS await hash, starts stream, awaits; ARGV task id, wake TTL (ms).
var wakeScript = redis.NewScript(`
redis.call('HINCRBY', KEYS[1], 'seq', 1)
local e = redis.call('HGET', KEYS[1], 'e')
redis.call('ZREM', KEYS[3], ARGV[1])
if not e then
  if redis.call('TTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
  return 0
end
redis.call('HDEL', KEYS[1], 'e')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'e', e)
return 1
`)

// WakeSeq is the count of task's wakes; a step that may await reads it before it looks.
func (s *Store) WakeSeq(ctx context.Context, task string) (int64, error) {
	v, err := s.rdb.HGet(ctx, s.awaitKey(task), "seq").Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read wakes of %s: %w", task, err)
	}
	return v, nil
}

// Await keeps event, the step's own, until task is woken or until deadline; if task was
// woken since the step read seq, the event goes to the starts stream at once.
func (s *Store) Await(ctx context.Context, task string, event []byte, seq int64, deadline time.Time) error {
	err := awaitScript.Run(ctx, s.rdb, []string{s.awaitKey(task), s.StartsStream(), s.awaitsKey()},
		event, strconv.FormatInt(seq, 10), deadline.UnixMilli(), task).Err()
	if err != nil {
		return fmt.Errorf("await %s: %w", task, err)
	}
	return nil
}

// Wake wakes task: its kept event, if it awaits, goes to the starts stream. It reports
// whether the task was awaiting.
func (s *Store) Wake(ctx context.Context, task string) (bool, error) {
	n, err := wakeScript.Run(ctx, s.rdb, []string{s.awaitKey(task), s.StartsStream(), s.awaitsKey()},
		task, wakeTTL.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("wake %s: %w", task, err)
	}
	return n == 1, nil
}

// WakeDue wakes up to n tasks whose deadline is past, and returns how many it woke.
func (s *Store) WakeDue(ctx context.Context, n int) (int, error) {
	due, err := s.rdb.ZRangeByScore(ctx, s.awaitsKey(), &redis.ZRangeBy{Min: "-inf",
		Max: strconv.FormatInt(s.Now(), 10), Count: int64(n)}).Result()
	if err != nil {
		return 0, fmt.Errorf("read due awaits: %w", err)
	}
	woke := 0
	for _, task := range due {
		ok, err := s.Wake(ctx, task)
		if err != nil {
			return woke, err
		}
		if ok {
			woke++
		}
	}
	return woke, nil
}

// ForgetAwait drops what task kept, once it ended.
func (s *Store) ForgetAwait(ctx context.Context, task string) error {
	p := s.rdb.TxPipeline()
	p.Del(ctx, s.awaitKey(task))
	p.ZRem(ctx, s.awaitsKey(), task)
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("forget await of %s: %w", task, err)
	}
	return nil
}
