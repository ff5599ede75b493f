package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Host keys:
//   - photon:host:{id}: the host record (JSON);
//   - photon:idx:hosts: every host id;
//   - photon:hostcap:{id}: placement counters, a hash: cpu_total and mem_total (from the
//     record), cpu_used, mem_used and vms (Photon's reservations), and per datastore
//     ds:{name}:total and ds:{name}:used in MB, and ver, counting their changes;
//   - photon:hosts:gen and photon:idx:hosts:changed: a change feed; every write of a host
//     record takes the next generation and scores the host with it, so a placement index
//     reloads only the hosts changed since the generation it has seen (a heartbeat writes
//     the record only when what placement reads of it changed);
//   - photon:idx:hosts:heartbeat: host ids scored by their last heartbeat (unix ms);
//   - photon:hostlive:{id}: what heartbeats measure, beside the record so that a heartbeat
//     does not rewrite it (heartbeat.go); every read of a host record merges it in;
//   - photon:resv:host:{vm}: a VM's reservation;
//   - photon:idx:placed:{id}: the ids of the VMs and persistent disks holding a
//     reservation on the host, written by the reservation scripts with the reservation:
//     what is on a host is read without a walk of the fleet (VMsOnHost);
//   - photon:aag:{project}:{group}: members of an anti-affinity group per host.
func (s *Store) hostsIdx() string             { return s.key("idx", "hosts") }
func (s *Store) hostCapKey(id string) string  { return s.key("hostcap", id) }
func (s *Store) hostResvKey(vm string) string { return s.key("resv", "host", vm) }
func (s *Store) hostsGenKey() string          { return s.key("hosts", "gen") }
func (s *Store) hostsChangedIdx() string      { return s.key("idx", "hosts", "changed") }
func (s *Store) heartbeatIdx() string         { return s.key("idx", "hosts", "heartbeat") }
func (s *Store) hostLiveKey(id string) string { return s.key("hostlive", id) }
func (s *Store) placedIdx(id string) string   { return s.key("idx", "placed", id) }

// GroupKey is the key of an anti-affinity group's per-host counts.
func (s *Store) GroupKey(project, group string) string { return s.key("aag", project, group) }

// putHost writes a host record, its capacity totals and its change-feed entry, and
// records a new host or a change of its state in the outbox. The record carries what the
// host measured: the heartbeats' hash is dropped.
// KEYS: record, hosts index, hostcap, gen, changed, heartbeat, outbox, live. ARGV: id,
// record JSON, heartbeat ms, then field/value pairs of totals.
var putHost = redis.NewScript(outboxLua + `
local old = redis.call('GET', KEYS[1])
if not old or cjson.decode(old).state ~= cjson.decode(ARGV[2]).state then
  outbox(KEYS[7], '` + strconv.Itoa(OutboxMaxLen) + `', KEYS[1], ARGV[2], old)
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[8])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
local g = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[5], g, ARGV[1])
redis.call('ZADD', KEYS[6], tonumber(ARGV[3]), ARGV[1])
if #ARGV > 3 then redis.call('HSET', KEYS[3], unpack(ARGV, 4)) end
return g
`)

// PutHost writes h and publishes the change to placement indexes.
func (s *Store) PutHost(ctx context.Context, h *model.Host) error {
	raw, err := codec.Marshal(h)
	if err != nil {
		return err
	}
	args := []any{h.ID, raw, h.LastHeartbeat, "cpu_total", h.CPUCores, "mem_total", h.MemoryMB, "state", h.State}
	for _, d := range h.Datastores {
		args = append(args, "ds:"+d.Name+":total", d.CapacityBytes>>20)
	}
	err = putHost.Run(ctx, s.rdb, []string{s.entityKey(model.KindHost, h.ID), s.hostsIdx(), s.hostCapKey(h.ID),
		s.hostsGenKey(), s.hostsChangedIdx(), s.heartbeatIdx(), s.OutboxStream(), s.hostLiveKey(h.ID)}, args...).Err()
	if err != nil {
		return fmt.Errorf("write host %s: %w", h.ID, err)
	}
	return nil
}

