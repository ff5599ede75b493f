// Package streams reads a Redis Stream as one consumer of a consumer group. It is the one
// stream-consuming mechanism of Photon: the local event broker's functions (events), the
// notifier's deriver and dispatcher (shared/notify), the rule engine
// (shared/notify/rules) and the gateways' chain-start relay (store.OpenStarts) all read
// through it.
//
// Delivery is at least once, and a crash loses nothing whatever name the restarted
// process takes. An entry read but not acknowledged stays in the group's pending list,
// held by its consumer.
//
// A live consumer says so: it renews a key of its own, <stream>:alive:<group>:<name>,
// every Options.Heartbeat (1s) with a time to live of three heartbeats. Every consumer
// looks at the group once a heartbeat: the entries of a consumer whose key is gone (it
// died, or closed) are claimed by the one that looks (XCLAIM, so only one does), within
// about four heartbeats of the death; a dead consumer that holds nothing is removed from
// the group (XGROUP DELCONSUMER), so groups do not grow with every process ever started.
//
// A live consumer also renews the entries it holds (XCLAIM to itself, every
// Options.ClaimIdle/4), so their idle time stays short; an entry whose idle time passes
// ClaimIdle has nobody working on it (its live consumer gave it back without
// acknowledging it) and the next consumer that looks takes it over (XAUTOCLAIM, at the
// first read and then every ClaimIdle/2).
//
// Names are stable: a consumer takes the name it is given (by default the host name)
// unless a live process holds it, then the name with the first free suffix (-2, -3...).
// A name whose holder was a process of this host that is gone (its pid runs no more) is
// free at once, so a restarted process takes its own name back, and reads what it held
// before at once, before anything else; two live processes never share a name.
package streams

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
)

