package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
)

// The audit log records every API mutation and every refused call in one Redis stream,
// <prefix>audit, one entry per event holding its JSON.
//
// An entry's id carries the event's time: it is added as "<event ms>-*", so ids order the
// events by when they happened and a time range is an id range. Ids must grow, so an
// event older than the stream's newest entry (another gateway's clock ahead, a batch
// written late) takes the next free id instead, and an event from the future is clamped
// to the Redis server's clock, so that one skewed clock cannot push every later id ahead.

// Audit outcomes.
const (
	AuditAllowed = "ALLOWED" // a mutation that was accepted
	AuditDenied  = "DENIED"  // refused by authentication, authorization or rate limiting
	AuditFailed  = "FAILED"  // any other error
)

// AuditEvent is one audited call.
type AuditEvent struct {
	ID        string    `json:"id,omitempty"` // the stream id, set when read
	Time      time.Time `json:"time"`
	Subject   string    `json:"subject"` // the caller; "" when unauthenticated
	Groups    []string  `json:"groups,omitempty"`
	Method    string    `json:"method"` // "POST /v1/projects/{id}/vms" or a gRPC full method
	Path      string    `json:"path,omitempty"`
	TenantID  string    `json:"tenantId,omitempty"`
	ProjectID string    `json:"projectId,omitempty"`
	EntityID  string    `json:"entityId,omitempty"`
	TaskID    string    `json:"taskId,omitempty"`
	Source    string    `json:"source,omitempty"`   // remote address or X-Forwarded-For
	Protocol  string    `json:"protocol,omitempty"` // "rest" or "grpc"
	Outcome   string    `json:"outcome"`            // AuditAllowed, AuditDenied or AuditFailed
	Code      string    `json:"code,omitempty"`     // the Photon error code; "" on success
	Status    int       `json:"status,omitempty"`   // the HTTP status
	Message   string    `json:"message,omitempty"`
}

// AuditRetention bounds the audit stream. Both bounds are approximate (MAXLEN ~ and
// MINID ~): Redis trims whole stream nodes, so up to one node (100 entries by default)
// more than the bound may remain. A bound of 0 or less takes its default.
type AuditRetention struct {
	MaxEvents int64         // default 1,000,000: an event takes about 500 bytes of Redis memory
	MaxAge    time.Duration // default 90 days
}

// Audit retention defaults.
const (
	DefaultAuditMaxEvents = 1_000_000
	DefaultAuditMaxAge    = 90 * 24 * time.Hour
)

func (r AuditRetention) withDefaults() AuditRetention {
	if r.MaxEvents <= 0 {
		r.MaxEvents = DefaultAuditMaxEvents
	}
	if r.MaxAge <= 0 {
		r.MaxAge = DefaultAuditMaxAge
	}
	return r
}

func (s *Store) auditKey() string { return s.key("audit") }

// auditBatch is the most events one script call writes: large enough that a busy gateway
// writes few, small enough that one call holds Redis for well under a millisecond.
const auditBatch = 256

// appendAuditScript: KEYS the stream; ARGV max events, max age (ms), then each event's time (ms)
// and JSON. An id "<ms>-*" below the stream's newest entry is an error, hence the pcall
// and the fallback to "*" (the next free id).
var appendAuditScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local last = 0
for i = 3, #ARGV, 2 do
  local ms = math.max(math.min(tonumber(ARGV[i]), now), last)
  local id = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], string.format('%d-*', ms), 'e', ARGV[i+1])
  if type(id) ~= 'string' then
    id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', ARGV[i+1])
  end
  last = tonumber(string.match(id, '^%d+'))