// RegisterHost writes (or rewrites) what a hostd reports of its host. Reservations counted
// on the host are kept, and so is what an administrator set: a host in MAINTENANCE or
// SUSPENDED stays so, and a zone, tags or metadata set through the API win over hostd's.
func (s *Store) RegisterHost(ctx context.Context, h model.Host) error {
	now := s.Now()
	if h.RegisteredAt == 0 {
		h.RegisteredAt = now
	}
	if h.LastHeartbeat == 0 {
		h.LastHeartbeat = now
	}
	if h.State == "" {
		h.State = model.HostReady
	}
	if old, err := s.GetHost(ctx, h.ID); err == nil {
		h.RegisteredAt = old.RegisteredAt
		if old.State == model.HostMaintenance || old.State == model.HostSuspended {
			h.State = old.State
		}
		if old.AvailabilityZone != "" {
			h.AvailabilityZone = old.AvailabilityZone
		}
		if len(old.Tags) > 0 && old.State == model.HostCreating {
			h.Tags = old.Tags
		}
		if h.Metadata == nil {
			h.Metadata = old.Metadata
		}
	} else if !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	if err := s.PutHost(ctx, &h); err != nil {
		return fmt.Errorf("register host %s: %w", h.ID, err)
	}
	return nil
}

// UpdateHost changes a host record with fn (compare-and-set) and publishes the change.
func (s *Store) UpdateHost(ctx context.Context, id string, fn func(*model.Host) error) (*model.Host, error) {
	var changed bool
	h, err := Update(ctx, s, model.KindHost, id, func(h *model.Host) error {
		changed = false
		if err := fn(h); err != nil {
			return err
		}
		changed = true
		return nil
	})
	if err != nil || !changed {
		return h, err
	}
	return h, s.touchHost(ctx, id, h.LastHeartbeat, h.State)
}

// touchHost: KEYS gen, changed, heartbeat, hostcap; ARGV id, heartbeat ms, state (empty
// when the host is gone). The state goes into the counters too, for the reservation
// script to refuse a host that has left READY since the index last looked, and for a
// heartbeat to see that it has a host in ERROR to bring back. The record's heartbeat may
// be older than the heartbeats' (they do not rewrite it): it never moves the score back.
var touchHost = redis.NewScript(`
local g = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], g, ARGV[1])
if ARGV[3] ~= '' then
  local at = redis.call('ZSCORE', KEYS[3], ARGV[1])
  if not at or tonumber(at) < tonumber(ARGV[2]) then redis.call('ZADD', KEYS[3], tonumber(ARGV[2]), ARGV[1]) end
  redis.call('HSET', KEYS[4], 'state', ARGV[3])
end
return g
`)

func (s *Store) touchHost(ctx context.Context, id string, heartbeat int64, state string) error {
	return touchHost.Run(ctx, s.rdb, []string{s.hostsGenKey(), s.hostsChangedIdx(), s.heartbeatIdx(), s.hostCapKey(id)},
		id, heartbeat, state).Err()
}

