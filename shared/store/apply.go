package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
)

// A Batch is a set of writes applied in one atomic Redis call after its checks pass:
// unique names are free (or already ours), required entities exist. It is how every
// multi-key create and delete is written, so none can be half done.
type Batch struct {
	keys []string
	args []any
	what []string // for error messages, one per key
	// prefix is the key space of the store that writes the batch: its writes of entity
	// records (<prefix><kind>:<id>) are recorded in the outbox. outboxed says they are
	// marked already.
	prefix   string
	outboxed bool
	// durable says a task is among the writes: the batch is acknowledged only once
	// replicas have it (Store.WaitForReplicas).
	durable bool
}

// outbox marks the batch's writes of entity records, "S" and "D", as "SE" and "DE",
// which also append to the outbox, and adds the outbox itself as the last key (op "O",
// its value the stream's bound). It is done once, when the batch is written.
func (b *Batch) outbox() {
	if b.outboxed || b.prefix == "" {
		return
	}
	b.outboxed = true
	n := 0
	for i, k := range b.keys {
		if op := b.args[2*i]; (op == "S" || op == "D") && isEntityKey(b.prefix, k) {
			b.args[2*i] = op.(string) + "E"
			n++
		}
	}
	if n > 0 {
		b.add("O", b.prefix+"outbox", OutboxMaxLen, "")
	}
}

func (b *Batch) add(op, key string, val any, what string) *Batch {
	b.keys = append(b.keys, key)
	b.args = append(b.args, op, val)
	b.what = append(b.what, what)
	return b
}

// Unique claims a name key for owner: fails with NameTaken when another owner holds it.
func (b *Batch) Unique(key, owner, what string) *Batch { return b.add("U", key, owner, what) }

// Require fails the batch with NotFound when key does not exist.
func (b *Batch) Require(key, what string) *Batch { return b.add("X", key, "", what) }

// Absent fails the batch with NameTaken when key exists.
func (b *Batch) Absent(key, what string) *Batch { return b.add("N", key, "", what) }

// Put writes v at key, as encodeRecord encodes it.
func (b *Batch) Put(key string, v any) *Batch {
	raw, err := encodeRecord(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err)) // entity types always encode
	}
	return b.add("S", key, raw, "")
}

// Empty fails the batch with StateError when the index at key has members (e.g. a tenant
// that still has projects).
func (b *Batch) Empty(key, what string) *Batch { return b.add("Z0", key, "", what) }

// HashSet sets fields of the hash at key.
func (b *Batch) HashSet(key string, fields map[string]string) *Batch {
	var sb strings.Builder
	for f, v := range fields {
		sb.WriteString(f + "\n" + v + "\n")
	}
	return b.add("H", key, sb.String(), "")
}

// Del deletes key.
func (b *Batch) Del(key string) *Batch { return b.add("D", key, "", "") }

// DelIfOwner deletes a unique-name key only if owner holds it.
func (b *Batch) DelIfOwner(key, owner string) *Batch { return b.add("DO", key, owner, "") }

// Index adds member to the sorted-set index at key.
func (b *Batch) Index(key, member string) *Batch { return b.add("ZA", key, member, "") }

// Unindex removes member from the index at key.
func (b *Batch) Unindex(key, member string) *Batch { return b.add("ZR", key, member, "") }

// Append adds an entry with field "e" = v to the stream at key, untrimmed: the starts
// stream's entries leave it only when published (see StartsStream).
func (b *Batch) Append(key string, v []byte) *Batch { return b.add("E", key, v, "") }

var applyScript = redis.NewScript(outboxLua + `
for i = 1, #KEYS do
  local op, v = ARGV[2*i-1], ARGV[2*i]
  if op == 'U' then
    local cur = redis.call('GET', KEYS[i])
    if cur and cur ~= v then return {'taken', i} end
  elseif op == 'X' then
    if redis.call('EXISTS', KEYS[i]) == 0 then return {'missing', i} end
  elseif op == 'N' then
    if redis.call('EXISTS', KEYS[i]) == 1 then return {'taken', i} end
  elseif op == 'Z0' then
    if redis.call('ZCARD', KEYS[i]) > 0 then return {'inuse', i} end
  end
end
for i = 1, #KEYS do
  local op, v = ARGV[2*i-1], ARGV[2*i]
  if op == 'U' or op == 'S' then redis.call('SET', KEYS[i], v)
  elseif op == 'D' then redis.call('DEL', KEYS[i])
  elseif op == 'DO' then
    if redis.call('GET', KEYS[i]) == v then redis.call('DEL', KEYS[i]) end
  elseif op == 'ZA' then redis.call('ZADD', KEYS[i], 0, v)
  elseif op == 'ZR' then redis.call('ZREM', KEYS[i], v)
  elseif op == 'E' then redis.call('XADD', KEYS[i], '*', 'e', v)
  elseif op == 'SE' or op == 'DE' then
    local old = redis.call('GET', KEYS[i])
    if op == 'SE' then redis.call('SET', KEYS[i], v) else v = false; redis.call('DEL', KEYS[i]) end
    outbox(KEYS[#KEYS], ARGV[2*#KEYS], KEYS[i], v, old)
  elseif op == 'H' then
    for f, val in string.gmatch(v, '([^\n]*)\n([^\n]*)\n') do redis.call('HSET', KEYS[i], f, val) end
  end
end
return {'ok', 0}
`)

