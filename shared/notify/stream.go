package notify

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// reader reads a stream as one consumer of a group: first what the group gave this
// consumer before and it never acknowledged (a previous run that stopped midway), then
// new entries.
type reader struct {
	rdb                     redis.UniversalClient
	stream, group, consumer string
	count                   int64
	block                   time.Duration
	backlogDone             bool
}

// ensureGroup creates the group (and the stream) if missing; the group starts at the
// stream's beginning, so nothing written before the first start is missed.
func ensureGroup(ctx context.Context, rdb redis.UniversalClient, stream, group string) error {
	err := rdb.XGroupCreateMkStream(ctx, stream, group, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// next returns the next entries, none when the block time passed without any.
func (r *reader) next(ctx context.Context) ([]redis.XMessage, error) {
	id, block := ">", r.block
	if !r.backlogDone {
		id, block = "0", -1
	}
	res, err := r.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: r.group, Consumer: r.consumer,
		Streams: []string{r.stream, id}, Count: r.count, Block: block}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var msgs []redis.XMessage
	for _, s := range res {
		msgs = append(msgs, s.Messages...)
	}
	if !r.backlogDone && len(msgs) == 0 {
		r.backlogDone = true
	}
	return msgs, nil
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
