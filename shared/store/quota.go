package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// A quota is one hash per owner, photon:quota:{project} for a project and
// photon:quota:tenant:{tenant} for a tenant, with a "limit:<key>", "used:<key>" and
// "unit:<key>" field per line item. Keys without a limit are not limited, but their use is
// still counted. A project's reservation is charged to its project and to its tenant in
// one script, so neither can go over its limits, and the reservation record says whether
// the tenant was charged, so that releasing it undoes exactly what reserving did.
func (s *Store) quotaKey(project string) string      { return s.key("quota", project) }
func (s *Store) tenantQuotaKey(tenant string) string { return s.key("quota", "tenant", tenant) }
func (s *Store) quotaResvKey(owner string) string    { return s.key("resv", "quota", owner) }

// quotaKeyOf is the quota hash of a tenant or a project.
func (s *Store) quotaKeyOf(kind, id string) string {
	if kind == model.KindTenant {
		return s.tenantQuotaKey(id)
	}
	return s.quotaKey(id)
}

func limitFields(items []model.QuotaLineItem) map[string]string {
	m := make(map[string]string, len(items))
	for _, it := range items {
		m["limit:"+it.Key] = strconv.FormatFloat(it.Value, 'f', -1, 64)
		m["unit:"+it.Key] = it.Unit
	}
	return m
}

// tenantMark is the first pair of a reservation record that charged a tenant too: its
// value is the tenant id.
const tenantMark = "@tenant"

// reserveQuota: KEYS project quota hash, reservation key[, tenant quota hash]; ARGV key,
// value, unit triples. Every limit of the project and of the tenant is checked before
// anything is charged. A reservation that exists already is the answer to a replay:
// nothing is counted twice.
var reserveQuota = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 1 then return {'ok'} end
local scopes = {{KEYS[1], 'project'}}
if KEYS[3] then scopes[2] = {KEYS[3], 'tenant'} end
for _, sc in ipairs(scopes) do
  for i = 1, #ARGV, 3 do
    local lim = redis.call('HGET', sc[1], 'limit:' .. ARGV[i])
    if lim then
      local used = tonumber(redis.call('HGET', sc[1], 'used:' .. ARGV[i]) or '0')
      if used + tonumber(ARGV[i+1]) > tonumber(lim) + 1e-9 then
        return {'quota', ARGV[i], tostring(used), lim, ARGV[i+1], sc[2]}
      end
    end
  end
end
local resv = {}
if KEYS[3] then
  resv[1] = '` + tenantMark + `'
  resv[2] = string.match(KEYS[3], '([^:]+)$')
end
for _, sc in ipairs(scopes) do
  for i = 1, #ARGV, 3 do
    redis.call('HINCRBYFLOAT', sc[1], 'used:' .. ARGV[i], ARGV[i+1])
    redis.call('HSET', sc[1], 'unit:' .. ARGV[i], ARGV[i+2])
  end