// Options name a consumer and tune it; zero values take the defaults.
type Options struct {
	Stream, Group string
	// Consumer names this consumer in the group (default: DefaultConsumer()).
	Consumer string
	// StartID is where a group created now begins: "0" (the default), the stream's
	// beginning, or "$", only what is written after.
	StartID string
	// ClaimIdle is how long an entry a live consumer gave back may go unacknowledged and
	// unrenewed before another consumer takes it over (default 1m).
	ClaimIdle time.Duration
	// Heartbeat is how often the consumer renews its alive key (default 1s); one silent
	// for three heartbeats is dead, and what it held is claimed within about four.
	Heartbeat time.Duration
	// Block bounds how long a read waits for new entries (default 1s).
	Block time.Duration
	// Backoff is the wait after a failed Redis call, doubled while they keep failing, up
	// to 5s (default 100ms).
	Backoff time.Duration
	Logger  *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Consumer == "" {
		o.Consumer = DefaultConsumer()
	}
	if o.StartID == "" {
		o.StartID = "0"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ClaimIdle, time.Minute)
	def(&o.Heartbeat, time.Second)
	def(&o.Block, time.Second)
	def(&o.Backoff, 100*time.Millisecond)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// DefaultConsumer is the host name: stable across restarts, made unique among live
// processes by Open.
func DefaultConsumer() string {
	h, _ := os.Hostname()
	if h == "" {
		h = "consumer"
	}
	return h
}

// Consumer is one consumer of a group. Next, Ack, AckIn and Release may be called from
// any goroutine.
type Consumer struct {
	rdb redis.UniversalClient
	o   Options

	mu   sync.Mutex
	held map[string]struct{} // read, not yet acknowledged or released: renewed

	// Next's state (one Next at a time).
	backlog   string // where the next read of this consumer's own pending entries starts; "" when done
	claimFrom string // where the next XAUTOCLAIM starts
	claimAt   time.Time
	deadAt    time.Time // when to look for dead consumers next
	failures  int

	alive string // the alive key's value: host, pid and a nonce of this Open

	stop context.CancelFunc
	done chan struct{}
}

// Open creates the group if it is missing, takes the consumer's name (see the package
// doc) and starts its heartbeat and the renewal of the entries it will hold, until Close.
//
// While Redis cannot answer (down, restarting, loading its data) Open waits for it, trying
// again after Backoff, doubled while it keeps failing, up to 5s: a process started while
// Redis is away consumes once it is back instead of running without a consumer. Any other
// error, and ctx's end, is returned.
func Open(ctx context.Context, rdb redis.UniversalClient, o Options) (*Consumer, error) {
	o = o.withDefaults()
	c := &Consumer{rdb: rdb, o: o, held: map[string]struct{}{}, backlog: "0", claimFrom: "0-0", done: make(chan struct{})}
	for failures := 0; ; failures++ {
		err := c.join(ctx)
		if err == nil {
			break
		}
		if !errs.StoreUnavailable(err) {
			return nil, err
		}
		wait := min(o.Backoff<<min(failures, 16), max(5*time.Second, o.Backoff))
		o.Logger.Warn("open stream: Redis unavailable", "stream", o.Stream, "group", o.Group, "err", err, "retry", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	rctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	c.stop = stop
	go c.renew(rctx)
	return c, nil
}

// join creates the group if it is missing and takes the consumer's name in it.
func (c *Consumer) join(ctx context.Context) error {
	err := c.rdb.XGroupCreateMkStream(ctx, c.o.Stream, c.o.Group, c.o.StartID).Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create group %s on %s: %w", c.o.Group, c.o.Stream, err)
	}
	return c.takeName(ctx)
}

// Name is the consumer's name in its group.
func (c *Consumer) Name() string { return c.o.Consumer }

// Stream is the stream c reads.
func (c *Consumer) Stream() string { return c.o.Stream }

// Close stops renewing and gives up the name: what the consumer still holds is taken
// over by another consumer, or by this one's successor, at once.
func (c *Consumer) Close() {
	c.stop()
	<-c.done
}

// Next returns up to n entries nobody else works on: first those this consumer held
// before a restart, then those idle past ClaimIdle when a look for them is due, then new
// ones, waiting up to Block for them. It returns none when the wait passed, or after a
// failed Redis call (it logs it and waits Backoff). The error is ctx's, when it ended.
// The caller holds what it gets until it acknowledges it (Ack, AckIn) or gives it back
// (Release).
func (c *Consumer) Next(ctx context.Context, n int) ([]redis.XMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	msgs, err := c.read(ctx, int64(n))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		c.failures++
		wait := min(c.o.Backoff<<min(c.failures-1, 16), max(5*time.Second, c.o.Backoff))
		c.o.Logger.Warn("read stream", "stream", c.o.Stream, "group", c.o.Group, "err", err, "retry", wait)
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return nil, nil
	}
	c.failures = 0
	return c.hold(msgs), nil
}

func (c *Consumer) read(ctx context.Context, n int64) ([]redis.XMessage, error) {
	if c.backlog != "" {
		msgs, err := c.readGroup(ctx, c.backlog, n, -1)
		if err != nil {
			return nil, err
		}
		if len(msgs) > 0 {
			c.backlog = msgs[len(msgs)-1].ID
			return msgs, nil
		}
		c.backlog = ""
	}
	if !time.Now().Before(c.deadAt) {
		c.deadAt = time.Now().Add(c.o.Heartbeat)
		msgs, err := c.claimDead(ctx, n)
		if err != nil || len(msgs) > 0 {
			return msgs, err
		}
	}
	if !time.Now().Before(c.claimAt) {
		msgs, next, err := c.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: c.o.Stream, Group: c.o.Group,
			Consumer: c.o.Consumer, MinIdle: c.o.ClaimIdle, Start: c.claimFrom, Count: n}).Result()
		if err != nil {
			return nil, err
		}
		// A pass over the whole pending list ends when the cursor comes back to 0-0.
		if c.claimFrom = next; next == "0-0" || next == "" {
			c.claimFrom, c.claimAt = "0-0", time.Now().Add(c.o.ClaimIdle/2)
		}
		if len(msgs) > 0 {
			return msgs, nil
		}
	}
	return c.readGroup(ctx, ">", n, c.o.Block)
}

