package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
)

// DefaultPrefix starts every key Photon writes.
const DefaultPrefix = "photon:"

// Store reads and writes Photon's state in Redis.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
	// space starts every key of the store: the prefix and the store's hash tag
	// (keyspace.Space), so that on a Redis Cluster every script's keys share a slot.
	space string
	now   func() time.Time
	// replicas and replicaTimeout are what a write that starts a task waits for
	// (WaitForReplicas).
	replicas       int
	replicaTimeout time.Duration
}

// New returns a Store on rdb whose keys start with prefix (DefaultPrefix when empty).
func New(rdb redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{rdb: rdb, prefix: prefix, space: keyspace.Space(prefix, keyspace.Store), now: time.Now}
}

// Prefix is the key prefix of this store, which the command that wires a process hands to
// the stores of the other key spaces.
func (s *Store) Prefix() string { return s.prefix }

// Now is the store's clock in Unix milliseconds.
func (s *Store) Now() int64 { return s.now().UnixMilli() }

// key joins parts under the store's key space: key("vm", id) = "photon:{store}:vm:<id>". It is
// unexported so that no other package builds keys in the store's key space: the auth,
// pki, broker and notifier stores are handed the client and the prefix by the command
// that wires them, and keep to key spaces of their own.
func (s *Store) key(parts ...string) string { return s.space + strings.Join(parts, ":") }

func (s *Store) entityKey(kind, id string) string { return s.key(kind, id) }

// versionKey names the version of all the entities of kind: a value that changes whenever
// one is created or deleted, so that a cache of them all (the notifier's subscriptions,
// the rule engine's rules) reloads only then.
func (s *Store) versionKey(kind string) string { return s.key("ver", kind) }

// bumpVersion adds a new version of kind to b.
func (s *Store) bumpVersion(b *Batch, kind string) *Batch {
	return b.Put(s.versionKey(kind), uuid.NewString())
}

