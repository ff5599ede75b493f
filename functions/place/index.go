package place

import (
	"context"
	"hash/crc32"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/btree"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Index is one place instance's view of the fleet: every host's record and counters in
// memory, and for each selector (all hosts, a zone, a host tag, a network, an image, a
// datastore tag or type) the READY hosts that match it, ordered by score. A placement
// walks the smallest ordered set its request names, from the best end, running the
// checkers only until it has enough feasible hosts: it does not scan every host.
//
// The index follows Redis, which stays the truth: reservations (its own and other
// instances') are checked again by the reservation script, which answers the host's
// counters so the index catches up on a conflict; a sync in the background every
// SyncEvery reloads the hosts in the change feed (registrations, state, zone, tag,
// datastore and image changes), takes the times of the heartbeats since the last sync from
// the heartbeat index (a heartbeat that changes nothing placement reads does not write the
// record, nor the feed), reads every host's counters every FullEvery per 10,000 hosts (the
// cost of a full read grows with the fleet; its average stays the same), and marks hosts that
// missed their heartbeats ERROR.
type Index struct {
	store *store.Store
	pol   Policy
	// SyncEvery and FullEvery pace the background sync (defaults 500ms and 2s).
	SyncEvery, FullEvery time.Duration

	mu      sync.RWMutex
	entries []*entry         // by slot; nil when the host was deleted
	slots   map[string]int32 // host id → slot
	sets    map[string]*btree.BTreeG[item]
	bits    map[string]int // selector → its bit in entry.sig
	maxCPU  float64        // the largest CPU and memory capacity of a host, times the ratios
	maxMem  float64

	load     sync.Mutex // held by the first load
	loaded   atomic.Bool
	gen      atomic.Int64
	syncing  atomic.Bool
	syncedAt atomic.Int64 // unix ns
	fullAt   atomic.Int64 // unix ns
	markedAt atomic.Int64 // unix ns
	beatAt   atomic.Int64 // the newest heartbeat read (unix ms, Photon's clock)
}

// beatSlack is how far before the newest heartbeat it has read (or the store's clock, if
// earlier) a sync reads heartbeats again: a heartbeat is scored with the clock of the
// gateway that took it, and one recorded a little late (a busy gateway, a clock a little
// behind) must not be missed. Missing one only makes a host look a beat older; a host
// whose heartbeats are all missed looks silent, which the slack keeps to clocks more than
// that apart.
const beatSlack = 2000 // ms

// entry is one host: truth holds its counters as Redis last answered them, pend the
// placements of this instance in flight on it, and cand the host with their sum, which
// the checkers and the score read, so placements running at once in one instance see each
// other's claims and do not pile onto the same host.
type entry struct {
	cand  Candidate
	truth store.HostCapacity
	pend  pending
	key   float64
	sels  []string // the sets the host is in
	// sig has a bit per selector the host matches: a walk rejects a host that lacks one
	// the request needs without reading the host record.
	sig []uint64
}

// mask is the selector bits a request needs, word by word.
type mask []struct {
	w int
	m uint64
}

func (e *entry) matches(m mask) bool {
	for _, x := range m {
		if x.w >= len(e.sig) || e.sig[x.w]&x.m != x.m {
			return false
		}
	}
	return true
}

type pending struct {
	cpu, mem, vms int64
	disk          map[string]int64 // by datastore
}

// refresh recomputes cand's capacity from truth and pend.
func (e *entry) refresh() {
	c := e.truth
	c.CPUUsed += e.pend.cpu
	c.MemUsed += e.pend.mem
	c.VMs += e.pend.vms
	if len(e.pend.disk) > 0 {
		dss := make(map[string]store.DatastoreCapacity, len(c.Datastores))
		for k, v := range c.Datastores {
			v.Used += e.pend.disk[k]
			dss[k] = v
		}
		c.Datastores = dss
	}
	e.cand.Capacity = c
}

// add claims (sign 1) or lets go of (sign -1) a request's resources.
func (p *pending) add(req *Request, ds string, sign int64) {
	p.cpu += sign * req.CPU
	p.mem += sign * req.MemoryMB
	p.vms += sign
	if req.DiskMB > 0 {
		if p.disk == nil {
			p.disk = map[string]int64{}
		}
		if p.disk[ds] += sign * req.DiskMB; p.disk[ds] == 0 {
			delete(p.disk, ds)
		}
	}
}

// item is a host in an ordered set. sig0 is the first word of the host's signature, kept
// in the item so that a walk skips hosts that lack a selector without touching their entry
// (a fleet's hosts that never fit a common request, say without its image, sit at the
// best end of a spread set and are walked past by every placement).
type item struct {
	key  float64
	slot int32
	sig0 uint64
}

func (e *entry) sig0() uint64 {
	if len(e.sig) == 0 {
		return 0
	}
	return e.sig[0]
}

// less orders items by score, ties by slot, the lower slot last (so the best end, read
// backwards, starts with the lower slot).
func less(a, b item) bool {
	if a.key != b.key {
		return a.key < b.key
	}
	return a.slot > b.slot
}

// NewIndex returns an empty index over s; it loads on first use.
func NewIndex(s *store.Store, pol Policy) *Index {
	return &Index{store: s, pol: pol, SyncEvery: 500 * time.Millisecond, FullEvery: 2 * time.Second,
		slots: map[string]int32{}, sets: map[string]*btree.BTreeG[item]{}, bits: map[string]int{}}
}

// selectors of a READY host.
func selectors(h *model.Host) []string {
	out := []string{"", "z:" + h.AvailabilityZone}
	for _, t := range h.Tags {
		out = append(out, "t:"+t)
	}
	for _, n := range h.Networks {
		out = append(out, "n:"+n)
	}
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, d := range h.Datastores {
		add("dy:" + strings.ToLower(d.Type))
		for _, t := range d.Tags {
			add("dt:" + t)
		}
		for _, img := range d.Images {
			add("i:" + img)
		}
	}
	return out
}

// ordered tells the selectors that have an ordered set: all hosts, zones, host tags,
// datastore tags and images. Networks and datastore types are only bits in a host's
// signature (they rarely narrow a fleet much): fewer sets make a reservation's re-ordering
// cheaper.
func ordered(sel string) bool {
	return !strings.HasPrefix(sel, "n:") && !strings.HasPrefix(sel, "dy:")
}

// requestSelectors are the selectors a feasible host must match.
func requestSelectors(req *Request) []string {
	out := []string{""}
	if req.Zone != "" {
		out = append(out, "z:"+req.Zone)
	}
	for _, t := range req.HostTags {
		out = append(out, "t:"+t)
	}
	for _, n := range req.Networks {
		out = append(out, "n:"+n)
	}
	if req.DatastoreType != "" {
		out = append(out, "dy:"+strings.ToLower(req.DatastoreType))
	}
	for _, t := range req.DatastoreTags {
		out = append(out, "dt:"+t)
	}
	if (req.ImageRequired || req.ImageOnHost) && req.Image != "" {
		out = append(out, "i:"+req.Image)
	}
	return out
}

// ensure loads the index on first use and starts a background sync when one is due.
func (x *Index) ensure(ctx context.Context) error {
	if !x.loaded.Load() {
		x.load.Lock()
		defer x.load.Unlock()
		if !x.loaded.Load() {
			if err := x.Load(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	if time.Now().UnixNano()-x.syncedAt.Load() >= int64(x.SyncEvery) && x.syncing.CompareAndSwap(false, true) {
		go func() {
			defer x.syncing.Store(false)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = x.Sync(sctx)
		}()
	}
	return nil
}

// Load reads every host and its counters.
func (x *Index) Load(ctx context.Context) error {
	gen, err := x.store.HostGeneration(ctx)
	if err != nil {
		return err
	}
	hosts, err := x.store.ListHosts(ctx)
	if err != nil {
		return err
	}
	if err := x.apply(ctx, hosts, nil); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	x.gen.Store(gen)
	x.syncedAt.Store(now)
	x.fullAt.Store(now)
	x.loaded.Store(true)
	return nil
}

// Sync marks hosts that missed their heartbeats, reloads the hosts changed since the
// last sync, takes the heartbeats since and, every FullEvery, every host's counters.
func (x *Index) Sync(ctx context.Context) error {
	now := time.Now()
	x.syncedAt.Store(now.UnixNano())
	if x.pol.StaleAfterMs > 0 && now.UnixNano()-x.markedAt.Load() >= int64(x.pol.StaleAfterMs)*int64(time.Millisecond)/4 {
		x.markedAt.Store(now.UnixNano())
		if _, err := x.store.MarkStaleHosts(ctx, x.store.Now()-x.pol.StaleAfterMs); err != nil {
			return err
		}
	}
	ids, gen, err := x.store.HostChanges(ctx, x.gen.Load())
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		hosts, err := x.store.GetHosts(ctx, ids...)
		if err != nil {
			return err
		}
		if err := x.apply(ctx, hosts, ids); err != nil {
			return err
		}
	}
	x.gen.Store(gen)
	if err := x.syncHeartbeats(ctx); err != nil {
		return err
	}
	every := int64(x.FullEvery) * int64(max(1, x.Len()/10_000))
	if now.UnixNano()-x.fullAt.Load() < every {
		return nil
	}
	x.fullAt.Store(now.UnixNano())
	x.mu.RLock()
	all := make([]string, 0, len(x.slots))
	for id := range x.slots {
		all = append(all, id)
	}
	x.mu.RUnlock()
	// In chunks: one pipeline of every host would hold Redis, and the index lock, long
	// enough to show in the latency of the placements running meanwhile.
	for ids := range slices.Chunk(all, 256) {
		caps, err := x.store.HostCapacities(ctx, ids...)
		if err != nil {
			return err
		}
		x.mu.Lock()
		for i, id := range ids {
			if slot, ok := x.slots[id]; ok && x.entries[slot] != nil {
				x.observe(slot, x.entries[slot], caps[i])
			}
		}
		x.mu.Unlock()
	}
	return nil
}

// syncHeartbeats takes the times of the heartbeats since the newest it has read into
// the hosts' entries, for the heartbeat checker. It reads from no later than its own
// clock: one heartbeat stamped ahead (a gateway's clock ahead) must not hide the others.
func (x *Index) syncHeartbeats(ctx context.Context) error {
	newest := x.beatAt.Load()
	beats, err := x.store.HeartbeatsSince(ctx, min(newest, x.store.Now())-beatSlack)
	if err != nil || len(beats) == 0 {
		return err
	}
	x.mu.Lock()
	for _, b := range beats {
		newest = max(newest, b.At)
		slot, ok := x.slots[b.ID]
		if !ok || x.entries[slot] == nil || x.entries[slot].cand.Host.LastHeartbeat >= b.At {
			continue
		}
		// A copy: choices handed out hold the record, and read it without the lock.
		e := x.entries[slot]
		h := *e.cand.Host
		h.LastHeartbeat = b.At
		e.cand.Host = &h
	}
	x.mu.Unlock()
	x.beatAt.Store(newest)
	return nil
}

// apply upserts hosts (with their counters, read now) and removes the ids in changed
// that are gone.
func (x *Index) apply(ctx context.Context, hosts []*model.Host, changed []string) error {
	ids := make([]string, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
	}
	caps, err := x.store.HostCapacities(ctx, ids...)
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	present := make(map[string]bool, len(hosts))
	for i, h := range hosts {
		present[h.ID] = true
		slot, ok := x.slots[h.ID]
		if !ok {
			slot = int32(len(x.entries))
			x.entries = append(x.entries, nil)
			x.slots[h.ID] = slot
		}
		e := &entry{cand: Candidate{Host: h}, truth: caps[i]}
		if old := x.entries[slot]; old != nil {
			x.unlink(slot, old)
			e.pend = old.pend
			if old.truth.Ver > e.truth.Ver {
				e.truth = old.truth
			}
		}
		e.refresh()
		x.entries[slot] = e
		x.maxCPU = max(x.maxCPU, float64(caps[i].CPUTotal)*x.pol.CPURatio)
		x.maxMem = max(x.maxMem, float64(caps[i].MemTotal)*x.pol.MemRatio)
		x.link(slot, e)
	}
	for _, id := range changed {
		if slot, ok := x.slots[id]; ok && !present[id] {
			if e := x.entries[slot]; e != nil {
				x.unlink(slot, e)
			}
			x.entries[slot] = nil
			delete(x.slots, id)
		}
	}
	return nil
}

// link puts a READY host in its sets; unlink takes it out. Both hold x.mu.
func (x *Index) link(slot int32, e *entry) {
	e.key = score(&e.cand.Capacity, x.pol)
	if e.cand.Host.State != model.HostReady {
		e.sels = nil
		return
	}
	e.sels = selectors(e.cand.Host)
	e.sig = e.sig[:0]
	for _, s := range e.sels {
		b, ok := x.bits[s]
		if !ok {
			b = len(x.bits)
			x.bits[s] = b
		}
		for len(e.sig) <= b/64 {
			e.sig = append(e.sig, 0)
		}
		e.sig[b/64] |= 1 << (b % 64)
	}
	e.sels = slices.DeleteFunc(e.sels, func(s string) bool { return !ordered(s) })
	for _, s := range e.sels {
		t := x.sets[s]
		if t == nil {
			t = btree.NewG(16, less)
			x.sets[s] = t
		}
		t.ReplaceOrInsert(item{e.key, slot, e.sig0()})
	}
}

func (x *Index) unlink(slot int32, e *entry) {
	for _, s := range e.sels {
		if t := x.sets[s]; t != nil {
			t.Delete(item{key: e.key, slot: slot})
		}
	}
}

// rekey moves a host whose counters changed to its new place in its sets.
func (x *Index) rekey(slot int32, e *entry) {
	k := score(&e.cand.Capacity, x.pol)
	if k == e.key {
		return
	}
	for _, s := range e.sels {
		if t := x.sets[s]; t != nil {
			t.Delete(item{key: e.key, slot: slot})
			t.ReplaceOrInsert(item{k, slot, e.sig0()})
		}
	}
	e.key = k
}

// claim counts req as in flight on host (datastore ds) until settle.
func (x *Index) claim(host, ds string, req *Request) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.claimLocked(host, ds, req)
}

func (x *Index) claimLocked(host, ds string, req *Request) {
	if slot, ok := x.slots[host]; ok && x.entries[slot] != nil {
		e := x.entries[slot]
		e.pend.add(req, ds, 1)
		e.refresh()
		x.rekey(slot, e)
	}
}

// settle ends a claim with the host's counters as the reservation script answered them
// (the answer of a reservation newer than the one the index holds wins).
func (x *Index) settle(host, ds string, req *Request, c store.ReservedCounters) {
	x.mu.Lock()
	defer x.mu.Unlock()
	slot, ok := x.slots[host]
	if !ok || x.entries[slot] == nil {
		return
	}
	e := x.entries[slot]
	e.pend.add(req, ds, -1)
	t := e.truth
	if c.Ver >= t.Ver {
		t.CPUUsed, t.MemUsed, t.VMs, t.Ver = c.CPUUsed, c.MemUsed, c.VMs, c.Ver
		if d, ok := t.Datastores[ds]; ok {
			t.Datastores = maps.Clone(t.Datastores) // the old map may be read elsewhere
			d.Used = c.DatastoreUsed
			t.Datastores[ds] = d
		}
	}
	x.observe(slot, e, t)
}

// observe takes t as the host's counters unless the index holds newer ones (a higher
// Ver), and moves the host to its place in its sets. It holds x.mu.
func (x *Index) observe(slot int32, e *entry, t store.HostCapacity) {
	if t.Ver >= e.truth.Ver {
		e.truth = t
	}
	e.refresh()
	x.rekey(slot, e)
}

// choose returns up to n feasible hosts for req, best first, and claims the first.
func (x *Index) choose(req *Request, nowMs int64, n int) []Choice {
	x.mu.Lock()
	defer x.mu.Unlock()
	cs := x.candidates(req, nowMs, n)
	if len(cs) > 0 {
		x.claimLocked(cs[0].Host.ID, cs[0].Datastore, req)
	}
	return cs
}

// maxWalk bounds how many hosts a walk checks past the first feasible one while it looks
// for better ones (hosts with the image, hosts under a soft anti-affinity cap).
const maxWalk = 256

// Candidates returns up to n feasible hosts for req in the order to try them.
func (x *Index) Candidates(req *Request, nowMs int64, n int) []Choice {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.candidates(req, nowMs, n)
}

// candidates is Candidates with x.mu held.
func (x *Index) candidates(req *Request, nowMs int64, n int) []Choice {
	if req.Host != "" {
		slot, ok := x.slots[req.Host]
		if !ok || x.entries[slot] == nil {
			return nil
		}
		e := x.entries[slot]
		if ds, _, why := check(req, &e.cand, newEnv(req, x.pol, nowMs)); why.Reason == Fits {
			return []Choice{{Host: e.cand.Host, Datastore: ds, Score: e.key}}
		}
		return nil
	}
	var (
		set  *btree.BTreeG[item]
		need mask
	)
	for _, s := range requestSelectors(req) {
		b, ok := x.bits[s]
		if !ok {
			return nil // no host has it
		}
		if t := x.sets[s]; ordered(s) && (t == nil || t.Len() == 0) {
			return nil
		} else if ordered(s) && (set == nil || t.Len() < set.Len()) {
			set = t
		}
		need = append(need, struct {
			w int
			m uint64
		}{b / 64, 1 << (b % 64)})
	}
	var (
		good, other []Choice // other: feasible but without the image, or at a soft cap
		walked      int
	)
	var need0 uint64 // the bits of need in the first word
	for _, m := range need {
		if m.w == 0 {
			need0 |= m.m
		}
	}
	rest := need[:0:0]
	for _, m := range need {
		if m.w > 0 {
			rest = append(rest, m)
		}
	}
	env := newEnv(req, x.pol, nowMs)
	visit := func(it item) bool {
		if it.sig0&need0 != need0 {
			return true
		}
		e := x.entries[it.slot]
		if !e.matches(rest) {
			return true
		}
		ds, dsScore, why := check(req, &e.cand, env)
		if why.Reason != Fits {
			return true
		}
		c := Choice{Host: e.cand.Host, Datastore: ds, Score: it.key}
		if req.ByDatastore {
			c.Score = dsScore
		}
		if x.preferred(req, e, ds) {
			good = append(good, c)
		} else if len(other) < n {
			other = append(other, c)
		}
		if len(good)+len(other) > 0 {
			walked++
		}
		// Ranked by datastore, the sets' order is not the ranking's: rank all the hosts
		// walked, as Nomad ranks a limited number of feasible nodes.
		return (req.ByDatastore || len(good) < n) && walked < maxWalk
	}
	if req.Policy == model.PlacementPack {
		// A host with a score under lb cannot fit the request: skip them all at once.
		lb := 0.0
		if x.maxCPU > 0 && x.maxMem > 0 {
			lb = min(float64(req.CPU)/x.maxCPU, float64(req.MemoryMB)/x.maxMem)
		}
		set.AscendGreaterOrEqual(item{key: lb, slot: math.MaxInt32}, visit)
	} else {
		set.Descend(visit)
	}
	if req.Group != "" && !req.GroupHard {
		// Soft anti-affinity: past the hosts under the cap, the fewest members first.
		for i := 1; i < len(other); i++ {
			for j := i; j > 0 && req.GroupCounts[other[j].Host.ID] < req.GroupCounts[other[j-1].Host.ID]; j-- {
				other[j], other[j-1] = other[j-1], other[j]
			}
		}
	}
	if req.ByDatastore {
		sortChoices(good, req)
	}
	if req.Policy != model.PlacementPack {
		spread(good, req.VM, x.pol.spreadOver())
	}
	out := append(good, other...)
	return out[:min(len(out), n)]
}

// preferred: a host with the image on the chosen datastore and, in a soft anti-affinity
// group, under the cap.
func (x *Index) preferred(req *Request, e *entry, ds string) bool {
	if req.Group != "" && !req.GroupHard && req.GroupCounts[e.cand.Host.ID] >= req.groupCap() {
		return false
	}
	if req.Image == "" || req.ImageRequired {
		return true
	}
	for _, d := range e.cand.Host.Datastores {
		if d.Name == ds {
			for _, img := range d.Images {
				if img == req.Image {
					return true
				}
			}
		}
	}
	return false
}

// spread moves one of the best k choices, picked by the VM id, to the front: placements
// running at once see the same scores and would otherwise all pick the same host.
func spread(cs []Choice, vm string, k int) {
	if k = min(k, len(cs)); k > 1 {
		i := int(crc32.ChecksumIEEE([]byte(vm)) % uint32(k))
		c := cs[i]
		copy(cs[1:i+1], cs[:i])
		cs[0] = c
	}
}

// Explain runs every checker over every host, for the error of a failed placement.
func (x *Index) Explain(req *Request, nowMs int64) (hosts int, rej Rejections) {
	x.mu.RLock()
	cands := make([]Candidate, 0, len(x.slots))
	for _, e := range x.entries {
		if e != nil {
			cands = append(cands, e.cand)
		}
	}
	x.mu.RUnlock()
	_, rej = Feasible(*req, cands, x.pol, nowMs)
	return len(cands), rej
}

// Len is the number of hosts the index holds.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.slots)
}
