package gateway

import (
	"time"

	"github.com/photon-cloud/photon/shared/store"
)

// sweepEvery is how often a gateway sweeps for a task retention: a sixteenth of it,
// between a second and a minute, so a task outlives it by little.
func sweepEvery(retention time.Duration) time.Duration {
	return min(max(retention/16, time.Second), time.Minute)
}

// startSweep deletes, in the background until the gateway closes, the finished tasks past
// retention (store.SweepTasks; 0 takes store.DefaultTaskRetention, below 0 keeps them
// all), and trims the starts stream of what the relays are done with. Every gateway
// sweeps: each deletion checks what it deletes, so sweeps at once are harmless.
func (c *core) startSweep(retention time.Duration) {
	if retention == 0 {
		retention = store.DefaultTaskRetention
	}
	if retention > 0 && retention < IdempotencyTTL {
		c.log.Warn("the task retention is shorter than an idempotency key lives: a call retried after its task went is refused with ConcurrentTask",
			"retention", retention, "idempotencyTTL", IdempotencyTTL)
	}
	c.background.Add(1)
	go func() {
		defer c.background.Done()
		ctx := c.bg
		if err := c.store.IndexOldTasks(ctx); err != nil && ctx.Err() == nil {
			c.log.Warn("retention: index old tasks", "err", err)
		}
		every := sweepEvery(max(retention, time.Second))
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if retention > 0 {
				if n, err := c.store.SweepTasks(ctx, retention); err != nil && ctx.Err() == nil {
					c.log.Warn("retention: sweep tasks", "err", err)
				} else if n > 0 {
					c.log.Debug("retention: tasks deleted", "tasks", n)
				}
			}
			if err := c.store.TrimStarts(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("retention: trim starts", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}