// Version reads the version of kind's entities ("" before the first change).
func (s *Store) Version(ctx context.Context, kind string) (string, error) {
	v, err := s.rdb.Get(ctx, s.versionKey(kind)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// Get reads the entity kind/id into a new T; a missing entity is errs.NotFound.
func Get[T any](ctx context.Context, s *Store, kind, id string) (*T, error) {
	v, _, err := GetRaw[T](ctx, s, kind, id)
	return v, err
}

// GetRaw is Get that also returns the stored bytes, the version UpdateFrom starts from.
func GetRaw[T any](ctx context.Context, s *Store, kind, id string) (*T, []byte, error) {
	if id == "" {
		return nil, nil, errs.NotFound(kindName(kind), id)
	}
	b, err := s.rdb.Get(ctx, s.entityKey(kind, id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil, errs.NotFound(kindName(kind), id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("get %s %s: %w", kind, id, err)
	}
	v := new(T)
	if err := codec.Unmarshal(b, v); err != nil {
		return nil, nil, fmt.Errorf("decode %s %s: %w", kind, id, err)
	}
	return v, b, nil
}

// ErrNoChange, returned by an Update callback, ends the update without writing.
var ErrNoChange = errors.New("no change")

// compareAndSet writes ARGV[2] at KEYS[1] if it still holds ARGV[1]: an optimistic
// update in one round trip, where WATCH/MULTI/EXEC takes three and a connection of its own.
// With KEYS[2] (the outbox) and ARGV[3] (its bound) it records the change there.
var compareAndSet = redis.NewScript(outboxLua + `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  if KEYS[2] then outbox(KEYS[2], ARGV[3], KEYS[1], ARGV[2], ARGV[1]) end
  return 1
end
return 0
`)

// Update reads kind/id, applies fn and writes the result back, atomically with respect to
// other writers of the same entity (compare-and-set, retried on conflict).
func Update[T any](ctx context.Context, s *Store, kind, id string, fn func(*T) error) (*T, error) {
	v, _, err := UpdateFrom(ctx, s, kind, id, nil, fn)
	return v, err
}

// UpdateFrom is Update starting from raw, the stored bytes read earlier (GetRaw or a
// previous UpdateFrom): when nobody wrote since, it takes one round trip instead of two.
// It returns the bytes it wrote (or found, when fn made no change).
func UpdateFrom[T any](ctx context.Context, s *Store, kind, id string, raw []byte, fn func(*T) error) (*T, []byte, error) {
	key := s.entityKey(kind, id)
	for attempt := 0; attempt < 50; attempt++ {
		b := raw
		raw = nil
		if b == nil {
			var err error
			b, err = s.rdb.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				return nil, nil, errs.NotFound(kindName(kind), id)
			}
			if err != nil {
				return nil, nil, err
			}
		}
		v := new(T)
		if err := codec.Unmarshal(b, v); err != nil {
			return nil, nil, fmt.Errorf("decode %s %s: %w", kind, id, err)
		}
		state, quiet := outboxState(v)
		if err := fn(v); err != nil {
			if errors.Is(err, ErrNoChange) {
				return v, b, nil
			}
			return nil, nil, err
		}
		nb, err := encodeRecord(v)
		if err != nil {
			return nil, nil, err
		}
		keys, args := []string{key}, []any{b, nb}
		if now, _ := outboxState(v); !quiet || now != state {
			keys, args = append(keys, s.OutboxStream()), append(args, OutboxMaxLen)
		}
		swapped, err := compareAndSet.Run(ctx, s.rdb, keys, args...).Int()
		if err != nil {
			return nil, nil, fmt.Errorf("update %s %s: %w", kind, id, err)
		}
		if swapped == 1 {
			return v, nb, nil
		}
	}
	return nil, nil, fmt.Errorf("update %s %s: too much contention", kind, id)
}

// kindName is how a kind is named in messages: "vm" → "Vm".
func kindName(kind string) string {
	if kind == "" {
		return kind
	}
	return strings.ToUpper(kind[:1]) + kind[1:]
}

// indexMember orders index entries by creation time, then id.
func indexMember(createdMs int64, id string) string {
	return fmt.Sprintf("%013d|%s", createdMs, id)
}

func memberID(m string) string {
	if i := strings.IndexByte(m, '|'); i >= 0 {
		return m[i+1:]
	}
	return m
}

// Page is one page of a list.
type Page[T any] struct {
	Items []*T
	// Next is the opaque cursor of the next page, "" on the last page.
	Next string
}

// MaxPageSize caps page sizes; DefaultPageSize is used when none is asked for.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// List reads one page of the index at indexKey, whose members name entities of kind.
// cursor is "" for the first page or a previous page's Next.
func List[T any](ctx context.Context, s *Store, indexKey, kind string, size int, cursor string) (Page[T], error) {
	if size <= 0 {
		size = DefaultPageSize
	}
	size = min(size, MaxPageSize)
	start := "-"
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return Page[T]{}, errs.Invalid("invalid page link")
		}
		start = "(" + string(b)
	}
	members, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: indexKey, Start: start, Stop: "+", ByLex: true, Count: int64(size + 1),
	}).Result()
	if err != nil {
		return Page[T]{}, fmt.Errorf("list %s: %w", indexKey, err)
	}
	var page Page[T]
	if len(members) > size {
		members = members[:size]
		page.Next = base64.RawURLEncoding.EncodeToString([]byte(members[size-1]))
	}
	if len(members) == 0 {
		return page, nil
	}
	keys := make([]string, len(members))
	for i, m := range members {
		keys[i] = s.entityKey(kind, memberID(m))
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return Page[T]{}, fmt.Errorf("list %s: %w", indexKey, err)
	}
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // deleted between ZRANGE and MGET
		}
		item := new(T)
		if err := codec.Unmarshal([]byte(str), item); err != nil {
			return Page[T]{}, fmt.Errorf("decode %s: %w", kind, err)
		}
		page.Items = append(page.Items, item)
	}
	return page, nil
}
