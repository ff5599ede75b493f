package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Placement policies of flavors and projects live beside their records, in one hash per
// kind (photon:placementpolicy:{kind}, field = entity id), so that the records' shape
// stays as it is. A VM takes its flavor's policy, else its project's (PlacementPolicyFor).
func (s *Store) placementKey(kind string) string { return s.Key("placementpolicy", kind) }

// SetPlacementPolicy sets the placement policy (PlacementSpread or PlacementPack) of the
// flavor or project kind/id; "" clears it. Callers set it before they create the entity,
// so whoever reads the entity reads its policy too.
func (s *Store) SetPlacementPolicy(ctx context.Context, kind, id, policy string) error {
	var err error
	if policy == "" {
		err = s.rdb.HDel(ctx, s.placementKey(kind), id).Err()
	} else {
		err = s.rdb.HSet(ctx, s.placementKey(kind), id, policy).Err()
	}
	if err != nil {
		return fmt.Errorf("set placement policy of %s %s: %w", kind, id, err)
	}
	return nil
}

// PlacementPolicies reads the placement policies of kind/ids in one round trip, "" for
// those without one.
func (s *Store) PlacementPolicies(ctx context.Context, kind string, ids ...string) ([]string, error) {
	out := make([]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	vals, err := s.rdb.HMGet(ctx, s.placementKey(kind), ids...).Result()
	if err != nil {
		return nil, fmt.Errorf("read placement policies of %s: %w", kind, err)
	}
	for i, v := range vals {
		out[i], _ = v.(string)
	}
	return out, nil
}

// PlacementPolicy reads the placement policy of kind/id, "" when it has none.
func (s *Store) PlacementPolicy(ctx context.Context, kind, id string) (string, error) {
	p, err := s.rdb.HGet(ctx, s.placementKey(kind), id).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read placement policy of %s %s: %w", kind, id, err)
	}
	return p, nil
}

// PlacementPolicyFor is the policy a VM of flavor and project is placed by: the
// flavor's, else the project's, else "" (spread), read in one round trip.
func (s *Store) PlacementPolicyFor(ctx context.Context, flavorID, projectID string) (string, error) {
	var f, p *redis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		f = pl.HGet(ctx, s.placementKey(KindFlavor), flavorID)
		p = pl.HGet(ctx, s.placementKey(KindProject), projectID)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("read placement policy: %w", err)
	}
	if v := f.Val(); v != "" {
		return v, nil
	}
	return p.Val(), nil
}
