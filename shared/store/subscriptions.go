package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Subscriptions register HTTP sinks for outbound events (shared/notify delivers them).
//
// Keys:
//   - photon:subscription:{id}: the subscription (JSON, its secret included);
//   - photon:idx:subscriptions, photon:idx:subscriptions:tenant:{tenant} and
//     photon:idx:subscriptions:project:{project}: paged indexes (all, by tenant, by project);
//   - photon:ver:subscription (Version): changes on every create and delete, so that a
//     dispatcher reloads its cache when it differs from what it loaded;
//   - photon:deadletter:{id} and photon:idx:deadletters:{subscription}: events a sink
//     refused or never took (they expire after DeadLetterTTL);
//   - photon:notify:replay: a stream of dead letters put back for delivery (ReplayDeadLetter).
//
// Subscriptions and dead letters are not entities of the outbound catalogue: a
// subscription's secret never reaches the outbox.

// Kinds of the subscription records.
const (
	KindSubscription = "subscription"
	KindDeadLetter   = "deadletter"
)

// Subscription states. Only ACTIVE subscriptions receive events.
const (
	SubscriptionActive   = "ACTIVE"
	SubscriptionDisabled = "DISABLED"
)

// DeadLetterTTL is how long a dead letter is kept.
const DeadLetterTTL = 30 * 24 * time.Hour

// Subscription sends the outbound events that match it to an HTTP sink.
//
// Its scope is the narrowest of ProjectID, TenantID and the system (both empty): a
// project-scoped subscription receives only that project's events, a tenant-scoped one the
// tenant's (its projects' included), a system-scoped one every event. Whatever the scope,
// an event is delivered only while Owner may see its tenant or project (shared/policy), so
// a subscription never outlives its owner's rights.
type Subscription struct {
	ID        string `json:"id"`
	TenantID  string `json:"tenantId,omitempty"`
	ProjectID string `json:"projectId,omitempty"`
	// Owner is who made the subscription; deliveries are limited to what it may see.
	Owner model.Caller `json:"owner"`
	// Sink is the http or https URL events are POSTed to (CloudEvents binary mode).
	Sink string `json:"sink"`
	// Types are the event types wanted: exact ("io.photon.vm.started") or a prefix ending
	// in "*" ("io.photon.vm.*"). None means every type.
	Types []string `json:"types,omitempty"`
	// SubjectPrefix, if set, keeps only events whose subject (the entity id) starts with it.
	SubjectPrefix string `json:"subjectPrefix,omitempty"`
	// Secret keys the HMAC signature of every delivery (notify.Verify). It is generated at
	// creation and should be shown to the user only in the reply to the create.
	Secret    string `json:"secret"`
	State     string `json:"state"`
	CreatedAt int64  `json:"createdAt"`
}

// Redacted is the subscription without its secret, as reads show it.
func (sub Subscription) Redacted() Subscription {
	sub.Secret = ""
	return sub
}

// Wants reports whether an event of type eventType about subject matches the
// subscription's filters (types and subject prefix; the scope is checked by the sender).
func (sub *Subscription) Wants(eventType, subject string) bool {
	if sub.State != SubscriptionActive || !strings.HasPrefix(subject, sub.SubjectPrefix) {
		return false
	}
	if len(sub.Types) == 0 {
		return true
	}
	return slices.ContainsFunc(sub.Types, func(t string) bool { return TypeMatches(t, eventType) })
}

// TypeMatches reports whether an event type filter (an exact type, or a prefix ending in
// "*") takes eventType: subscriptions and rules filter with it.
func TypeMatches(filter, eventType string) bool {
	if p, ok := strings.CutSuffix(filter, "*"); ok {
		return strings.HasPrefix(eventType, p)
	}
	return filter == eventType
}

// Validate checks what a user gives: the sink URL and the type filters.
func (sub *Subscription) Validate() error {
	if err := ValidateSink(sub.Sink); err != nil {
		return err
	}
	for _, t := range sub.Types {
		if t == "" || strings.Contains(strings.TrimSuffix(t, "*"), "*") {
			return errs.Invalid("event type filter %q: an exact type or a prefix ending in '*'", t)
		}
	}
	if sub.ProjectID != "" && sub.TenantID == "" {
		return errs.Invalid("a project-scoped subscription names its tenant")
	}
	return nil
}

