package store

import (
	"context"
	"strings"

	"github.com/photon-cloud/photon/shared/model"
)

// The outbox is a transactional record of every change of an entity, the source of the
// outbound events (shared/notify derives them). It is one Redis stream, <prefix>outbox,
// appended to by the same atomic call that writes the entity, so an entry exists exactly
// when the write happened: a failed check or a failed WATCH leaves none.
//
// An entry has the fields:
//
//	kind  the entity kind (OutboxKinds): "vm", "task", "host", ...
//	id    the entity id
//	op    "create" (no record before), "update" or "delete"
//	new   the record's JSON after the write (create, update)
//	old   the record's JSON before the write (update, delete)
//
// Entries are in commit order. A write that leaves a record byte for byte as it was (a
// replayed step) records nothing, and neither does an update of a host or a task that
// leaves its state as it was (a heartbeat, a step done: see outboxState). The stream is trimmed to about OutboxMaxLen entries;
// its consumer trims what it has processed.
//
// Three places write entities, and all three record: a Batch (Apply, and the WATCH
// transactions of StartTask and the like, through Batch.pipe), the compare-and-set of
// Update, and the host registration script.

// OutboxMaxLen bounds the outbox (MAXLEN ~). An entry holds up to two records, about 2 KB
// for a task; the deriver trims what it has read, so the bound matters only while it is
// not running.
const OutboxMaxLen = 1_000_000

// Outbox operations.
const (
	OutboxCreate = "create"
	OutboxUpdate = "update"
	OutboxDelete = "delete"
)

// OutboxKinds are the kinds whose records the outbox follows. Subscriptions, dead letters,
// indexes and counters are not among them.
var OutboxKinds = []string{model.KindTenant, model.KindProject, model.KindFlavor, model.KindImage, model.KindVM, model.KindDisk, model.KindTask,
	model.KindHost, model.KindZone, model.KindRouter, model.KindSubnet, model.KindOrphan, model.KindService}

// OutboxStream is the outbox's key.
func (s *Store) OutboxStream() string { return s.key("outbox") }

// outboxLua defines outbox(ob, maxlen, key, new, old), which appends the change of the
// entity at key (kind and id are its last two parts) to the outbox ob. new and old are
// false for no record. Scripts that write entities start with it.
//
// It also keeps the count of VMs in each state (VMStates), for the gauges a scrape reads
// without scanning the VMs (a record's state is in its compact header, or its JSON's):
// every VM write goes through it, so the counts move with the records in the same atomic
// call. A VM written before the counts were kept is not in
// them; its later moves never take a count below zero (a state at zero is dropped).
const outboxLua = `
local function recordState(rec)
  if not rec then return nil end
  if string.byte(rec, 1) == 0 then return string.match(rec, '^%z([^%z]*)%z') end
  local ok, r = pcall(cjson.decode, rec)
  if ok and type(r) == 'table' and type(r.state) == 'string' then return r.state end
  return nil
end
local function countStates(ob, new, old)
  local from, to = recordState(old), recordState(new)
  if from == to then return end
  local key = string.sub(ob, 1, -7) .. '` + vmStatesSuffix + `'
  if from and redis.call('HINCRBY', key, from, -1) <= 0 then redis.call('HDEL', key, from) end
  if to then redis.call('HINCRBY', key, to, 1) end
end
local function outbox(ob, maxlen, key, new, old)
  if new == old then return end
  local kind, id = string.match(key, '([^:]+):([^:]+)$')
  if kind == '` + model.KindVM + `' then countStates(ob, new, old) end
  if not old then
    redis.call('XADD', ob, 'MAXLEN', '~', maxlen, '*', 'kind', kind, 'id', id, 'op', 'create', 'new', new)
  elseif not new then
    redis.call('XADD', ob, 'MAXLEN', '~', maxlen, '*', 'kind', kind, 'id', id, 'op', 'delete', 'old', old)
  else
    redis.call('XADD', ob, 'MAXLEN', '~', maxlen, '*', 'kind', kind, 'id', id, 'op', 'update', 'new', new, 'old', old)
  end
end
`

// vmStatesSuffix names, after the store's prefix, the hash of VM counts by state that
// outboxLua keeps (it finds the prefix in the outbox's key, <prefix>outbox).
const vmStatesSuffix = "count:vm:state"

// VMStates counts the VMs in each state: one read of the counts the store keeps with
// every VM write (outboxLua), never a scan.
func (s *Store) VMStates(ctx context.Context) (map[string]int64, error) {
	return s.counts(ctx, s.space+vmStatesSuffix)
}

// isEntityKey reports whether key is the record of an entity the outbox follows:
// <prefix><kind>:<id>.
func isEntityKey(prefix, key string) bool {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return false
	}
	kind, id, ok := strings.Cut(rest, ":")
	if !ok || id == "" || strings.Contains(id, ":") {
		return false
	}
	for _, k := range OutboxKinds {
		if k == kind {
			return true
		}
	}
	return false
}

// outboxState is the part of a record whose change the outbox must see when the kind is
// one that is rewritten often without changing what an event is derived from: hosts
// (every heartbeat) and tasks (every step; their events are their ends, shared/notify's
// deriveTask). It is "" and false for the rest, whose every change is recorded.
func outboxState(v any) (string, bool) {
	switch r := v.(type) {
	case *model.Host:
		return r.State + "\n" + r.StateReason, true
	case *model.Task:
		return r.State, true
	}
	return "", false
}
