package store

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/redis/go-redis/v9"
)

// RateLimit is a sustained rate with a burst: Burst calls at once, then one every 1/Rate
// seconds.
type RateLimit struct {
	Rate  float64 // calls per second; 0 (or less) is unlimited
	Burst int     // calls at once; less than 1 counts as 1
}

// RateCheck is one limit a call is charged against, e.g. its token's or its tenant's.
type RateCheck struct {
	Key   string
	Limit RateLimit
}

// RateResult is what Allow decided.
type RateResult struct {
	OK bool
	// RetryAfter, when refused, is how long until the call would pass every check that
	// refused it: at most one interval (1/Rate) of the slowest of them.
	RetryAfter time.Duration
	Key        string // when refused, the key of the check with the longest wait
}

// allow is GCRA (the generic cell rate algorithm) over several keys at once. KEYS: the
// limited keys; ARGV: per key its emission interval (1/rate) and its tolerance (interval
// × burst), in microseconds. A key holds its theoretical arrival time (TAT, µs since the
// epoch): a call at now passes when max(TAT, now) + interval - tolerance <= now, and
// moves TAT there. Every key is checked before any is charged, so a refused call costs
// nothing; a key given twice is charged twice. A key expires when its TAT has passed,
// as it then says no more than an absent key.
//
// The clock is the Redis server's (TIME), so that gateways on different machines agree.
// Redis ≥ 5 replicates a script's effects, not the script, so TIME before a write is
// allowed.
var allow = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat, wait, worst = {}, 0, 0
for i, k in ipairs(KEYS) do
  local from = tat[k]
  if not from then from = math.max(tonumber(redis.call('GET', k) or 0), now) end
  tat[k] = from + tonumber(ARGV[2*i-1])
  local late = tat[k] - tonumber(ARGV[2*i]) - now
  if late > wait then wait, worst = late, i end
end
if worst > 0 then return {0, worst, math.ceil(wait)} end
for k, v in pairs(tat) do
  redis.call('SET', k, string.format('%d', math.ceil(v)), 'PX', string.format('%d', math.ceil((v - now) / 1000)))
end
return {1, 0, 0}
`)

// Allow charges one call against every check, all together or none: if any refuses,
// none is charged. Checks without a limit are skipped. Keys live under <prefix>rl: and
// time has a resolution of a microsecond, so rates above a million a second are not
// told apart.
//
// In Redis Cluster, the keys of one call must hash to one slot; like the admission keys,
// they carry no hash tag, so a caller on a cluster must give the keys it checks together
// a common {tag}.
func (s *Store) Allow(ctx context.Context, checks ...RateCheck) (RateResult, error) {
	keys := make([]string, 0, len(checks))
	args := make([]any, 0, 2*len(checks))
	limited := make([]int, 0, len(checks)) // keys[j] is checks[limited[j]]
	for i, c := range checks {
		r := c.Limit.Rate
		if !(r > 0) || math.IsInf(r, 1) {
			continue
		}
		interval := 1e6 / r
		keys = append(keys, s.key("rl", c.Key))
		args = append(args, interval, interval*float64(max(c.Limit.Burst, 1)))
		limited = append(limited, i)
	}
	if len(keys) == 0 {
		return RateResult{OK: true}, nil
	}
	v, err := allow.Run(ctx, s.rdb, keys, args...).Int64Slice()
	if err != nil {
		return RateResult{}, fmt.Errorf("rate limit: %w", err)
	}
	if v[0] == 1 {
		return RateResult{OK: true}, nil
	}
	return RateResult{
		RetryAfter: time.Duration(v[2]) * time.Microsecond,
		Key:        checks[limited[v[1]-1]].Key,
	}, nil
}