// Apply runs the batch atomically.
func (s *Store) Apply(ctx context.Context, b *Batch) error {
	if len(b.keys) == 0 {
		return nil
	}
	b.prefix = s.space
	b.outbox()
	res, err := s.runDurable(ctx, b.durable, applyScript, b.keys, b.args...)
	if err != nil {
		return fmt.Errorf("apply batch: %w", err)
	}
	status, _ := res[0].(string)
	idx, _ := res[1].(int64)
	what := ""
	if idx >= 1 && int(idx) <= len(b.what) {
		what = b.what[idx-1]
	}
	switch status {
	case "ok":
		return nil
	case "taken":
		return errs.New(errs.CodeNameTaken, "%s is already taken", what)
	case "inuse":
		return errs.New(errs.CodeStateError, "%s is still in use", what)
	case "missing":
		return errs.New(errs.CodeNotFound, "%s not found", what)
	}
	return fmt.Errorf("apply batch: unexpected reply %v", res)
}

// watch runs a check-then-write transaction on keys: fn reads (through the store or tx)
// and returns the writes, which are applied only if none of keys changed meanwhile;
// otherwise it runs again. A Batch's checks (Require, Absent, Empty) are not evaluated
// here: only its writes are queued; a Unique name held by another owner fails it with
// NameTaken.
func (s *Store) watch(ctx context.Context, keys []string, fn func(tx *redis.Tx) (*Batch, error)) error {
	for attempt := 0; attempt < 50; attempt++ {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			b, err := fn(tx)
			if err != nil {
				return err
			}
			b.prefix = s.space
			for i, k := range b.keys {
				if b.args[2*i] == "U" {
					if cur, err := tx.Get(ctx, k).Result(); err == nil && cur != b.args[2*i+1] {
						return errs.New(errs.CodeNameTaken, "%s is already taken", b.what[i])
					}
				}
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				b.pipe(ctx, p)
				return nil
			})
			if err == nil && b.durable {
				err = s.waitReplicas(ctx, tx)
			}
			return err
		}, keys...)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return err
	}
	return fmt.Errorf("transaction on %v: too much contention", keys)
}

// pipe queues a batch's writes on a pipeline, for a WATCH transaction (Apply runs them in
// its script instead).
func (b *Batch) pipe(ctx context.Context, p redis.Pipeliner) {
	b.outbox()
	var ents []string // the entity writes, in one script call at the end
	var entArgs []any
	for i, k := range b.keys {
		v := b.args[2*i+1]
		switch b.args[2*i] {
		case "SE", "DE":
			ents, entArgs = append(ents, k), append(entArgs, b.args[2*i], v)
		case "S", "U":
			p.Set(ctx, k, v, 0)
		case "D":
			p.Del(ctx, k)
		case "DO":
			p.Eval(ctx, `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 0`, []string{k}, v)
		case "ZA":
			p.ZAdd(ctx, k, redis.Z{Member: v})
		case "ZR":
			p.ZRem(ctx, k, v)
		case "E":
			p.XAdd(ctx, &redis.XAddArgs{Stream: k, Values: []any{"e", v}})
		case "H":
			p.Eval(ctx, `for f, val in string.gmatch(ARGV[1], '([^\n]*)\n([^\n]*)\n') do redis.call('HSET', KEYS[1], f, val) end return 0`, []string{k}, v)
		}
	}
	if len(ents) > 0 {
		// Eval, not EvalSha: a script missing from the cache would fail alone inside MULTI.
		p.Eval(ctx, writeEntities, append(ents, b.keys[len(b.keys)-1]), append(entArgs, OutboxMaxLen)...)
	}
}

// writeEntities: KEYS entity records, then the outbox; ARGV per record "SE" or "DE" and
// its JSON, then the outbox bound. A WATCH transaction's writes of entity records and
// their outbox entries.
const writeEntities = outboxLua + `
local ob, maxlen = KEYS[#KEYS], ARGV[#ARGV]
for i = 1, #KEYS - 1 do
  local old, new = redis.call('GET', KEYS[i]), false
  if ARGV[2*i-1] == 'SE' then new = ARGV[2*i]; redis.call('SET', KEYS[i], new) else redis.call('DEL', KEYS[i]) end
  outbox(ob, maxlen, KEYS[i], new, old)
end
return 0
`