// HostChanges returns the hosts written after generation since, and the generation they
// bring the caller to.
func (s *Store) HostChanges(ctx context.Context, since int64) (ids []string, gen int64, err error) {
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, s.hostsChangedIdx(), &redis.ZRangeBy{
		Min: "(" + strconv.FormatInt(since, 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, since, err
	}
	gen = since
	for _, z := range zs {
		ids = append(ids, z.Member.(string))
		gen = max(gen, int64(z.Score))
	}
	return ids, gen, nil
}

// HostGeneration is the current generation of the host change feed.
func (s *Store) HostGeneration(ctx context.Context) (int64, error) {
	g, err := s.rdb.Get(ctx, s.hostsGenKey()).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return g, err
}

// GetHost reads a host record, with what its heartbeats measured.
func (s *Store) GetHost(ctx context.Context, id string) (*model.Host, error) {
	h, err := Get[model.Host](ctx, s, model.KindHost, id)
	if err != nil {
		return nil, err
	}
	return h, s.mergeLive(ctx, h)
}

// ListHosts reads every host record.
func (s *Store) ListHosts(ctx context.Context) ([]*model.Host, error) {
	ids, err := s.rdb.ZRange(ctx, s.hostsIdx(), 0, -1).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	return s.GetHosts(ctx, ids...)
}

// GetHosts reads the records of ids, with what their heartbeats measured, in two round
// trips; missing hosts are left out.
func (s *Store) GetHosts(ctx context.Context, ids ...string) ([]*model.Host, error) {
	hs, err := getMany[model.Host](ctx, s, model.KindHost, ids)
	if err != nil {
		return nil, err
	}
	return hs, s.mergeLive(ctx, hs...)
}

// DeleteHost removes a host's record, counters and index entries. The caller checks that
// no VM is left on it.
func (s *Store) DeleteHost(ctx context.Context, id string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, s.entityKey(model.KindHost, id), s.hostCapKey(id), s.hostLiveKey(id), s.placedIdx(id))
		p.ZRem(ctx, s.hostsIdx(), id)
		p.ZRem(ctx, s.heartbeatIdx(), id)
		return nil
	})
	if err != nil {
		return err
	}
	return s.touchHost(ctx, id, 0, "")
}

// HostCapacity is what Photon has reserved on a host against its totals. Datastore
// amounts are in MB.
type HostCapacity struct {
	CPUTotal, CPUUsed int64
	MemTotal, MemUsed int64
	VMs               int64
	Ver               int64 // incremented by every reservation and release
	Datastores        map[string]DatastoreCapacity
}

// DatastoreCapacity is what Photon has reserved on a datastore, in MB.
type DatastoreCapacity struct{ Total, Used int64 }

func parseCapacity(m map[string]string) HostCapacity {
	n := func(k string) int64 { x, _ := strconv.ParseInt(m[k], 10, 64); return x }
	c := HostCapacity{CPUTotal: n("cpu_total"), CPUUsed: n("cpu_used"), MemTotal: n("mem_total"),
		MemUsed: n("mem_used"), VMs: n("vms"), Ver: n("ver")}
	for k, v := range m {
		name, ok := strings.CutPrefix(k, "ds:")
		if !ok {
			continue
		}
		i := strings.LastIndexByte(name, ':')
		if i < 0 {
			continue
		}
		if c.Datastores == nil {
			c.Datastores = map[string]DatastoreCapacity{}
		}
		x, _ := strconv.ParseInt(v, 10, 64)
		d := c.Datastores[name[:i]]
		switch name[i+1:] {
		case "total":
			d.Total = x
		case "used":
			d.Used = x
		}
		c.Datastores[name[:i]] = d
	}
	return c
}

// GetHostCapacity reads a host's capacity counters.
func (s *Store) GetHostCapacity(ctx context.Context, id string) (HostCapacity, error) {
	caps, err := s.HostCapacities(ctx, id)
	if err != nil {
		return HostCapacity{}, err
	}
	return caps[0], nil
}

// HostCapacities reads the capacity and usage of many hosts in one round trip.
func (s *Store) HostCapacities(ctx context.Context, ids ...string) ([]HostCapacity, error) {
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.hostCapKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read host capacities: %w", err)
	}
	out := make([]HostCapacity, len(ids))
	for i, c := range cmds {
		out[i] = parseCapacity(c.Val())
	}
	return out, nil
}

// Ratios are the overcommit ratios a reservation is checked against: CPU, memory and
// datastore space (thin provisioning).
type Ratios struct{ CPU, Mem, Disk float64 }

