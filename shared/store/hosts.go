package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
)

// Placement capacity of a host lives in its own hash, photon:hostcap:{id}: cpu_total and
// mem_total (from registration), cpu_used and mem_used (Photon's reservations), vms.
func (s *Store) hostsIdx() string             { return s.Key("idx", "hosts") }
func (s *Store) hostCapKey(id string) string  { return s.Key("hostcap", id) }
func (s *Store) hostResvKey(vm string) string { return s.Key("resv", "host", vm) }

// RegisterHost writes (or rewrites) a host's record and its capacity totals. Reservations
// already counted on the host are kept.
func (s *Store) RegisterHost(ctx context.Context, h Host) error {
	if h.RegisteredAt == 0 {
		h.RegisteredAt = s.Now()
	}
	if h.LastHeartbeat == 0 {
		h.LastHeartbeat = h.RegisteredAt
	}
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, s.entityKey(KindHost, h.ID), raw, 0)
		p.ZAdd(ctx, s.hostsIdx(), redis.Z{Member: h.ID})
		p.HSet(ctx, s.hostCapKey(h.ID), "cpu_total", h.CPUCores, "mem_total", h.MemoryMB)
		return nil
	})
	if err != nil {
		return fmt.Errorf("register host %s: %w", h.ID, err)
	}
	return nil
}

// HeartbeatHost records what the host measured and when.
func (s *Store) HeartbeatHost(ctx context.Context, id string, u HostUsage) error {
	_, err := Update(ctx, s, KindHost, id, func(h *Host) error {
		h.LastHeartbeat = s.Now()
		if len(u.Datastores) > 0 {
			h.Datastores = u.Datastores
		}
		u.Datastores = nil
		h.Usage = u
		return nil
	})
	return err
}

// GetHost reads a host record.
func (s *Store) GetHost(ctx context.Context, id string) (*Host, error) {
	return Get[Host](ctx, s, KindHost, id)
}

// ListHosts reads every host record.
func (s *Store) ListHosts(ctx context.Context) ([]*Host, error) {
	ids, err := s.rdb.ZRange(ctx, s.hostsIdx(), 0, -1).Result()
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.entityKey(KindHost, id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	hosts := make([]*Host, 0, len(vals))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		h := new(Host)
		if err := json.Unmarshal([]byte(str), h); err != nil {
			return nil, err
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}

// HostCapacity is what Photon has reserved on a host against its totals.
type HostCapacity struct {
	CPUTotal, CPUUsed int64
	MemTotal, MemUsed int64
	VMs               int64
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
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, s.hostCapKey(id), "cpu_total", "cpu_used", "mem_total", "mem_used", "vms")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read host capacities: %w", err)
	}
	out := make([]HostCapacity, len(ids))
	for i, c := range cmds {
		v := c.Val()
		n := func(j int) int64 { s, _ := v[j].(string); x, _ := strconv.ParseInt(s, 10, 64); return x }
		out[i] = HostCapacity{n(0), n(1), n(2), n(3), n(4)}
	}
	return out, nil
}

// HostReservation is what placement reserved for one VM.
type HostReservation struct {
	HostID    string `json:"hostId"`
	Datastore string `json:"datastore"`
	CPU       int64  `json:"cpu"`
	MemoryMB  int64  `json:"memoryMb"`
}

// reserveHost: KEYS hostcap, reservation; ARGV cpu, mem, cpu ratio, mem ratio, reservation
// JSON. Re-verifies capacity at commit time, so concurrent placements never over-commit.
var reserveHost = redis.NewScript(`
local cur = redis.call('GET', KEYS[2])
if cur then return {'exists', cur} end
local cap = redis.call('HMGET', KEYS[1], 'cpu_total', 'cpu_used', 'mem_total', 'mem_used')
if not cap[1] then return {'nohost', ''} end
local cpu, mem = tonumber(ARGV[1]), tonumber(ARGV[2])
if tonumber(cap[2] or '0') + cpu > tonumber(cap[1]) * tonumber(ARGV[3]) then return {'cpu', ''} end
if tonumber(cap[4] or '0') + mem > tonumber(cap[3]) * tonumber(ARGV[4]) then return {'mem', ''} end
redis.call('HINCRBY', KEYS[1], 'cpu_used', cpu)
redis.call('HINCRBY', KEYS[1], 'mem_used', mem)
redis.call('HINCRBY', KEYS[1], 'vms', 1)
redis.call('SET', KEYS[2], ARGV[5])
return {'ok', ARGV[5]}
`)

var releaseHost = redis.NewScript(`
local cur = redis.call('GET', KEYS[2])
if not cur or cur ~= ARGV[3] then return 0 end
redis.call('HINCRBY', KEYS[1], 'cpu_used', -tonumber(ARGV[1]))
redis.call('HINCRBY', KEYS[1], 'mem_used', -tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], 'vms', -1)
redis.call('DEL', KEYS[2])
return 1
`)

// ErrHostFull is returned by ReserveHost when the host has no room left.
var ErrHostFull = errors.New("host has no room")

// ReserveHost reserves r's CPU and memory on r.HostID for vm, within the host's totals times
// the overcommit ratios. When vm already holds a reservation, that one is returned.
func (s *Store) ReserveHost(ctx context.Context, vm string, r HostReservation, cpuRatio, memRatio float64) (HostReservation, error) {
	raw, _ := json.Marshal(r)
	res, err := reserveHost.Run(ctx, s.rdb, []string{s.hostCapKey(r.HostID), s.hostResvKey(vm)},
		r.CPU, r.MemoryMB, cpuRatio, memRatio, raw).StringSlice()
	if err != nil {
		return HostReservation{}, fmt.Errorf("reserve host %s: %w", r.HostID, err)
	}
	switch res[0] {
	case "ok", "exists":
		var got HostReservation
		err := json.Unmarshal([]byte(res[1]), &got)
		return got, err
	case "nohost":
		return HostReservation{}, errs.NotFound("Host", r.HostID)
	}
	return HostReservation{}, fmt.Errorf("%w: %s on %s", ErrHostFull, res[0], r.HostID)
}

// HostReservationOf reads vm's host reservation; ok is false when there is none.
func (s *Store) HostReservationOf(ctx context.Context, vm string) (r HostReservation, ok bool, err error) {
	raw, err := s.rdb.Get(ctx, s.hostResvKey(vm)).Bytes()
	if errors.Is(err, redis.Nil) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	return r, true, json.Unmarshal(raw, &r)
}

// ReleaseHost gives vm's reservation back to its host. It reports whether there was one.
func (s *Store) ReleaseHost(ctx context.Context, vm string) (bool, error) {
	r, ok, err := s.HostReservationOf(ctx, vm)
	if err != nil || !ok {
		return false, err
	}
	raw, _ := json.Marshal(r)
	n, err := releaseHost.Run(ctx, s.rdb, []string{s.hostCapKey(r.HostID), s.hostResvKey(vm)},
		r.CPU, r.MemoryMB, raw).Int()
	if err != nil {
		return false, fmt.Errorf("release host %s: %w", r.HostID, err)
	}
	return n == 1, nil
}
