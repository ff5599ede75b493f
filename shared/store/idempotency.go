package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Idempotency keys map a caller's Idempotency-Key to the id of the task its first call
// creates, under <prefix>idem:<subject>:<key>, for a time.
type Idempotency struct{ s *Store }

// Idempotency is the store of idempotency keys.
func (s *Store) Idempotency() Idempotency { return Idempotency{s} }

func (i Idempotency) key(subject, key string) string { return i.s.key("idem", subject, key) }

// Claim records taskID as the task of subject's key for ttl if no call claimed the key
// yet, and reports whether it did.
func (i Idempotency) Claim(ctx context.Context, subject, key, taskID string, ttl time.Duration) (bool, error) {
	won, err := i.s.rdb.SetNX(ctx, i.key(subject, key), taskID, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	return won, nil
}

// Task is the id of the task that claimed subject's key; ok is false when none holds it.
func (i Idempotency) Task(ctx context.Context, subject, key string) (id string, ok bool, err error) {
	id, err = i.s.rdb.Get(ctx, i.key(subject, key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read idempotency key: %w", err)
	}
	return id, true, nil
}

var releaseIdem = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// Release gives back subject's key if taskID still holds it (its call failed), so that a
// corrected retry runs.
func (i Idempotency) Release(ctx context.Context, subject, key, taskID string) error {
	if err := releaseIdem.Run(ctx, i.s.rdb, []string{i.key(subject, key)}, taskID).Err(); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// Ping checks that the store's Redis answers.
func (s *Store) Ping(ctx context.Context) error { return s.rdb.Ping(ctx).Err() }