end
for i = 1, #ARGV, 3 do
  resv[#resv+1] = ARGV[i]
  resv[#resv+1] = ARGV[i+1]
end
redis.call('SET', KEYS[2], table.concat(resv, '\n'))
return {'ok'}
`)

// releaseQuota gives back what the reservation at KEYS[2] took from the project's hash
// KEYS[1] and, if it charged one, from the tenant's hash KEYS[3].
var releaseQuota = redis.NewScript(`
local r = redis.call('GET', KEYS[2])
if not r then return 0 end
local parts = {}
for p in string.gmatch(r, '[^\n]+') do parts[#parts+1] = p end
local first = 1
local hashes = {KEYS[1]}
if parts[1] == '` + tenantMark + `' then
  first = 3
  if KEYS[3] then hashes[2] = KEYS[3] end
end
for _, h in ipairs(hashes) do
  for i = first, #parts, 2 do
    local v = tonumber(redis.call('HINCRBYFLOAT', h, 'used:' .. parts[i], -tonumber(parts[i+1])))
    if v > -1e-9 and v < 1e-9 then redis.call('HSET', h, 'used:' .. parts[i], '0') end
  end
end
redis.call('DEL', KEYS[2])
return 1
`)

// ReserveQuota takes cost from the quota of the project and of its tenant for owner (a VM
// or disk id), or fails with QuotaError naming the first line item that does not fit and
// whose limit (project or tenant) it passes; then nothing is charged. Reserving again for
// the same owner changes nothing.
func (s *Store) ReserveQuota(ctx context.Context, project, owner string, cost []model.QuotaLineItem) error {
	keys := []string{s.quotaKey(project), s.quotaResvKey(owner)}
	tenant, err := s.projectTenant(ctx, project)
	if err != nil {
		return err
	}
	if tenant != "" {
		keys = append(keys, s.tenantQuotaKey(tenant))
	}
	res, err := reserveQuota.Run(ctx, s.rdb, keys, costArgs(cost)...).StringSlice()
	if err != nil {
		return fmt.Errorf("reserve quota: %w", err)
	}
	if res[0] == "quota" {
		scope := "project " + project
		if res[5] == "tenant" {
			scope = "tenant " + tenant
		}
		return &errs.Error{Code: errs.CodeQuotaError,
			Message: fmt.Sprintf("Not enough quota in %s: Current Limit: %s, desiredUsage %s: %s (%s in use)", scope, res[3], res[1], res[4], res[2]),
			Data:    map[string]string{"key": res[1], "limit": res[3], "used": res[2], "requested": res[4], "scope": res[5]}}
	}
	return nil
}

// projectTenant is the tenant of a project, "" for a project without a record (whose
// reservation then charges the project alone). A project never changes tenant, so reading
// it apart from the script is safe.
func (s *Store) projectTenant(ctx context.Context, project string) (string, error) {
	p, err := Get[model.Project](ctx, s, model.KindProject, project)
	if errors.Is(err, errs.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return p.TenantID, nil
}

// ReleaseQuota returns owner's reservation to the quota of the project and, if it charged
// it, of the tenant. It reports whether there was one.
func (s *Store) ReleaseQuota(ctx context.Context, project, owner string) (bool, error) {
	keys, ok, err := s.chargedKeys(ctx, project, owner)
	if err != nil || !ok {
		return false, err
	}
	n, err := releaseQuota.Run(ctx, s.rdb, keys).Int()
	if err != nil {
		return false, fmt.Errorf("release quota: %w", err)
	}
	return n == 1, nil
}

// chargedKeys are the keys of owner's reservation for the release and resize scripts: the
// project's quota hash, the reservation, and the tenant's hash if the reservation charged
// it (the record names the tenant; which tenant a record charged never changes). ok is
// false when owner holds no reservation.
func (s *Store) chargedKeys(ctx context.Context, project, owner string) (keys []string, ok bool, err error) {
	keys = []string{s.quotaKey(project), s.quotaResvKey(owner)}
	r, err := s.rdb.Get(ctx, s.quotaResvKey(owner)).Result()
	if errors.Is(err, redis.Nil) {
		return keys, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read quota reservation of %s: %w", owner, err)
	}
	if mark, rest, ok := strings.Cut(r, "\n"); ok && mark == tenantMark {
		tenant, _, _ := strings.Cut(rest, "\n")
		keys = append(keys, s.tenantQuotaKey(tenant))
	}
	return keys, true, nil
}

// costArgs are a cost's line items as the quota scripts take them: key, value, unit.
func costArgs(cost []model.QuotaLineItem) []any {
	args := make([]any, 0, 3*len(cost))
	for _, c := range cost {
		args = append(args, c.Key, strconv.FormatFloat(c.Value, 'f', -1, 64), c.Unit)
	}
	return args
}

// QuotaUsage reads a project's limits and usage, and the unit of each key.
func (s *Store) QuotaUsage(ctx context.Context, project string) (limits, used map[string]float64, units map[string]string, err error) {
	return s.quotaUsage(ctx, s.quotaKey(project))
}

func (s *Store) quotaUsage(ctx context.Context, key string) (limits, used map[string]float64, units map[string]string, err error) {
	h, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read quota: %w", err)
	}
	limits, used, units = parseQuota(h)
	return limits, used, units, nil
}

func parseQuota(h map[string]string) (limits, used map[string]float64, units map[string]string) {
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
	return limits, used, units
}

// QuotaStatus is one limited key of a quota.
type QuotaStatus struct {
	Unit  string
	Limit float64
	Usage float64
}

// Quota reads the quota of a tenant or a project (kind KindTenant or KindProject): every
// limited key with its limit and use.
func (s *Store) Quota(ctx context.Context, kind, id string) (map[string]QuotaStatus, error) {
	limits, used, units, err := s.quotaUsage(ctx, s.quotaKeyOf(kind, id))
	if err != nil {
		return nil, err
	}
	return quotaStatus(limits, used, units), nil
}

func quotaStatus(limits, used map[string]float64, units map[string]string) map[string]QuotaStatus {
	out := make(map[string]QuotaStatus, len(limits))
	for k, l := range limits {
		out[k] = QuotaStatus{Unit: units[k], Limit: l, Usage: used[k]}
	}
	return out
}

// QuotaChange is how ChangeQuota applies its line items.
type QuotaChange int

// The three changes of Photon's quota API.
const (
	QuotaSet     QuotaChange = iota // replace every limit with the given ones
	QuotaUpdate                     // add or change the given limits
	QuotaExclude                    // remove the limits of the given keys
)

// NewLimits is the pure decision of ChangeQuota: the limits after change, or an error
// that names the first key whose new limit is below what is in use, or whose unit is not
// the unit its use is counted in. Items are canonical (COUNT or GB, limits ≥ 0).
func NewLimits(change QuotaChange, limits, used map[string]float64, units map[string]string, items []model.QuotaLineItem) (map[string]model.QuotaLineItem, error) {
	next := make(map[string]model.QuotaLineItem, len(limits)+len(items))
	if change != QuotaSet {
		for k, v := range limits {
			next[k] = model.QuotaLineItem{Key: k, Value: v, Unit: units[k]}
		}
	}
	for _, it := range items {
		if change == QuotaExclude {
			delete(next, it.Key)
			continue
		}
		if used[it.Key] > 0 && units[it.Key] != "" && units[it.Key] != it.Unit {
			return nil, errs.Invalid("quota key %s is counted in %s, not %s", it.Key, units[it.Key], it.Unit)
		}
		if it.Value+1e-9 < used[it.Key] {
			return nil, errs.New(errs.CodeQuotaError, "quota limit %v %s for %s is below its usage %v", it.Value, it.Unit, it.Key, used[it.Key]).
				WithData("key", it.Key).WithData("limit", strconv.FormatFloat(it.Value, 'f', -1, 64)).
				WithData("used", strconv.FormatFloat(used[it.Key], 'f', -1, 64))
		}
		next[it.Key] = it
	}
	return next, nil
}

// ChangeQuota applies change to the quota of a tenant or a project and writes task, in one
// transaction: a reservation that lands meanwhile makes it start over, so a new limit is
// never below the usage it was checked against. A project's record keeps its limits too.
// It returns the quota as changed.
func (s *Store) ChangeQuota(ctx context.Context, kind, id string, change QuotaChange, items []model.QuotaLineItem, task *model.Task) (map[string]QuotaStatus, error) {
	qkey, ekey := s.quotaKeyOf(kind, id), s.entityKey(kind, id)
	var out map[string]QuotaStatus
	for attempt := 0; attempt < 50; attempt++ {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			raw, err := tx.Get(ctx, ekey).Bytes()
			if errors.Is(err, redis.Nil) {
				return errs.NotFound(kindName(kind), id)
			}
			if err != nil {
				return err
			}
			h, err := tx.HGetAll(ctx, qkey).Result()
			if err != nil {
				return err
			}
			limits, used, units := parseQuota(h)
			next, err := NewLimits(change, limits, used, units, items)
			if err != nil {
				return err
			}
			b := new(Batch)
			if kind == model.KindProject {
				var p model.Project
				if err := codec.Unmarshal(raw, &p); err != nil {
					return fmt.Errorf("decode project %s: %w", id, err)
				}
				p.Limits = nil
				for _, k := range slices.Sorted(maps.Keys(next)) {
					p.Limits = append(p.Limits, next[k])
				}
				b.Put(ekey, &p)
			}
			s.AddTask(b, task)
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for k := range limits {
					if _, ok := next[k]; !ok {
						p.HDel(ctx, qkey, "limit:"+k)
					}
				}
				for k, it := range next {
					p.HSet(ctx, qkey, "limit:"+k, strconv.FormatFloat(it.Value, 'f', -1, 64), "unit:"+k, it.Unit)
				}
				b.pipe(ctx, p)
				return nil
			})
			nl := make(map[string]float64, len(next))
			for k, it := range next {
				nl[k], units[k] = it.Value, it.Unit
			}
			out = quotaStatus(nl, used, units)
			if err == nil {
				err = s.waitReplicas(ctx, tx)
			}
			return err
		}, qkey, ekey)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("change quota of %s %s: too much contention", kind, id)
}

// CreateTenantWithQuota is CreateTenant that also sets the tenant's quota limits, in the
// same atomic call.
func (s *Store) CreateTenantWithQuota(ctx context.Context, t *model.Tenant, limits []model.QuotaLineItem, task *model.Task) error {
	b := new(Batch).Unique(s.name(model.KindTenant, "", t.Name), t.ID, fmt.Sprintf("tenant name %q", t.Name)).
		Put(s.entityKey(model.KindTenant, t.ID), t).
		Index(s.tenantsIdx(), indexMember(t.CreatedAt, t.ID))
	if len(limits) > 0 {
		b.HashSet(s.tenantQuotaKey(t.ID), limitFields(limits))
	}
	return s.Apply(ctx, s.AddTask(b, task))
}
