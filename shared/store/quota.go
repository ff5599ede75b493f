package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
)

// A project's quota is one hash, photon:quota:{project}, with a "limit:<key>" and a
// "used:<key>" field per line item. Keys without a limit are not limited, but their use is
// still counted.
func (s *Store) quotaKey(project string) string   { return s.Key("quota", project) }
func (s *Store) quotaResvKey(owner string) string { return s.Key("resv", "quota", owner) }

func limitFields(items []QuotaLineItem) map[string]string {
	m := make(map[string]string, len(items))
	for _, it := range items {
		m["limit:"+it.Key] = strconv.FormatFloat(it.Value, 'f', -1, 64)
		m["unit:"+it.Key] = it.Unit
	}
	return m
}

// reserveQuota: KEYS quota hash, reservation key; ARGV key, value, unit triples. A
// reservation that exists already is the answer to a replay: nothing is counted twice.
var reserveQuota = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return {'ok'} end
local resv = {}
for i = 1, #ARGV, 3 do
  local lim = redis.call('HGET', KEYS[1], 'limit:' .. ARGV[i])
  if lim then
    local used = tonumber(redis.call('HGET', KEYS[1], 'used:' .. ARGV[i]) or '0')
    if used + tonumber(ARGV[i+1]) > tonumber(lim) + 1e-9 then
      return {'quota', ARGV[i], tostring(used), lim, ARGV[i+1]}
    end
  end
end
for i = 1, #ARGV, 3 do
  redis.call('HINCRBYFLOAT', KEYS[1], 'used:' .. ARGV[i], ARGV[i+1])
  redis.call('HSET', KEYS[1], 'unit:' .. ARGV[i], ARGV[i+2])
  resv[#resv+1] = ARGV[i]
  resv[#resv+1] = ARGV[i+1]
end
redis.call('SET', KEYS[2], table.concat(resv, '\n'))
return {'ok'}
`)

// releaseQuota gives back what the reservation at KEYS[2] took from KEYS[1].
var releaseQuota = redis.NewScript(`
local r = redis.call('GET', KEYS[2])
if not r then return 0 end
local parts = {}
for p in string.gmatch(r, '[^\n]+') do parts[#parts+1] = p end
for i = 1, #parts, 2 do
  redis.call('HINCRBYFLOAT', KEYS[1], 'used:' .. parts[i], -tonumber(parts[i+1]))
end
redis.call('DEL', KEYS[2])
return 1
`)

// ReserveQuota takes cost from the project's quota for owner (a VM id), or fails with
// QuotaError naming the first line item that does not fit. Reserving again for the same
// owner changes nothing.
func (s *Store) ReserveQuota(ctx context.Context, project, owner string, cost []QuotaLineItem) error {
	args := make([]any, 0, 3*len(cost))
	for _, c := range cost {
		args = append(args, c.Key, strconv.FormatFloat(c.Value, 'f', -1, 64), c.Unit)
	}
	res, err := reserveQuota.Run(ctx, s.rdb, []string{s.quotaKey(project), s.quotaResvKey(owner)}, args...).StringSlice()
	if err != nil {
		return fmt.Errorf("reserve quota: %w", err)
	}
	if res[0] == "quota" {
		return &errs.Error{Code: errs.CodeQuotaError,
			Message: fmt.Sprintf("Not enough quota: Current Limit: %s, desiredUsage %s: %s (%s in use)", res[3], res[1], res[4], res[2]),
			Data:    map[string]string{"key": res[1], "limit": res[3], "used": res[2], "requested": res[4]}}
	}
	return nil
}

// ReleaseQuota returns owner's reservation to the project's quota. It reports whether
// there was one.
func (s *Store) ReleaseQuota(ctx context.Context, project, owner string) (bool, error) {
	n, err := releaseQuota.Run(ctx, s.rdb, []string{s.quotaKey(project), s.quotaResvKey(owner)}).Int()
	if err != nil {
		return false, fmt.Errorf("release quota: %w", err)
	}
	return n == 1, nil
}

// QuotaUsage reads a project's limits and usage, and the unit of each key.
func (s *Store) QuotaUsage(ctx context.Context, project string) (limits, used map[string]float64, units map[string]string, err error) {
	h, err := s.rdb.HGetAll(ctx, s.quotaKey(project)).Result()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read quota: %w", err)
	}
	limits, used, units = map[string]float64{}, map[string]float64{}, map[string]string{}
	for f, v := range h {
		if k, ok := strings.CutPrefix(f, "unit:"); ok {
			units[k] = v
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		if k, ok := strings.CutPrefix(f, "limit:"); ok {
			limits[k] = n
		} else if k, ok := strings.CutPrefix(f, "used:"); ok {
			used[k] = n
		}
	}
	return limits, used, units, nil
}
