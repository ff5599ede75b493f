package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
)

// DefaultReplicaTimeout bounds how long a write that starts a task waits for replicas.
const DefaultReplicaTimeout = time.Second

// WaitForReplicas makes every write that creates a task (a batch that AddTask wrote to)
// wait, before it returns, until n replicas of the store's primary have it (Redis WAIT,
// on the write's own connection): the task an API call acknowledges survives its
// primary failing, since a replica that has it is the one promoted. A write that n
// replicas did not confirm within timeout is an Unavailable error, though it was
// made: a retry with the same idempotency key answers with its task. n = 0 (the
// default) waits for none. It returns s.
func (s *Store) WaitForReplicas(n int, timeout time.Duration) *Store {
	if timeout <= 0 {
		timeout = DefaultReplicaTimeout
	}
	s.replicas, s.replicaTimeout = n, timeout
	return s
}

// waitReplicas runs WAIT on c, the connection of the writes just made, when the store
// waits for replicas.
func (s *Store) waitReplicas(ctx context.Context, c *redis.Tx) error {
	if s.replicas <= 0 {
		return nil
	}
	return s.checkWait(c.Do(ctx, "WAIT", s.replicas, s.replicaTimeout.Milliseconds()))
}

func (s *Store) checkWait(cmd *redis.Cmd) error {
	n, err := cmd.Int64()
	if err != nil {
		return fmt.Errorf("wait for replicas: %w", err)
	}
	if n < int64(s.replicas) {
		return errs.New(errs.CodeUnavailable, "the write was made but %d of %d replicas confirmed it within %s: retry with the same idempotency key",
			n, s.replicas, s.replicaTimeout)
	}
	return nil
}

// runDurable runs script and, when durable and the store waits for replicas, WAIT in one
// pipeline on the connection of the primary that holds keys[0], so that WAIT counts the
// replicas that have the script's writes.
func (s *Store) runDurable(ctx context.Context, durable bool, script *redis.Script, keys []string, args ...any) ([]any, error) {
	if !durable || s.replicas <= 0 {
		return script.Run(ctx, s.rdb, keys, args...).Slice()
	}
	for attempt := 0; ; attempt++ {
		node, err := keyspace.Primary(ctx, s.rdb, keys[0])
		if err != nil {
			return nil, err
		}
		var run, wait *redis.Cmd
		_, _ = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			run = script.EvalSha(ctx, p, keys, args...)
			wait = p.Do(ctx, "WAIT", s.replicas, s.replicaTimeout.Milliseconds())
			return nil
		})
		err = run.Err()
		switch {
		case err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") && attempt == 0:
			// A primary that never ran the script (a replica just promoted) loads it.
			if err := script.Load(ctx, node).Err(); err != nil {
				return nil, err
			}
			continue
		case err != nil && notRun(err) && attempt < 5:
			// The slot moved (a failover): nothing ran; ask again where it is.
			if c, ok := s.rdb.(*redis.ClusterClient); ok {
				c.ReloadState(ctx)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
			}
			continue
		case err != nil:
			return nil, err
		}
		res, err := run.Slice()
		if err != nil {
			return nil, err
		}
		return res, s.checkWait(wait)
	}
}

// notRun reports whether err says a command was refused before it ran: its slot is
// served elsewhere or the cluster cannot serve it yet.
func notRun(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	for _, p := range []string{"MOVED ", "ASK ", "CLUSTERDOWN", "TRYAGAIN", "LOADING", "READONLY"} {
		if strings.HasPrefix(err.Error(), p) {
			return true
		}
	}
	return false
}