end
redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d', now - tonumber(ARGV[2])))
return 0
`)

// AppendAudit writes events to the audit log now, with the default retention. An event
// without a Time is stamped with the store's clock. Events are written auditBatch to a
// call: if a later call fails, the earlier ones stay written.
func (s *Store) AppendAudit(ctx context.Context, events ...AuditEvent) error {
	return s.appendAudit(ctx, AuditRetention{}, events)
}

func (s *Store) appendAudit(ctx context.Context, r AuditRetention, events []AuditEvent) error {
	r = r.withDefaults()
	for len(events) > 0 {
		n := min(len(events), auditBatch)
		args := make([]any, 0, 2+2*n)
		args = append(args, r.MaxEvents, r.MaxAge.Milliseconds())
		for _, e := range events[:n] {
			if e.Time.IsZero() {
				e.Time = s.now()
			}
			e.ID = ""
			raw, err := codec.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode audit event: %w", err)
			}
			args = append(args, e.Time.UnixMilli(), raw)
		}
		if err := appendAuditScript.Run(ctx, s.rdb, []string{s.auditKey()}, args...).Err(); err != nil {
			return fmt.Errorf("append audit: %w", err)
		}
		events = events[n:]
	}
	return nil
}

// AuditQuery selects audit events; zero fields do not filter.
type AuditQuery struct {
	Subject  string
	Outcome  string
	TenantID string
	Since    time.Time // events at or after
	Until    time.Time // events before
	Limit    int       // DefaultPageSize when 0, at most MaxPageSize
	// PageToken is a previous page's next token: the page continues after it.
	PageToken string
}

func (q AuditQuery) match(e AuditEvent) bool {
	return (q.Subject == "" || e.Subject == q.Subject) &&
		(q.Outcome == "" || e.Outcome == q.Outcome) &&
		(q.TenantID == "" || e.TenantID == q.TenantID) &&
		(q.Since.IsZero() || !e.Time.Before(q.Since)) &&
		(q.Until.IsZero() || e.Time.Before(q.Until))
}

const (
	// auditScanMax bounds the entries one ListAudit call reads: a filter that matches
	// little returns a short page and a next token rather than reading the whole stream.
	auditScanMax = 10_000
	// auditScanChunk is the most entries read in one round trip.
	auditScanChunk = 1000
	// auditSkew is how much later than its time an event may have been given its id
	// (see the top of this file) and still be found by Until.
	auditSkew = time.Minute
)

var auditIDPattern = regexp.MustCompile(`^[0-9]+-[0-9]+$`)

// ListAudit reads the audit events q selects, newest first, and the token of the next
// page ("" when the log has been read to its start). Filters are applied while reading,
// so a page holds up to Limit matching events; when a call has read auditScanMax entries
// without filling the page, it returns what it found and a next token. A token may lead
// to an empty last page.
func (s *Store) ListAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	hi, lo := "+", "-"
	switch {
	case q.PageToken != "":
		id, err := base64.RawURLEncoding.DecodeString(q.PageToken)
		if err != nil || !auditIDPattern.Match(id) {
			return nil, "", errs.Invalid("invalid page token")
		}
		hi = "(" + string(id)
	case !q.Until.IsZero():
		hi = strconv.FormatInt(q.Until.Add(auditSkew).UnixMilli(), 10)
	}
	if !q.Since.IsZero() {
		lo = strconv.FormatInt(q.Since.UnixMilli(), 10)
	}
	var out []AuditEvent
	// The first read is just enough for an unfiltered page and one more (to tell whether
	// it is the last); later reads, needed only when filters skip entries, grow.
	chunk := int64(limit + 1)
	for scanned := 0; ; chunk = min(2*chunk, auditScanChunk) {
		msgs, err := s.rdb.XRevRangeN(ctx, s.auditKey(), hi, lo, chunk).Result()
		if err != nil {
			return nil, "", fmt.Errorf("list audit: %w", err)
		}
		end := int64(len(msgs)) < chunk // the stream's start (or Since) is reached
		for i, m := range msgs {
			e, err := decodeAudit(m)
			if err != nil {
				return nil, "", err
			}
			if !q.match(e) {
				continue
			}
			if out = append(out, e); len(out) == limit {
				if end && i == len(msgs)-1 {
					return out, "", nil
				}
				return out, auditToken(m.ID), nil
			}
		}
		if end {
			return out, "", nil
		}
		last := msgs[len(msgs)-1].ID
		if scanned += len(msgs); scanned >= auditScanMax {
			return out, auditToken(last), nil
		}
		hi = "(" + last
	}
}

func auditToken(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeAudit(m redis.XMessage) (AuditEvent, error) {
	var e AuditEvent
	raw, _ := m.Values["e"].(string)
	if err := codec.Unmarshal([]byte(raw), &e); err != nil {
		return e, fmt.Errorf("decode audit event %s: %w", m.ID, err)
	}
	e.ID = m.ID
	return e, nil
}

// AuditLog writes audit events in the background, so that recording one costs an API
// call a channel send, not a Redis round trip. A writer goroutine takes events from a
// queue of 8192 and writes them in batches, one script call each: when 256 are queued or
// 50 ms after the first of a batch, whichever comes first. A failed write is
// logged and tried once more; events that still cannot be written are logged one by one
// at error level, so the trail survives in the process log.
type AuditLog struct {
	write  func(context.Context, []AuditEvent) error
	now    func() time.Time
	log    *slog.Logger
	events chan AuditEvent

	// mu is held shared by Record while it queues and exclusively by Close while it
	// closes events, so no Record sends on a closed channel or queues after the writer's
	// last read.
	mu     sync.RWMutex
	closed bool

	ctx    context.Context // the writer's; cancelled when Close gives up
	cancel context.CancelFunc
	done   chan struct{} // closed when the writer has stopped
}

const (
	auditQueue        = 8192 // events queued at most before Record waits
	auditFlushEvery   = 50 * time.Millisecond
	auditRetryAfter   = 200 * time.Millisecond
	auditWriteTimeout = 5 * time.Second
)

// NewAuditLog starts an audit log writing to s with retention r; logger (slog.Default
// when nil) receives write errors.
func NewAuditLog(s *Store, r AuditRetention, logger *slog.Logger) *AuditLog {
	if logger == nil {
		logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &AuditLog{
		write:  func(ctx context.Context, ev []AuditEvent) error { return s.appendAudit(ctx, r, ev) },
		now:    s.now,
		log:    logger,
		events: make(chan AuditEvent, auditQueue),
		ctx:    ctx,
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go l.run()
	return l
}

// Record queues e to be written; an event without a Time is stamped now. It returns at
// once unless the queue is full (Redis down, or slower than the API): it then waits for
// room rather than lose the event, so a stalled audit log slows API calls down instead
// of letting them go unrecorded. After Close, Record writes e itself before returning.
func (l *AuditLog) Record(e AuditEvent) {
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	l.mu.RLock()
	if !l.closed {
		l.events <- e
		l.mu.RUnlock()
		return
	}
	l.mu.RUnlock()
	l.flush([]AuditEvent{e})
}

// Close writes what is queued and stops the writer. If ctx ends first, writes in flight
// are abandoned, what is left is logged as lost, and Close returns ctx's error.
func (l *AuditLog) Close(ctx context.Context) error {
	stop := context.AfterFunc(ctx, l.cancel)
	defer stop()
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.events)
	}
	l.mu.Unlock()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close audit log: %w", ctx.Err())
	}
}

func (l *AuditLog) run() {
	defer close(l.done)
	batch := make([]AuditEvent, 0, auditBatch)
	timer := time.NewTimer(auditFlushEvery)
	timer.Stop()
	for {
		e, open := <-l.events
		if !open {
			return
		}
		batch = append(batch[:0], e)
		timer.Reset(auditFlushEvery)
	fill:
		for len(batch) < auditBatch {
			select {
			case e, open = <-l.events:
				if !open {
					break fill
				}
				batch = append(batch, e)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		l.flush(batch)
		if !open {
			return
		}
	}
}

// flush writes batch, trying twice.
func (l *AuditLog) flush(batch []AuditEvent) {
	err := l.writeOnce(batch)
	if err != nil && l.ctx.Err() == nil {
		l.log.Warn("audit log: write failed, retrying", "events", len(batch), "err", err)
		select {
		case <-time.After(auditRetryAfter):
		case <-l.ctx.Done():
		}
		err = l.writeOnce(batch)
	}
	if err == nil {
		return
	}
	for _, e := range batch {
		l.log.Error("audit log: event not stored", "err", err, "event", e)
	}
}

func (l *AuditLog) writeOnce(batch []AuditEvent) error {
	ctx, cancel := context.WithTimeout(l.ctx, auditWriteTimeout)
	defer cancel()
	return l.write(ctx, batch)
}
