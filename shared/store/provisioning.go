package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/model"
)

// A host registered through the API is provisioned (its hostd started) by a gateway that
// holds a lease on it; the work is recorded in Redis, so that any gateway can see it and
// take it over when the lease runs out (the gateway died) or is given back (it closed):
//   - photon:provision:{id}: a hash of rec (the Provisioning, JSON), owner (the gateway
//     holding the lease) and until (when the lease ends, Unix ms);
//   - photon:provisioning: the sorted set of the hosts being provisioned.
//
// The record holds the ESXi password the provisioner needs; it is deleted when the
// provisioning ends, so the password is kept only while a host is CREATING.

// Provisioning is a host's provisioning in progress: the host to provision, the task that
// tracks it and how to reach the ESXi host.
type Provisioning struct {
	Host     model.Host `json:"host"`
	TaskID   string     `json:"taskId"`
	Address  string     `json:"address"`
	Username string     `json:"username"`
	Password string     `json:"password"`
}

// A Lease names who holds a provisioning, and until when.
type Lease struct {
	Owner string
	For   time.Duration
}

func (s *Store) provisionKey(id string) string { return s.key("provision", id) }
func (s *Store) provisioningIdx() string       { return s.key("provisioning") }

// addProvisioning adds to b the writes that record p, leased to l.
func (s *Store) addProvisioning(b *Batch, p *Provisioning, l Lease) *Batch {
	raw, err := codec.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("store: encode provisioning: %v", err)) // a Host always encodes
	}
	until := s.now().Add(l.For).UnixMilli()
	return b.HashSet(s.provisionKey(p.Host.ID), map[string]string{"rec": string(raw), "owner": l.Owner,
		"until": strconv.FormatInt(until, 10)}).Index(s.provisioningIdx(), p.Host.ID)
}

// claimProvisioning: KEYS the record; ARGV owner, now, until. The record's lease is taken
// by owner if it has ended; returns the record or false.
var claimProvisioning = redis.NewScript(`
local h = redis.call('HMGET', KEYS[1], 'rec', 'owner', 'until')
if not h[1] then return false end
if tonumber(h[3] or '0') > tonumber(ARGV[2]) then return false end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'until', ARGV[3])
return h[1]
`)

// renewProvisioning: KEYS the record; ARGV owner, until. 1 if owner still holds the lease
// (now extended), 0 if it lost it.
var renewProvisioning = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'until', ARGV[2])
return 1
`)

// ClaimProvisioning takes the lease on host id's provisioning if nobody holds it (its
// lease ended) and returns the provisioning; ok is false when another gateway holds it
// or it has ended.
func (s *Store) ClaimProvisioning(ctx context.Context, id string, l Lease) (p *Provisioning, ok bool, err error) {
	now := s.now()
	raw, err := claimProvisioning.Run(ctx, s.rdb, []string{s.provisionKey(id)}, l.Owner, now.UnixMilli(),
		now.Add(l.For).UnixMilli()).Text()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("claim provisioning of %s: %w", id, err)
	}
	p = new(Provisioning)
	if err := codec.Unmarshal([]byte(raw), p); err != nil {
		return nil, false, fmt.Errorf("decode provisioning of %s: %w", id, err)
	}
	return p, true, nil
}

// RenewProvisioning extends l on host id's provisioning; false when l.Owner no longer
// holds it (it was taken over).
func (s *Store) RenewProvisioning(ctx context.Context, id string, l Lease) (bool, error) {
	n, err := renewProvisioning.Run(ctx, s.rdb, []string{s.provisionKey(id)}, l.Owner, s.now().Add(l.For).UnixMilli()).Int()
	if err != nil {
		return false, fmt.Errorf("renew provisioning of %s: %w", id, err)
	}
	return n == 1, nil
}

// ReleaseProvisioning gives back owner's lease on host id's provisioning at once, for
// another gateway to take over (the owner is closing).
func (s *Store) ReleaseProvisioning(ctx context.Context, id, owner string) error {
	_, err := renewProvisioning.Run(ctx, s.rdb, []string{s.provisionKey(id)}, owner, 0).Result()
	if err != nil {
		return fmt.Errorf("release provisioning of %s: %w", id, err)
	}
	return nil
}

// EndProvisioning deletes host id's provisioning record (and with it the password).
func (s *Store) EndProvisioning(ctx context.Context, id string) error {
	return s.Apply(ctx, new(Batch).Del(s.provisionKey(id)).Unindex(s.provisioningIdx(), id))
}

// Provisionings lists the hosts being provisioned.
func (s *Store) Provisionings(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.ZRange(ctx, s.provisioningIdx(), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list provisionings: %w", err)
	}
	return ids, nil
}

// ProvisioningTask is the task provisioning host id; ok is false when none is.
func (s *Store) ProvisioningTask(ctx context.Context, id string) (task string, ok bool, err error) {
	raw, err := s.rdb.HGet(ctx, s.provisionKey(id), "rec").Bytes()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read provisioning of %s: %w", id, err)
	}
	var p Provisioning
	if err := codec.Unmarshal(raw, &p); err != nil {
		return "", false, fmt.Errorf("decode provisioning of %s: %w", id, err)
	}
	return p.TaskID, true, nil
}
