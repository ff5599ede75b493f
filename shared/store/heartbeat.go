package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Heartbeats, at 10,000 hosts every 10 s, are the store's most frequent write: a heartbeat
// that changes nothing placement reads costs one script call. What a host measures (its
// usage, its datastores' space, the time of the beat) goes to photon:hostlive:{id}, a hash
// beside the host record that GetHost, GetHosts and ListHostsPage merge in, with the
// beat's time (unix ms, Photon's clock) from photon:idx:hosts:heartbeat:
//   - u: hostLive JSON;
//   - fp: placementPrint of the datastores the host last reported, once merged into the
//     record.
//
// The record itself, and the host change feed every placement index follows, are written
// only when what placement reads of them changes: the datastores' ids, types, tags or
// images, or a host in ERROR for missed heartbeats coming back READY. A placement index
// reads the heartbeats' times from photon:idx:hosts:heartbeat instead (HeartbeatsSince).

// hostLive is what a host's heartbeats measured: its usage (without datastores) and each
// datastore's capacity and free bytes, by name.
type hostLive struct {
	Usage model.HostUsage     `json:"u"`
	Space map[string][2]int64 `json:"ds,omitempty"`
}

// heartbeat records a heartbeat when the record need not change: the host is known and
// not in ERROR, and the datastores it reports (fingerprint ARGV[3], empty when it reports
// none) are the ones merged into the record last. It answers 0, writing nothing, when the
// record must change first; the caller then merges the report into the record and calls
// it again with ARGV[5] = '1' to take the fingerprint.
// KEYS: live, heartbeat index, hostcap. ARGV: id, now ms, fingerprint, hostLive JSON, merged.
var heartbeat = redis.NewScript(`
if ARGV[5] == '1' then
  if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'fp', ARGV[3]) end
else
  local st = redis.call('HGET', KEYS[3], 'state')
  if not st or st == 'ERROR' then return 0 end
  if ARGV[3] ~= '' and redis.call('HGET', KEYS[1], 'fp') ~= ARGV[3] then return 0 end
end
redis.call('HSET', KEYS[1], 'u', ARGV[4])
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[1])
return 1
`)

// HeartbeatHost records what the host measured and when, and brings the records of its
// VMs in line with the power states it reports (reconcilePower): of the VMs placed on it
// only, so a host rewrites no other host's VM. A host put in ERROR for missed heartbeats
// is READY again. The host record and the change feed are written only when what
// placement reads of the host changed (see above); otherwise it is one round trip. retry
// are the VMs whose power states could not be weighed yet (reconcilePower).
func (s *Store) HeartbeatHost(ctx context.Context, id string, u model.HostUsage) (retry []string, err error) {
	now := s.Now()
	fp := placementPrint(u.Datastores)
	live := hostLive{Usage: model.HostUsage{CPUUsedMhz: u.CPUUsedMhz, MemoryUsedMB: u.MemoryUsedMB, VMCount: u.VMCount}}
	if len(u.Datastores) > 0 {
		live.Space = make(map[string][2]int64, len(u.Datastores))
		for _, d := range u.Datastores {
			live.Space[d.Name] = [2]int64{d.CapacityBytes, d.FreeBytes}
		}
	}
	raw, err := codec.Marshal(live)
	if err != nil {
		return nil, err
	}
	keys := []string{s.hostLiveKey(id), s.heartbeatIdx(), s.hostCapKey(id)}
	done, err := heartbeat.Run(ctx, s.rdb, keys, id, now, fp, raw, 0).Int()
	if err != nil {
		return nil, fmt.Errorf("heartbeat host %s: %w", id, err)
	}
	if done == 0 {
		if err := s.mergeHeartbeat(ctx, id, now, live.Usage, u.Datastores); err != nil {
			return nil, err
		}
		if err := heartbeat.Run(ctx, s.rdb, keys, id, now, fp, raw, 1).Err(); err != nil {
			return nil, fmt.Errorf("heartbeat host %s: %w", id, err)
		}
	}
	if len(u.VMPower) == 0 {
		return nil, nil
	}
	return s.reconcilePower(ctx, id, u.VMPower, u.ReadAt)
}

// mergeHeartbeat merges the datastores a host reported into its record and brings it
// back from ERROR for missed heartbeats; the record is written, and the change published,
// only when that changed what placement reads.
func (s *Store) mergeHeartbeat(ctx context.Context, id string, now int64, u model.HostUsage, dss []model.Datastore) error {
	_, err := s.UpdateHost(ctx, id, func(h *model.Host) error {
		before := h.State + placementPrint(h.Datastores)
		if len(dss) > 0 {
			h.Datastores = mergeDatastores(h.Datastores, dss)
		}
		if h.State == model.HostError && h.StateReason == model.ReasonMissedHeartbeats {
			h.State, h.StateReason = model.HostReady, ""
		}
		if h.State+placementPrint(h.Datastores) == before {
			return ErrNoChange
		}
		h.LastHeartbeat, h.Usage = now, u
		return nil
	})
	return err
}

