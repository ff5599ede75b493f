package streams

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// A stream read in consumer groups keeps every entry until it is trimmed, acknowledged or
// not: trimming is what bounds it. A Retention says which entries of one stream may go,
// and Trim drops them; KeepTrimmed does it periodically, in the process that consumes or
// owns the stream.
//
// What the groups are done with goes first (Acked): an entry before the lowest of every
// group's oldest pending entry (delivered, not yet acknowledged: a consumer works on it or
// will take it over) and, for a group with nothing pending, its last-delivered id (what
// comes after is not delivered yet). So trimming never drops an entry a group has not
// delivered, nor one it delivered and has not acknowledged. A stream without groups keeps
// everything this way. A group created later with StartID "0" sees only what is left.
//
// MaxAge and MaxLen bound a stream whatever its groups: for streams nobody reads in a
// group (dead letters), and as a backstop on streams whose readers may stop for good
// (an automation reader of events:out); they drop entries a group may not have read.

// Retention says which entries of Stream Trim drops; the zero value of a field drops
// nothing by it.
type Retention struct {
	Stream string
	// Acked drops the entries every consumer group of the stream is done with.
	Acked bool
	// MaxAge drops the entries older than this (by their ids' time, the Redis server's
	// clock for ids Redis made), read or not.
	MaxAge time.Duration
	// MaxLen keeps about this many newest entries at most (MAXLEN ~), read or not.
	MaxLen int64
}

// trimScript: KEYS the stream; ARGV acked (1 or 0), max age in ms (0: none), max length
// (0: none). It returns how many entries it dropped. All in one script, so no group
// reads, acknowledges or is created between looking at the groups and trimming.
var trimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local minid
if ARGV[1] == '1' then
  local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
  for _, g in ipairs(groups) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i+1] end
    local need = f['last-delivered-id']
    if tonumber(f['pending']) > 0 then
      local first = redis.call('XPENDING', KEYS[1], f['name'], '-', '+', 1)
      if first[1] then need = first[1][1] end
    end
    if minid == nil or less(need, minid) then minid = need end
  end
end
local dropped = 0
local age = tonumber(ARGV[2])
if age > 0 then
  local t = redis.call('TIME')
  local cutoff = string.format('%d-0', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - age)
  if minid == nil or less(minid, cutoff) then minid = cutoff end
end
if minid ~= nil then dropped = dropped + redis.call('XTRIM', KEYS[1], 'MINID', '=', minid) end
local maxlen = tonumber(ARGV[3])
if maxlen > 0 then dropped = dropped + redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', maxlen) end
return dropped
`)

// Trim drops the entries of r.Stream that r lets go, and reports how many.
func Trim(ctx context.Context, rdb redis.UniversalClient, r Retention) (int64, error) {
	acked := "0"
	if r.Acked {
		acked = "1"
	}
	n, err := trimScript.Run(ctx, rdb, []string{r.Stream}, acked, max(r.MaxAge.Milliseconds(), 0), max(r.MaxLen, 0)).Int64()
	if err != nil {
		return 0, fmt.Errorf("trim %s: %w", r.Stream, err)
	}
	return n, nil
}

// DefaultTrimEvery is how often KeepTrimmed trims when given no interval.
const DefaultTrimEvery = 10 * time.Second

// KeepTrimmed trims each of rs every interval (DefaultTrimEvery when 0), the first time
// one interval after it starts, until ctx ends; failures are logged and tried again at
// the next tick.
func KeepTrimmed(ctx context.Context, rdb redis.UniversalClient, every time.Duration, log *slog.Logger, rs ...Retention) {
	if every <= 0 {
		every = DefaultTrimEvery
	}
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, r := range rs {
			if _, err := Trim(ctx, rdb, r); err != nil && ctx.Err() == nil {
				log.Warn("trim stream", "stream", r.Stream, "err", err)
			}
		}
	}
}
