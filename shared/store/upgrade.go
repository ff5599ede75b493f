package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
)

// Migrate brings what an earlier Photon wrote under prefix to this one's layout before a
// part reads it: keys move to their hash-tagged spaces (keyspace.Migrate), then each step
// of upgrades runs once per Redis (a marker key per step). Every step is idempotent and
// safe beside parts already running, so parts starting together may all run it. It
// returns the counts of keyspace.Migrate.
func Migrate(ctx context.Context, rdb redis.UniversalClient, prefix string) (moved, kept int, err error) {
	if moved, kept, err = keyspace.Migrate(ctx, rdb, prefix); err != nil {
		return moved, kept, fmt.Errorf("move keys to the hash-tagged layout: %w", err)
	}
	s := New(rdb, prefix)
	for _, u := range upgrades {
		marker := s.key("upgraded", u.name)
		if n, err := rdb.Exists(ctx, marker).Result(); err != nil || n == 1 {
			if err != nil {
				return moved, kept, err
			}
			continue
		}
		if err := u.run(s, ctx); err != nil {
			return moved, kept, fmt.Errorf("upgrade %s: %w", u.name, err)
		}
		if err := rdb.Set(ctx, marker, "1", 0).Err(); err != nil {
			return moved, kept, err
		}
	}
	return moved, kept, nil
}

// upgrades are the steps Migrate runs, in order.
var upgrades = []struct {
	name string
	run  func(*Store, context.Context) error
}{
	{"placed", (*Store).indexPlaced},
}

// placeOne adds a reservation's VM to its host's placed index if the reservation is still
// the one read. KEYS reservation, placed index; ARGV reservation JSON, VM id.
var placeOne = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SADD', KEYS[2], ARGV[2]) end
return 0
`)

// indexPlaced fills the hosts' placed indexes from the reservations made before the
// reservation scripts kept them.
func (s *Store) indexPlaced(ctx context.Context) error {
	prefix := s.hostResvKey("")
	return keyspace.Scan(ctx, s.rdb, keyspace.GlobEscape(prefix)+"*", "string", func(key string) error {
		raw, err := s.rdb.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return nil // released meanwhile
		}
		if err != nil {
			return err
		}
		var r model.HostReservation
		if err := codec.Unmarshal([]byte(raw), &r); err != nil {
			return fmt.Errorf("decode %s: %w", key, err)
		}
		return placeOne.Run(ctx, s.rdb, []string{key, s.placedIdx(r.HostID)}, raw, key[len(prefix):]).Err()
	})
}
