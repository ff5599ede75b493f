package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/metrics"
)

var redisDuration = metrics.NewHistogram(&metrics.RedisDuration)

// Instrument adds to rdb the hook that measures its round trips by command
// (metrics.RedisDuration): the wiring of every process calls it on the client it opens.
// A blocking read (XREADGROUP ... BLOCK) counts its wait.
func Instrument(rdb redis.UniversalClient) { rdb.AddHook(redisHook{}) }

type redisHook struct{}

func (redisHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (redisHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		redisDuration.Since(ctx, start, strings.ToLower(cmd.Name()), redisOutcome(err))
		return err
	}
}

func (redisHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		redisDuration.Since(ctx, start, "pipeline", redisOutcome(err))
		return err
	}
}

// redisOutcome is ok when Redis answered (a missing key, or an error reply of the
// command's own, such as a script's refusal), error when no answer came.
func redisOutcome(err error) string {
	var reply redis.Error
	if err == nil || errors.Is(err, redis.Nil) || errors.As(err, &reply) {
		return "ok"
	}
	return "error"
}
