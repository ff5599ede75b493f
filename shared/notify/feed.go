package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// Feed tails EventsStream for live readers (the gateway's event stream, which the console
// reads): one XREAD loop per process, whatever the number of readers, fanned out to each.
// It reads without a consumer group, so it holds up no trimming and acknowledges nothing:
// a reader sees what is appended while it is there, and, given the id of the last event it
// saw, what came after it that the stream still holds.
type Feed struct {
	rdb    redis.UniversalClient
	stream string
	log    *slog.Logger

	mu sync.Mutex
	// readers maps each reader to the id it resumed after while the loop has not yet
	// passed it ("" once it has): the loop's events up to it are ones it saw.
	readers map[chan FeedEvent]string
	cancel  context.CancelFunc // the loop's, while there are readers
	last    string             // the id of the last entry the loop read
}

// FeedEvent is one entry of EventsStream: its stream id and its CloudEvent in structured
// JSON, with the tenant and project the event is about (its extensions).
type FeedEvent struct {
	ID                  string
	Type                string
	CE                  []byte
	TenantID, ProjectID string
}

// feedBuffer is how many events a reader may fall behind by before it is dropped (its
// channel closed): a reader that cannot keep up must not hold the others up.
const feedBuffer = 1024

// NewFeed tails EventsStream(prefix) on rdb.
func NewFeed(rdb redis.UniversalClient, prefix string, log *slog.Logger) *Feed {
	if log == nil {
		log = slog.Default()
	}
	return &Feed{rdb: rdb, stream: EventsStream(prefix), log: log, readers: map[chan FeedEvent]string{}}
}

// Subscribe returns a channel of the events appended from now on, and after (when not
// empty: a stream id a reader saw last) those the stream holds after it first. The
// channel is closed when ctx ends or the reader falls behind by more than it buffers.
func (f *Feed) Subscribe(ctx context.Context, after string) (<-chan FeedEvent, error) {
	ch := make(chan FeedEvent, feedBuffer)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cancel == nil {
		// The loop starts from the stream's end as it is now, so nothing appended between
		// this call and the loop's first read is lost.
		last := "0-0"
		msgs, err := f.rdb.XRevRangeN(ctx, f.stream, "+", "-", 1).Result()
		if err != nil {
			return nil, err
		}
		if len(msgs) > 0 {
			last = msgs[0].ID
		}
		f.last = last
		loop, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f.cancel = cancel
		go f.run(loop, last)
	}
	floor := ""
	if after != "" {
		// The backlog goes first: it is read under the lock, so the loop's next events
		// queue up behind it. Only up to the loop's position, which the loop sends itself;
		// a reader that saw past that position skips the loop's events up to what it saw.
		msgs, err := f.rdb.XRangeN(ctx, f.stream, "("+after, f.last, feedBuffer/2).Result()
		if err != nil && !isBadID(err) {
			return nil, err
		}
		for _, m := range msgs {
			ch <- feedEvent(m)
		}
		if idBefore(f.last, after) {
			floor = after
		}
	}
	f.readers[ch] = floor
	go func() {
		<-ctx.Done()
		f.drop(ch)
	}()
	return ch, nil
}

// idBefore reports whether stream id a comes before b ("ms-seq" each); ids that do not
// parse come before none.
func idBefore(a, b string) bool {
	am, as, aok := parseID(a)
	bm, bs, bok := parseID(b)
	return aok && bok && (am < bm || am == bm && as < bs)
}

func parseID(id string) (ms, seq uint64, ok bool) {
	m, sq, found := strings.Cut(id, "-")
	ms, err1 := strconv.ParseUint(m, 10, 64)
	seq, err2 := strconv.ParseUint(sq, 10, 64)
	return ms, seq, found && err1 == nil && err2 == nil
}

func isBadID(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr)
}

// drop forgets a reader and closes its channel; the loop stops with the last reader.
func (f *Feed) drop(ch chan FeedEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.readers[ch]; !ok {
		return
	}
	delete(f.readers, ch)
	close(ch)
	if len(f.readers) == 0 && f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
}

// run reads the stream after last and hands each entry to every reader until ctx ends.
func (f *Feed) run(ctx context.Context, last string) {
	for n := 1; ctx.Err() == nil; {
		res, err := f.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{f.stream, last}, Count: 256, Block: 5 * time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.log.Warn("notify: feed", "err", err)
			if !sleepCtx(ctx, backoff(n, 100*time.Millisecond, 5*time.Second)) {
				return
			}
			n++
			continue
		}
		n = 1
		for _, s := range res {
			for _, m := range s.Messages {
				last = m.ID
				f.send(ctx, feedEvent(m))
			}
		}
	}
}

func (f *Feed) send(ctx context.Context, e FeedEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ctx.Err() != nil {
		return // a new loop may already be running: this one's events are its
	}
	f.last = e.ID
	for ch, floor := range f.readers {
		if floor != "" {
			if !idBefore(floor, e.ID) {
				continue // it saw this one before it resumed
			}
			f.readers[ch] = ""
		}
		select {
		case ch <- e:
		default:
			f.log.Warn("notify: feed reader fell behind; dropped")
			delete(f.readers, ch)
			close(ch)
		}
	}
	if len(f.readers) == 0 && f.cancel != nil {
		f.cancel()
		f.cancel = nil
	}
}

// feedEvent decodes an entry's fields (deriver.handle writes them) and the scope
// extensions of its CloudEvent.
func feedEvent(m redis.XMessage) FeedEvent {
	e := FeedEvent{ID: m.ID}
	e.Type, _ = m.Values["type"].(string)
	ce, _ := m.Values["ce"].(string)
	e.CE = []byte(ce)
	var scope struct {
		TenantID  string `json:"tenantid"`
		ProjectID string `json:"projectid"`
	}
	if json.Unmarshal(e.CE, &scope) == nil {
		e.TenantID, e.ProjectID = scope.TenantID, scope.ProjectID
	}
	return e
}

// MaySee reports whether c may see what happens in a scope: the system's (both ids
// empty) is a system administrator's; a tenant's needs a role on the tenant; a project's
// one on the project. A scope that no longer exists is nobody's but a system
// administrator's. The subscriptions' deliveries and the live feed's readers decide by it.
func MaySee(ctx context.Context, s *store.Store, c model.Caller, tenantID, projectID string) (bool, error) {
	if policy.IsSystemAdmin(c) {
		return true, nil
	}
	if projectID != "" {
		t, p, err := s.ProjectScope(ctx, projectID)
		if errors.Is(err, errs.ErrNotFound) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		return (tenantID == "" || p.TenantID == tenantID) && t.ID == p.TenantID && policy.MaySeeProject(c, t, p), nil
	}
	if tenantID == "" {
		return false, nil
	}
	t, err := store.Get[model.Tenant](ctx, s, model.KindTenant, tenantID)
	if errors.Is(err, errs.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return policy.MaySeeTenant(c, t), nil
}

// Readers is how many readers the feed has now.
func (f *Feed) Readers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.readers)
}
