package events

import (
	"context"
	"time"

	"github.com/photon-cloud/photon/shared/streams"
)

// DefaultDeadLetterMaxAge is how long the dead-letter stream keeps an event by default:
// as long as the gateway keeps the finished task it failed (store.DefaultTaskRetention).
const DefaultDeadLetterMaxAge = 7 * 24 * time.Hour

// keepTrimmed trims subscriber's stream of the events every consumer group acknowledged,
// and the dead-letter stream (which nobody reads in a group) of those older than
// DeadLetterMaxAge, until ctx ends. Every consumer of a stream trims it: trimming twice
// drops nothing more.
func (b *RedisBroker) keepTrimmed(ctx context.Context, subscriber string) {
	streams.KeepTrimmed(ctx, b.rdb, b.TrimEvery, b.log,
		streams.Retention{Stream: b.stream(subscriber), Acked: true},
		streams.Retention{Stream: b.DeadLetterStream(), MaxAge: b.DeadLetterMaxAge})
}