// ValidateSink accepts absolute http and https URLs with a host and without user
// information (credentials belong in the signature secret, not in a URL that is shown).
func ValidateSink(sink string) error {
	u, err := url.Parse(sink)
	if err != nil {
		return errs.Invalid("sink %q is not a URL: %v", sink, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errs.Invalid("sink %q: only http and https sinks are supported", sink)
	case u.Host == "" || u.Hostname() == "":
		return errs.Invalid("sink %q has no host", sink)
	case u.User != nil:
		return errs.Invalid("sink %q must not carry user information", sink)
	case u.Fragment != "":
		return errs.Invalid("sink %q must not have a fragment", sink)
	}
	return nil
}

// NewSecret returns a fresh random signing secret (32 bytes, hex).
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

func (s *Store) subscriptionsIdx() string { return s.key("idx", "subscriptions") }
func (s *Store) tenantSubscriptionsIdx(tenant string) string {
	return s.key("idx", "subscriptions", "tenant", tenant)
}
func (s *Store) projectSubscriptionsIdx(project string) string {
	return s.key("idx", "subscriptions", "project", project)
}
func (s *Store) deadLettersIdx(sub string) string { return s.key("idx", "deadletters", sub) }

// ReplayStream is the stream of dead letters put back for delivery: entries with fields
// "sub" (the subscription id), "ce" (the CloudEvent, structured JSON) and "dl" (the dead
// letter's id).
func (s *Store) ReplayStream() string { return s.key("notify", "replay") }

// subscriptionIndexes adds (or, with add false, removes) sub's index entries to b.
func (s *Store) subscriptionIndexes(b *Batch, sub *Subscription, add bool) *Batch {
	m := indexMember(sub.CreatedAt, sub.ID)
	idx := []string{s.subscriptionsIdx()}
	if sub.TenantID != "" {
		idx = append(idx, s.tenantSubscriptionsIdx(sub.TenantID))
	}
	if sub.ProjectID != "" {
		idx = append(idx, s.projectSubscriptionsIdx(sub.ProjectID))
	}
	for _, k := range idx {
		if add {
			b.Index(k, m)
		} else {
			b.Unindex(k, m)
		}
	}
	return s.bumpVersion(b, KindSubscription)
}

// CreateSubscription validates sub, fills in what is missing (ID, Secret, State ACTIVE,
// CreatedAt) and writes it with task (nil for none), if its tenant and project exist.
// The caller decides beforehand whether sub.Owner may make a subscription of that scope.
func (s *Store) CreateSubscription(ctx context.Context, sub *Subscription, task *model.Task) error {
	if err := sub.Validate(); err != nil {
		return err
	}
	if sub.ID == "" {
		sub.ID = uuid.NewString()
	}
	if sub.Secret == "" {
		sub.Secret = NewSecret()
	}
	if sub.State == "" {
		sub.State = SubscriptionActive
	}
	if sub.CreatedAt == 0 {
		sub.CreatedAt = s.Now()
	}
	b := new(Batch)
	if sub.TenantID != "" {
		b.Require(s.entityKey(model.KindTenant, sub.TenantID), "Tenant #"+sub.TenantID)
	}
	if sub.ProjectID != "" {
		b.Require(s.entityKey(model.KindProject, sub.ProjectID), "Project #"+sub.ProjectID)
	}
	b.Absent(s.entityKey(KindSubscription, sub.ID), "Subscription #"+sub.ID).
		Put(s.entityKey(KindSubscription, sub.ID), sub)
	s.subscriptionIndexes(b, sub, true)
	if task != nil {
		s.AddTask(b, task)
	}
	return s.Apply(ctx, b)
}

// GetSubscription reads a subscription (its secret included).
func (s *Store) GetSubscription(ctx context.Context, id string) (*Subscription, error) {
	return Get[Subscription](ctx, s, KindSubscription, id)
}

// DeleteSubscription deletes a subscription and forgets its dead letters, with task (nil
// for none). Deliveries in flight may still reach the sink.
func (s *Store) DeleteSubscription(ctx context.Context, id string, task *model.Task) error {
	sub, err := s.GetSubscription(ctx, id)
	if err != nil {
		return err
	}
	b := new(Batch).Require(s.entityKey(KindSubscription, id), "Subscription #"+id).
		Del(s.entityKey(KindSubscription, id)).
		Del(s.deadLettersIdx(id))
	s.subscriptionIndexes(b, sub, false)
	if task != nil {
		s.AddTask(b, task)
	}
	return s.Apply(ctx, b)
}

// ListSubscriptions pages through every subscription.
func (s *Store) ListSubscriptions(ctx context.Context, size int, cursor string) (Page[Subscription], error) {
	return List[Subscription](ctx, s, s.subscriptionsIdx(), KindSubscription, size, cursor)
}

// ListTenantSubscriptions pages through the subscriptions of a tenant, its projects' included.
func (s *Store) ListTenantSubscriptions(ctx context.Context, tenantID string, size int, cursor string) (Page[Subscription], error) {
	return List[Subscription](ctx, s, s.tenantSubscriptionsIdx(tenantID), KindSubscription, size, cursor)
}

// ListProjectSubscriptions pages through the subscriptions of a project.
func (s *Store) ListProjectSubscriptions(ctx context.Context, projectID string, size int, cursor string) (Page[Subscription], error) {
	return List[Subscription](ctx, s, s.projectSubscriptionsIdx(projectID), KindSubscription, size, cursor)
}

// DeadLetter is an event a subscription's sink refused for good or did not take within
// the retries.
type DeadLetter struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"subscriptionId"`
	// Event is the CloudEvent in structured JSON form.
	Event      json.RawMessage `json:"event"`
	Attempts   int             `json:"attempts"`
	LastError  string          `json:"lastError,omitempty"`
	LastStatus int             `json:"lastStatus,omitempty"` // the sink's last HTTP status, 0 if none
	At         int64           `json:"at"`                   // unix ms
}

// AddDeadLetter records dl (its ID and At filled in when empty).
func (s *Store) AddDeadLetter(ctx context.Context, dl *DeadLetter) error {
	if dl.ID == "" {
		dl.ID = uuid.NewString()
	}
	if dl.At == 0 {
		dl.At = s.Now()
	}
	raw, err := codec.Marshal(dl)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.entityKey(KindDeadLetter, dl.ID), raw, DeadLetterTTL)
		p.ZAdd(ctx, s.deadLettersIdx(dl.SubscriptionID), redis.Z{Member: indexMember(dl.At, dl.ID)})
		// The records expire; their index entries go with the next dead letter after.
		p.ZRemRangeByLex(ctx, s.deadLettersIdx(dl.SubscriptionID), "-", "("+indexMember(dl.At-DeadLetterTTL.Milliseconds(), ""))
		return nil
	})
	if err != nil {
		return fmt.Errorf("record dead letter of %s: %w", dl.SubscriptionID, err)
	}
	return nil
}

// GetDeadLetter reads a dead letter.
func (s *Store) GetDeadLetter(ctx context.Context, id string) (*DeadLetter, error) {
	return Get[DeadLetter](ctx, s, KindDeadLetter, id)
}

// ListDeadLetters pages through a subscription's dead letters, oldest first.
func (s *Store) ListDeadLetters(ctx context.Context, subscriptionID string, size int, cursor string) (Page[DeadLetter], error) {
	return List[DeadLetter](ctx, s, s.deadLettersIdx(subscriptionID), KindDeadLetter, size, cursor)
}

// ReplayDeadLetter puts a dead letter back for delivery to its subscription (and only to
// it) and removes it, in one transaction: a dispatcher reads it from ReplayStream. A
// delivery that fails again makes a new dead letter.
func (s *Store) ReplayDeadLetter(ctx context.Context, id string) error {
	key := s.entityKey(KindDeadLetter, id)
	for attempt := 0; attempt < 50; attempt++ {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			dl, err := Get[DeadLetter](ctx, s, KindDeadLetter, id)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Del(ctx, key)
				p.ZRem(ctx, s.deadLettersIdx(dl.SubscriptionID), indexMember(dl.At, dl.ID))
				p.XAdd(ctx, &redis.XAddArgs{Stream: s.ReplayStream(), MaxLen: replayMaxLen, Approx: true,
					Values: []any{"sub", dl.SubscriptionID, "ce", string(dl.Event), "dl", dl.ID}})
				return nil
			})
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return fmt.Errorf("replay dead letter %s: %w", id, err)
		}
		return nil
	}
	return fmt.Errorf("replay dead letter %s: too much contention", id)
}

// replayMaxLen bounds ReplayStream.
const replayMaxLen = 100_000
