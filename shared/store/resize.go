package store

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// resizeQuota: KEYS project quota hash, reservation key[, tenant quota hash]; ARGV key,
// value, unit triples of the new cost. It moves the reservation to the new cost: the
// increase of every line item is checked against the limits of each hash the reservation
// charged before anything changes; decreases always fit.
var resizeQuota = redis.NewScript(`
local r = redis.call('GET', KEYS[2])
if not r then return {'none'} end
local parts = {}
for p in string.gmatch(r, '[^\n]+') do parts[#parts+1] = p end
local first, scopes = 1, {{KEYS[1], 'project'}}
if parts[1] == '` + tenantMark + `' then
  first = 3
  if KEYS[3] then scopes[2] = {KEYS[3], 'tenant'} end
end
local delta, units = {}, {}
for i = first, #parts, 2 do delta[parts[i]] = (delta[parts[i]] or 0) - tonumber(parts[i+1]) end
for i = 1, #ARGV, 3 do
  delta[ARGV[i]] = (delta[ARGV[i]] or 0) + tonumber(ARGV[i+1])
  units[ARGV[i]] = ARGV[i+2]
end
for _, sc in ipairs(scopes) do
  for k, d in pairs(delta) do
    local lim = redis.call('HGET', sc[1], 'limit:' .. k)
    if d > 1e-9 and lim then
      local used = tonumber(redis.call('HGET', sc[1], 'used:' .. k) or '0')
      if used + d > tonumber(lim) + 1e-9 then
        return {'quota', k, tostring(used), lim, tostring(d), sc[2]}
      end
    end
  end
end
for _, sc in ipairs(scopes) do
  for k, d in pairs(delta) do
    if d > 1e-9 or d < -1e-9 then
      local v = tonumber(redis.call('HINCRBYFLOAT', sc[1], 'used:' .. k, tostring(d)))
      -- fractions of GB do not add up exactly: what comes to nothing is 0
      if v > -1e-9 and v < 1e-9 then redis.call('HSET', sc[1], 'used:' .. k, '0') end
    end
    if units[k] then redis.call('HSET', sc[1], 'unit:' .. k, units[k]) end
  end
end
local resv = {}
for i = 1, first - 1 do resv[i] = parts[i] end
for i = 1, #ARGV, 3 do
  resv[#resv+1] = ARGV[i]
  resv[#resv+1] = ARGV[i+1]
end
redis.call('SET', KEYS[2], table.concat(resv, '\n'))
return {'ok'}
`)

// ResizeQuota moves owner's reservation to cost (a VM's new flavor), charging or giving
// back the difference to the project and, if the reservation charged it, the tenant. An
// increase past a limit is a QuotaError and changes nothing; an owner with no reservation
// is a StateError. Resizing to the cost it has changes nothing.
func (s *Store) ResizeQuota(ctx context.Context, project, owner string, cost []model.QuotaLineItem) error {
	keys, ok, err := s.chargedKeys(ctx, project, owner)
	if err != nil {
		return err
	}
	if !ok {
		return errs.New(errs.CodeStateError, "%s holds no quota reservation", owner)
	}
	res, err := resizeQuota.Run(ctx, s.rdb, keys, costArgs(cost)...).StringSlice()
	if err != nil {
		return fmt.Errorf("resize quota: %w", err)
	}
	switch res[0] {
	case "none":
		return errs.New(errs.CodeStateError, "%s holds no quota reservation", owner)
	case "quota":
		return &errs.Error{Code: errs.CodeQuotaError,
			Message: fmt.Sprintf("Not enough quota in the %s: %s would grow by %s beyond its limit %s (%s in use)", res[5], res[1], res[4], res[3], res[2]),
			Data:    map[string]string{"key": res[1], "limit": res[3], "used": res[2], "requested": res[4], "scope": res[5]}}
	}
	return nil
}

// resizeHost: KEYS host counters, reservation; ARGV the reservation JSON as read, the new
// one, CPU and memory growth, CPU and memory ratios. The reservation must be the one read
// (a concurrent change retries); growth is checked against the host's totals times the
// ratios, shrinking always fits.
var resizeHost = redis.NewScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 'changed' end
local cap = redis.call('HMGET', KEYS[1], 'cpu_total', 'cpu_used', 'mem_total', 'mem_used')
local dc, dm = tonumber(ARGV[3]), tonumber(ARGV[4])
if dc > 0 and tonumber(cap[2] or '0') + dc > tonumber(cap[1] or '0') * tonumber(ARGV[5]) then return 'cpu' end
if dm > 0 and tonumber(cap[4] or '0') + dm > tonumber(cap[3] or '0') * tonumber(ARGV[6]) then return 'memory' end
redis.call('HINCRBY', KEYS[1], 'cpu_used', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'mem_used', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'ver', 1)
redis.call('SET', KEYS[2], ARGV[2])
return 'ok'
`)

// ResizeHost moves vm's host reservation to cpu vCPUs and memMB of memory on the same
// host, within the host's totals times ratios: NotEnoughCpuResource or
// NotEnoughMemoryResource (nothing changed) when the host cannot take the growth.
func (s *Store) ResizeHost(ctx context.Context, vm string, cpu, memMB int64, ratios Ratios) error {
	for range 20 {
		r, ok, err := s.HostReservationOf(ctx, vm)
		if err != nil {
			return err
		}
		if !ok {
			return errs.New(errs.CodeStateError, "%s holds no host reservation", vm)
		}
		old, _ := codec.Marshal(r)
		dc, dm := cpu-r.CPU, memMB-r.MemoryMB
		r.CPU, r.MemoryMB = cpu, memMB
		next, _ := codec.Marshal(r)
		res, err := resizeHost.Run(ctx, s.rdb, []string{s.hostCapKey(r.HostID), s.hostResvKey(vm)},
			old, next, dc, dm, ratios.CPU, ratios.Mem).Text()
		if err != nil {
			return fmt.Errorf("resize on host %s: %w", r.HostID, err)
		}
		switch res {
		case "ok":
			return nil
		case "cpu":
			return errs.New(errs.CodeNotEnoughCapacity, "host %s cannot take %d more vCPUs", r.HostID, dc)
		case "memory":
			return errs.New(errs.CodeNotEnoughMemory, "host %s cannot take %d MB more memory", r.HostID, dm)
		}
	}
	return fmt.Errorf("resize on host: too much contention for %s", vm)
}