// placementPrint is a fingerprint of what placement reads of datastores: their ids,
// names, types, tags and images, in order ("" for none).
func placementPrint(dss []model.Datastore) string {
	if len(dss) == 0 {
		return ""
	}
	f := fnv.New64a()
	put := func(s string) {
		f.Write([]byte(s))
		f.Write([]byte{0})
	}
	for _, d := range dss {
		put(d.ID)
		put(d.Name)
		put(d.Type)
		for _, t := range d.Tags {
			put(t)
		}
		put("\x01")
		for _, img := range d.Images {
			put(img)
		}
		put("\x02")
	}
	return strconv.FormatUint(f.Sum64(), 36)
}

// mergeDatastores takes what the host measured and keeps what was set on Photon's side
// (tags, and the id when the host did not report one).
func mergeDatastores(old, cur []model.Datastore) []model.Datastore {
	byName := make(map[string]model.Datastore, len(old))
	for _, d := range old {
		byName[d.Name] = d
	}
	out := make([]model.Datastore, len(cur))
	for i, d := range cur {
		o := byName[d.Name]
		if len(d.Tags) == 0 {
			d.Tags = o.Tags
		}
		if d.ID == "" {
			d.ID = o.ID
		}
		out[i] = d
	}
	return out
}

// mergeLive brings hs up to their last heartbeats, in one round trip: the time, the
// usage and the datastores' space, where the heartbeats are newer than the record.
func (s *Store) mergeLive(ctx context.Context, hs ...*model.Host) error {
	if len(hs) == 0 {
		return nil
	}
	ats := make([]*redis.FloatCmd, len(hs))
	lives := make([]*redis.StringCmd, len(hs))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, h := range hs {
			ats[i] = p.ZScore(ctx, s.heartbeatIdx(), h.ID)
			lives[i] = p.HGet(ctx, s.hostLiveKey(h.ID), "u")
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read host heartbeats: %w", err)
	}
	for i, h := range hs {
		at, err := ats[i].Result()
		ms := int64(at)
		raw, lerr := lives[i].Result()
		if err != nil || lerr != nil || ms < h.LastHeartbeat {
			continue
		}
		var live hostLive
		if err := codec.Unmarshal([]byte(raw), &live); err != nil {
			return fmt.Errorf("decode heartbeat of host %s: %w", h.ID, err)
		}
		h.LastHeartbeat, h.Usage = ms, live.Usage
		for j := range h.Datastores {
			if sp, ok := live.Space[h.Datastores[j].Name]; ok {
				h.Datastores[j].CapacityBytes, h.Datastores[j].FreeBytes = sp[0], sp[1]
			}
		}
	}
	return nil
}

// HostBeat is when a host last heartbeat (unix ms).
type HostBeat struct {
	ID string
	At int64
}

// HeartbeatsSince returns the hosts whose last heartbeat is later than afterMs.
func (s *Store) HeartbeatsSince(ctx context.Context, afterMs int64) ([]HostBeat, error) {
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.heartbeatIdx(), &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(afterMs, 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("read heartbeats: %w", err)
	}
	out := make([]HostBeat, len(zs))
	for i, z := range zs {
		out[i] = HostBeat{ID: z.Member.(string), At: int64(z.Score)}
	}
	return out, nil
}

// MarkStaleHosts puts READY hosts whose last heartbeat is older than beforeMs in ERROR
// (reason: missed heartbeats) and returns their ids. The heartbeat index says when a host
// last beat: heartbeats do not rewrite the record.
func (s *Store) MarkStaleHosts(ctx context.Context, beforeMs int64) ([]string, error) {
	ids, err := s.rdb.ZRangeByScore(ctx, s.heartbeatIdx(), &redis.ZRangeBy{Min: "-inf", Max: "(" + strconv.FormatInt(beforeMs, 10)}).Result()
	if err != nil {
		return nil, err
	}
	var marked []string
	for _, id := range ids {
		changed := false
		_, err := s.UpdateHost(ctx, id, func(h *model.Host) error {
			changed = false
			if h.State != model.HostReady || h.LastHeartbeat >= beforeMs {
				return ErrNoChange
			}
			if at, err := s.rdb.ZScore(ctx, s.heartbeatIdx(), id).Result(); err == nil && int64(at) >= beforeMs {
				return ErrNoChange // it beat since
			} else if err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
			h.State, h.StateReason = model.HostError, model.ReasonMissedHeartbeats
			changed = true
			return nil
		})
		switch {
		case errors.Is(err, errs.ErrNotFound):
			s.rdb.ZRem(ctx, s.heartbeatIdx(), id)
		case err != nil:
			return marked, err
		case changed:
			marked = append(marked, id)
		}
	}
	return marked, nil
}