// reserveHost: KEYS hostcap, reservation, group (or the reservation again when none),
// the host's placed index; ARGV cpu, mem, cpu ratio, mem ratio, reservation JSON,
// datastore, disk MB, disk ratio, host id, group cap (0: no cap), VM (or disk) id. Re-verifies capacity at commit time, so concurrent
// placements never over-commit. Answers status, reservation, and the host's counters after
// the call: cpu_used, mem_used, vms, datastore used.
var reserveHost = redis.NewScript(`
local cur = redis.call('GET', KEYS[2])
if cur then return {'exists', cur} end
local dsTotal, dsUsed = 'ds:' .. ARGV[6] .. ':total', 'ds:' .. ARGV[6] .. ':used'
local cap = redis.call('HMGET', KEYS[1], 'cpu_total', 'cpu_used', 'mem_total', 'mem_used', dsTotal, dsUsed, 'vms', 'ver', 'state')
if not cap[1] then return {'nohost', ''} end
local cpuUsed, memUsed, diskUsed = tonumber(cap[2] or '0'), tonumber(cap[4] or '0'), tonumber(cap[6] or '0')
local vms, ver = tonumber(cap[7] or '0'), tonumber(cap[8] or '0')
local cpu, mem, disk = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[7])
local function fail(why) return {why, '', cpuUsed, memUsed, vms, diskUsed, ver} end
if cap[9] and cap[9] ~= 'READY' then return fail('state') end
if cpuUsed + cpu > tonumber(cap[1]) * tonumber(ARGV[3]) then return fail('cpu') end
if memUsed + mem > tonumber(cap[3]) * tonumber(ARGV[4]) then return fail('memory') end
if disk > 0 then
  if not cap[5] then return fail('datastore') end
  if diskUsed + disk > tonumber(cap[5]) * tonumber(ARGV[8]) then return fail('datastore space') end
end
local grouped = KEYS[3] ~= KEYS[2]
local limit = tonumber(ARGV[10])
if grouped and limit > 0 then
  if tonumber(redis.call('HGET', KEYS[3], ARGV[9]) or '0') >= limit then return fail('anti-affinity') end
end
if grouped then redis.call('HINCRBY', KEYS[3], ARGV[9], 1) end
cpuUsed, memUsed, vms, ver = cpuUsed + cpu, memUsed + mem, vms + 1, ver + 1
if disk > 0 then
  diskUsed = diskUsed + disk
  redis.call('HSET', KEYS[1], 'cpu_used', cpuUsed, 'mem_used', memUsed, 'vms', vms, 'ver', ver, dsUsed, diskUsed)
else
  redis.call('HSET', KEYS[1], 'cpu_used', cpuUsed, 'mem_used', memUsed, 'vms', vms, 'ver', ver)
end
redis.call('SET', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[4], ARGV[11])
return {'ok', ARGV[5], cpuUsed, memUsed, vms, diskUsed, ver}
`)

// KEYS hostcap, reservation, group (or the reservation again), the host's placed index;
// ARGV cpu, mem, reservation JSON, datastore, disk MB, host id, VM (or disk) id.
var releaseHost = redis.NewScript(`
local cur = redis.call('GET', KEYS[2])
if not cur or cur ~= ARGV[3] then return 0 end
-- 0 - x, not -x: Lua's -0 reaches Redis as "-0", which HINCRBY refuses (a disk's
-- reservation holds no CPU or memory).
redis.call('HINCRBY', KEYS[1], 'cpu_used', 0 - tonumber(ARGV[1]))
redis.call('HINCRBY', KEYS[1], 'mem_used', 0 - tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], 'vms', -1)
redis.call('HINCRBY', KEYS[1], 'ver', 1)
if tonumber(ARGV[5]) > 0 then redis.call('HINCRBY', KEYS[1], 'ds:' .. ARGV[4] .. ':used', 0 - tonumber(ARGV[5])) end
if KEYS[3] ~= KEYS[2] then
  if redis.call('HINCRBY', KEYS[3], ARGV[6], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[6]) end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[4], ARGV[7])
return 1
`)

// reservationKeys are the keys of the reservation scripts: the host's counters, the VM's
// reservation, its anti-affinity group (the reservation again when it has none, which
// the scripts read as "no group") and the host's placed index.
func (s *Store) reservationKeys(vm string, r model.HostReservation) []string {
	group := s.hostResvKey(vm)
	if r.Group != "" {
		group = r.Group
	}
	return []string{s.hostCapKey(r.HostID), s.hostResvKey(vm), group, s.placedIdx(r.HostID)}
}

