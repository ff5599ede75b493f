package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Admission bounds the chains in flight, in total and per tenant, so that a saturated
// cloud answers "try again" instead of queueing without bound, and one tenant's burst
// cannot take the whole of it: each tenant may hold at most Limit / max(2, active
// tenants) chains, so a newcomer always finds room once the others drain to their share.
//
// Admitted tasks are members "tenant|task" of one sorted set (by admission time) and a
// hash counts them per tenant. A chain's end releases its task; a task never released
// (a gateway that died between admitting and starting it) ages out after Stale.
type Admission struct {
	Limit int           // chains in flight at most; 0 admits everything
	Stale time.Duration // default 10 minutes
}

// AdmitResult is what an admission decided.
type AdmitResult struct {
	OK               bool
	InFlight, Tenant int // after the decision
	Share            int // the tenant's share at the time
	RetryAfter       time.Duration
}

func (s *Store) admittedKey() string   { return s.key("admission", "tasks") }
func (s *Store) admitCountKey() string { return s.key("admission", "tenants") }

// admit: KEYS admitted set, per-tenant counts; ARGV now, stale-before, limit, tenant, task ids.
var admit = redis.NewScript(`
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, 1000)
for _, m in ipairs(old) do
  redis.call('ZREM', KEYS[1], m)
  local t = string.match(m, '^[^|]*')
  if redis.call('HINCRBY', KEYS[2], t, -1) <= 0 then redis.call('HDEL', KEYS[2], t) end
end
local limit, n = tonumber(ARGV[3]), #ARGV - 4
local total = redis.call('ZCARD', KEYS[1])
local mine = tonumber(redis.call('HGET', KEYS[2], ARGV[4]) or '0')
local active = redis.call('HLEN', KEYS[2])
if mine == 0 then active = active + 1 end
local share = math.floor(limit / math.max(2, active))
if total + n > limit or mine + n > share then return {0, total, mine, share} end
for i = 5, #ARGV do redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4] .. '|' .. ARGV[i]) end
redis.call('HINCRBY', KEYS[2], ARGV[4], n)
return {1, total + n, mine + n, share}
`)

// release: KEYS as admit; ARGV tenant, task ids.
var release = redis.NewScript(`
for i = 2, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[1] .. '|' .. ARGV[i]) == 1 then
    if redis.call('HINCRBY', KEYS[2], ARGV[1], -1) <= 0 then redis.call('HDEL', KEYS[2], ARGV[1]) end
  end
end
return 0
`)

// Admit admits the chains of tasks for tenant all together, or none of them.
func (s *Store) Admit(ctx context.Context, a Admission, tenant string, tasks ...string) (AdmitResult, error) {
	if a.Limit <= 0 || len(tasks) == 0 {
		return AdmitResult{OK: true}, nil
	}
	if a.Stale <= 0 {
		a.Stale = 10 * time.Minute
	}
	now := time.Now()
	args := []any{now.UnixMilli(), now.Add(-a.Stale).UnixMilli(), a.Limit, tenant}
	for _, t := range tasks {
		args = append(args, t)
	}
	v, err := admit.Run(ctx, s.rdb, []string{s.admittedKey(), s.admitCountKey()}, args...).Int64Slice()
	if err != nil {
		return AdmitResult{}, fmt.Errorf("admission: %w", err)
	}
	r := AdmitResult{OK: v[0] == 1, InFlight: int(v[1]), Tenant: int(v[2]), Share: int(v[3])}
	if !r.OK {
		// Chains take about a second; a client told to come back then finds room.
		r.RetryAfter = time.Second
	}
	return r, nil
}

// Release ends the admission of tenant's tasks; releasing a task not admitted is a no-op.
func (s *Store) Release(ctx context.Context, tenant string, tasks ...string) error {
	if len(tasks) == 0 {
		return nil
	}
	args := make([]any, 0, len(tasks)+1)
	args = append(args, tenant)
	for _, t := range tasks {
		args = append(args, t)
	}
	if err := release.Run(ctx, s.rdb, []string{s.admittedKey(), s.admitCountKey()}, args...).Err(); err != nil {
		return fmt.Errorf("release admission: %w", err)
	}
	return nil
}

// AdmittedTotal counts the chains in flight, of every tenant (one ZCARD).
func (s *Store) AdmittedTotal(ctx context.Context) (int64, error) {
	return s.rdb.ZCard(ctx, s.admittedKey()).Result()
}

// Admitted counts the chains in flight per tenant.
func (s *Store) Admitted(ctx context.Context) (map[string]int, error) {
	m, err := s.rdb.HGetAll(ctx, s.admitCountKey()).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k], _ = strconv.Atoi(v)
	}
	return out, nil
}