func (c *Consumer) readGroup(ctx context.Context, from string, n int64, block time.Duration) ([]redis.XMessage, error) {
	res, err := c.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: c.o.Group, Consumer: c.o.Consumer,
		Streams: []string{c.o.Stream, from}, Count: n, Block: block}).Result()
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
	return msgs, nil
}

// hold records msgs as held, leaving out any already held: an entry claimed while the
// caller still works on it (its renewal came late) is not handed out twice.
func (c *Consumer) hold(msgs []redis.XMessage) []redis.XMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := msgs[:0]
	for _, m := range msgs {
		if _, ok := c.held[m.ID]; ok {
			continue
		}
		c.held[m.ID] = struct{}{}
		out = append(out, m)
	}
	return out
}

// Ack acknowledges ids and stops holding them. A failed acknowledgement leaves them
// pending, to be read again after ClaimIdle.
func (c *Consumer) Ack(ctx context.Context, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	defer c.Release(ids...)
	if err := c.rdb.XAck(context.WithoutCancel(ctx), c.o.Stream, c.o.Group, ids...).Err(); err != nil {
		return fmt.Errorf("acknowledge %d entries of %s: %w", len(ids), c.o.Stream, err)
	}
	return nil
}

// AckIn queues the acknowledgement of ids in p, to go with other writes in one
// transaction. The caller then calls Release(ids...), whether p ran or not.
func (c *Consumer) AckIn(ctx context.Context, p redis.Pipeliner, ids ...string) {
	if len(ids) > 0 {
		p.XAck(ctx, c.o.Stream, c.o.Group, ids...)
	}
}

// Release stops holding ids: those not acknowledged are read again after ClaimIdle, by
// this consumer or another.
func (c *Consumer) Release(ids ...string) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.held, id)
	}
	c.mu.Unlock()
}

// renewBatch bounds the ids of one renewal call.
const renewBatch = 1000

// renew keeps the consumer alive, every Heartbeat, and resets the idle time of the held
// entries every ClaimIdle/4, so no other consumer takes them over while this one works
// on them. When ctx ends it gives up the name.
func (c *Consumer) renew(ctx context.Context) {
	defer close(c.done)
	defer c.giveUpName()
	t := time.NewTicker(c.o.ClaimIdle / 4)
	defer t.Stop()
	hb := time.NewTicker(c.o.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			c.heartbeat(ctx)
			continue
		case <-t.C:
		}
		c.mu.Lock()
		ids := make([]string, 0, len(c.held))
		for id := range c.held {
			ids = append(ids, id)
		}
		c.mu.Unlock()
		for len(ids) > 0 {
			n := min(len(ids), renewBatch)
			// JUSTID leaves the delivery count alone; ids acknowledged meanwhile are no
			// longer pending and XCLAIM passes over them.
			err := c.rdb.XClaimJustID(ctx, &redis.XClaimArgs{Stream: c.o.Stream, Group: c.o.Group,
				Consumer: c.o.Consumer, Messages: ids[:n]}).Err()
			if err != nil && !errors.Is(err, redis.Nil) && ctx.Err() == nil {
				c.o.Logger.Warn("renew held entries", "stream", c.o.Stream, "group", c.o.Group, "err", err)
			}
			ids = ids[n:]
		}
	}
}

// Run hands each batch of up to n entries to h, one batch at a time, until ctx ends,
// then closes c. h acknowledges what it finished; what it did not is released when it
// returns, to be read again after ClaimIdle.
func (c *Consumer) Run(ctx context.Context, n int, h func(context.Context, []redis.XMessage)) {
	defer c.Close()
	for {
		msgs, err := c.Next(ctx, n)
		if err != nil {
			return
		}
		if len(msgs) == 0 {
			continue
		}
		h(ctx, msgs)
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = m.ID
		}
		c.Release(ids...)
	}
}