// ErrHostFull is returned by ReserveHost when the host has no room left.
var ErrHostFull = errors.New("host has no room")

// HostFullError says which resource was short on the host, with the host's counters as the
// reservation found them, so a placement index can catch up.
type HostFullError struct {
	Host, Resource string
	Counters       ReservedCounters
}

func (e *HostFullError) Error() string {
	return fmt.Sprintf("%s: %s on %s", ErrHostFull, e.Resource, e.Host)
}

// Unwrap makes errors.Is(err, ErrHostFull) hold.
func (e *HostFullError) Unwrap() error { return ErrHostFull }

// ReservedCounters are a host's counters right after a reservation: reserved vCPUs,
// memory MB, VMs and MB on the reservation's datastore, and Ver, which every reservation
// and release of the host increments (a reader keeps the counters of the highest Ver).
type ReservedCounters struct{ CPUUsed, MemUsed, VMs, DatastoreUsed, Ver int64 }

// ReserveHost reserves r's CPU, memory and disk on r.HostID and r.Datastore for vm, within
// the totals times the ratios, and counts the VM in its anti-affinity group (at most
// groupCap per host when groupCap > 0). When vm already holds a reservation, that one is
// returned. The counters are the host's after the call.
func (s *Store) ReserveHost(ctx context.Context, vm string, r model.HostReservation, ratios Ratios, groupCap int32) (model.HostReservation, ReservedCounters, error) {
	raw, _ := codec.Marshal(r)
	res, err := reserveHost.Run(ctx, s.rdb, s.reservationKeys(vm, r),
		r.CPU, r.MemoryMB, ratios.CPU, ratios.Mem, raw, r.Datastore, r.DiskMB, ratios.Disk, r.HostID, groupCap, vm).Slice()
	if err != nil {
		return model.HostReservation{}, ReservedCounters{}, fmt.Errorf("reserve host %s: %w", r.HostID, err)
	}
	status, _ := res[0].(string)
	c := ReservedCounters{Ver: -1} // none answered
	if len(res) >= 7 {
		n := func(v any) int64 { x, _ := v.(int64); return x }
		c = ReservedCounters{n(res[2]), n(res[3]), n(res[4]), n(res[5]), n(res[6])}
	}
	switch status {
	case "ok", "exists":
		var got model.HostReservation
		body, _ := res[1].(string)
		err := codec.Unmarshal([]byte(body), &got)
		return got, c, err
	case "nohost":
		return model.HostReservation{}, c, errs.NotFound("Host", r.HostID)
	}
	return model.HostReservation{}, c, &HostFullError{Host: r.HostID, Resource: status, Counters: c}
}

// HostReservationOf reads vm's host reservation; ok is false when there is none.
func (s *Store) HostReservationOf(ctx context.Context, vm string) (r model.HostReservation, ok bool, err error) {
	raw, err := s.rdb.Get(ctx, s.hostResvKey(vm)).Bytes()
	if errors.Is(err, redis.Nil) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	return r, true, codec.Unmarshal(raw, &r)
}

// ReleaseHost gives vm's reservation back to its host. It reports whether there was one.
func (s *Store) ReleaseHost(ctx context.Context, vm string) (bool, error) {
	r, ok, err := s.HostReservationOf(ctx, vm)
	if err != nil || !ok {
		return false, err
	}
	raw, _ := codec.Marshal(r)
	n, err := releaseHost.Run(ctx, s.rdb, s.reservationKeys(vm, r),
		r.CPU, r.MemoryMB, raw, r.Datastore, r.DiskMB, r.HostID, vm).Int()
	if err != nil {
		return false, fmt.Errorf("release host %s: %w", r.HostID, err)
	}
	return n == 1, nil
}

// GroupCounts reads how many members of an anti-affinity group each host holds.
func (s *Store) GroupCounts(ctx context.Context, key string) (map[string]int64, error) {
	return s.counts(ctx, key)
}

// counts reads a hash of counts.
func (s *Store) counts(ctx context.Context, key string) (map[string]int64, error) {
	m, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k], _ = strconv.ParseInt(v, 10, 64)
	}
	return out, nil
}
