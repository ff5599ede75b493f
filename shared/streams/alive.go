package streams

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// deadAfter is how many heartbeats a consumer may miss before it counts as dead: its
// alive key's time to live.
const deadAfter = 3

// maxSuffix bounds the names tried for one consumer: base, base-2 ... base-maxSuffix.
const maxSuffix = 1000

// takeAlive sets KEYS[1] to ARGV[1] for ARGV[2] ms when it is missing or holds ARGV[3]
// (a holder found gone, or this consumer itself renewing), and answers "" when it did;
// otherwise it answers the live holder's value.
var takeAlive = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == false or v == ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ''
end
return v`)

// dropAlive deletes KEYS[1] if it still holds ARGV[1].
var dropAlive = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

func (c *Consumer) aliveKey(name string) string {
	return c.o.Stream + ":alive:" + c.o.Group + ":" + name
}

func (c *Consumer) ttl() string {
	return strconv.FormatInt((deadAfter * c.o.Heartbeat).Milliseconds(), 10)
}

// takeName makes the consumer's name the first of Options.Consumer, Consumer-2,
// Consumer-3... that no live consumer of the group holds.
func (c *Consumer) takeName(ctx context.Context) error {
	host, _ := os.Hostname()
	c.alive = fmt.Sprintf("%s %d %08x", host, os.Getpid(), rand.Uint32())
	base := c.o.Consumer
	for i := 1; i <= maxSuffix; i++ {
		name := base
		if i > 1 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		holder, err := takeAlive.Run(ctx, c.rdb, []string{c.aliveKey(name)}, c.alive, c.ttl(), "").Text()
		if err == nil && holder != "" && gone(holder) {
			holder, err = takeAlive.Run(ctx, c.rdb, []string{c.aliveKey(name)}, c.alive, c.ttl(), holder).Text()
		}
		if err != nil {
			return fmt.Errorf("take consumer name %s of %s on %s: %w", name, c.o.Group, c.o.Stream, err)
		}
		if holder == "" {
			if name != base {
				c.o.Logger.Info("consumer name taken by a live process, using another", "stream", c.o.Stream,
					"group", c.o.Group, "wanted", base, "name", name)
			}
			c.o.Consumer = name
			return nil
		}
	}
	return fmt.Errorf("no free consumer name %s-N of %s on %s", base, c.o.Group, c.o.Stream)
}

// gone reports whether the alive key value v names a process of this host that no longer
// runs: its name is free before its key expires.
func gone(v string) bool {
	f := strings.Fields(v)
	if len(f) != 3 {
		return false
	}
	host, _ := os.Hostname()
	pid, err := strconv.Atoi(f[1])
	if f[0] != host || err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	return processGone(pid)
}

// heartbeat renews the consumer's alive key.
func (c *Consumer) heartbeat(ctx context.Context) {
	holder, err := takeAlive.Run(ctx, c.rdb, []string{c.aliveKey(c.o.Consumer)}, c.alive, c.ttl(), c.alive).Text()
	switch {
	case err != nil && ctx.Err() == nil:
		c.o.Logger.Warn("consumer heartbeat", "stream", c.o.Stream, "group", c.o.Group, "consumer", c.o.Consumer, "err", err)
	case err == nil && holder != "":
		// Silent past its time to live, the consumer was taken for dead and its name given
		// to another process: what it holds may be handled twice (handlers are idempotent).
		c.o.Logger.Error("consumer name taken over while alive", "stream", c.o.Stream, "group", c.o.Group,
			"consumer", c.o.Consumer, "holder", holder)
	}
}

// giveUpName deletes the alive key, so that what the consumer still holds is claimed at
// once.
func (c *Consumer) giveUpName() {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.Heartbeat)
	defer cancel()
	if err := dropAlive.Run(ctx, c.rdb, []string{c.aliveKey(c.o.Consumer)}, c.alive).Err(); err != nil {
		c.o.Logger.Warn("give up consumer name", "stream", c.o.Stream, "group", c.o.Group, "consumer", c.o.Consumer, "err", err)
	}
}

// claimDead claims up to n entries held by consumers of the group whose alive key is
// gone, and removes those that hold nothing. XCLAIM's minimum idle time (one heartbeat;
// a dead consumer's entries have been idle for at least two when its key expires) lets
// only one of several live consumers that look at once take each entry.
func (c *Consumer) claimDead(ctx context.Context, n int64) ([]redis.XMessage, error) {
	cs, err := c.rdb.XInfoConsumers(ctx, c.o.Stream, c.o.Group).Result()
	if err != nil {
		return nil, err
	}
	others := cs[:0]
	for _, o := range cs {
		if o.Name != c.o.Consumer {
			others = append(others, o)
		}
	}
	if len(others) == 0 {
		return nil, nil
	}
	alive := make([]*redis.IntCmd, len(others))
	if _, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, o := range others {
			alive[i] = p.Exists(ctx, c.aliveKey(o.Name))
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var out []redis.XMessage
	for i, o := range others {
		switch {
		case alive[i].Val() > 0:
		case o.Pending == 0 && o.Idle > deadAfter*c.o.Heartbeat:
			if err := c.rdb.XGroupDelConsumer(ctx, c.o.Stream, c.o.Group, o.Name).Err(); err != nil {
				return out, err
			}
			c.o.Logger.Debug("dead consumer removed", "stream", c.o.Stream, "group", c.o.Group, "consumer", o.Name)
		case o.Pending > 0 && int64(len(out)) < n:
			ps, err := c.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: c.o.Stream, Group: c.o.Group,
				Start: "-", End: "+", Count: n - int64(len(out)), Consumer: o.Name}).Result()
			if err != nil {
				return out, err
			}
			ids := make([]string, len(ps))
			for j, p := range ps {
				ids[j] = p.ID
			}
			if len(ids) == 0 {
				continue
			}
			msgs, err := c.rdb.XClaim(ctx, &redis.XClaimArgs{Stream: c.o.Stream, Group: c.o.Group,
				Consumer: c.o.Consumer, MinIdle: c.o.Heartbeat, Messages: ids}).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return out, err
			}
			if len(msgs) > 0 {
				c.o.Logger.Info("claimed a dead consumer's entries", "stream", c.o.Stream, "group", c.o.Group,
					"dead", o.Name, "consumer", c.o.Consumer, "entries", len(msgs))
			}
			out = append(out, msgs...)
		}
	}
	if int64(len(out)) >= n {
		c.deadAt = time.Time{} // more may wait: look again at the next read
	}
	return out, nil
}
