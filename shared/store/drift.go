package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Drift keys (the reconciler's, functions/reconcile):
//   - photon:drift:{host}: what the host's last passes found amiss, a hash: a field per
//     suspect ("vm:<id>" gone, "disk:<id>" file gone, "orphan:<orphan id>"), its value
//     "<passes in a row>:<first seen ms>"; a pass rewrites it whole, so a suspect the
//     pass did not find again starts over;
//   - photon:drift:pass:{host}: held by the pass under way on the host;
//   - photon:orphan:{id}: an orphan record (model.Orphan), in photon:idx:orphans and
//     photon:idx:orphans:{host}.
func (s *Store) driftKey(host string) string     { return s.key("drift", host) }
func (s *Store) driftPassKey(host string) string { return s.key("drift", "pass", host) }
func (s *Store) orphansIdx(host string) string {
	if host == "" {
		return s.key("idx", "orphans")
	}
	return s.key("idx", "orphans", host)
}

// DriftConfirmations is how many passes in a row must find a thing amiss before it is
// acted on: one read of a host's inventory can miss a VM it has (hostd.ListInventory).
const DriftConfirmations = 2

// A DriftPass is what one comparison of a host's inventory with Photon's records found
// (functions/reconcile decides it; ApplyDrift acts on it).
type DriftPass struct {
	Host string
	// ReadAt is when the host's read began (the host's clock, unix ms).
	ReadAt int64
	// GoneVMs are VMs placed on the host that it does not have; GoneDisks persistent
	// disks of the host whose file is not on their datastore.
	GoneVMs, GoneDisks []string
	// Orphans are what the host has that Photon does not account for (ID from OrphanID).
	Orphans []model.Orphan
}

// DriftResult is what ApplyDrift changed.
type DriftResult struct {
	// ErroredVMs and ErroredDisks were put in ERROR by this pass.
	ErroredVMs, ErroredDisks []string
	// Reported are the orphans first reported by this pass; Orphans every orphan of the
	// host the pass confirmed (those reported before included).
	Reported, Orphans []*model.Orphan
	// Cleared are the ids of orphans the pass no longer found, whose records went.
	Cleared []string
}

// OrphanID names an orphan of type typ called name on host, the same in every pass.
func OrphanID(host, typ, name string) string {
	return fmt.Sprintf("%s.%s.%x", host, typ, fnv64(name))
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// releaseIfOwner: KEYS the lock; ARGV the owner token.
var releaseIfOwner = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// renewIfOwner extends a lock its owner (ARGV[1]) still holds by ARGV[2] ms.
var renewIfOwner = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

// HoldDriftPass takes the host's pass lock: one pass per host at a time, so that "passes
// in a row" are passes one after the other. The lock lasts ttl and is renewed every ttl/3
// while it is held, so a pass of any length keeps it, and the host of a pass whose process
// died is free again within ttl. ok is false when another pass holds it; release lets it go.
func (s *Store) HoldDriftPass(ctx context.Context, host string, ttl time.Duration) (release func(), ok bool, err error) {
	token, key := strconv.FormatInt(time.Now().UnixNano(), 36), s.driftPassKey(host)
	ok, err = s.rdb.SetNX(ctx, key, token, ttl).Result()
	if err != nil || !ok {
		return func() {}, false, err
	}
	bg := context.WithoutCancel(ctx)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ttl / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				_ = renewIfOwner.Run(bg, s.rdb, []string{key}, token, ttl.Milliseconds()).Err()
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		_ = releaseIfOwner.Run(bg, s.rdb, []string{key}, token).Err()
	}, true, nil
}

// ApplyDrift records what a pass found and acts on what enough passes in a row found
// (DriftConfirmations): a gone VM or disk goes to ERROR with its reason (through the
// outbox: io.photon.vm.error, io.photon.disk.error), its reservations kept until its
// delete; an orphan is recorded (io.photon.orphan.created). The host's orphans the pass
// did not find are cleared (io.photon.orphan.deleted). A VM or disk a task holds, or whose
// last task ended after the read, is left alone (domain.VMGone, domain.DiskGone).
func (s *Store) ApplyDrift(ctx context.Context, p DriftPass) (DriftResult, error) {
	var res DriftResult
	now := s.Now()
	seen, err := s.countDrift(ctx, p, now)
	if err != nil {
		return res, err
	}
	confirmed := func(field string) (int64, bool) {
		c := seen[field]
		return c.first, c.n >= DriftConfirmations
	}
	res.ErroredVMs, err = markAllGone(ctx, s, model.KindVM, p, p.GoneVMs, confirmed, func(v *model.VM) bool {
		next, ok := domain.VMGone(v.State, v.ActiveTask)
		if v.HostID != p.Host || !ok {
			return false
		}
		v.State, v.StateReason = next, model.ReasonNotOnHost
		return true
	})
	if err != nil {
		return res, err
	}
	res.ErroredDisks, err = markAllGone(ctx, s, model.KindDisk, p, p.GoneDisks, confirmed, func(d *model.PersistentDisk) bool {
		next, ok := domain.DiskGone(d.State, d.ActiveTask)
		if d.HostID != p.Host || !ok {
			return false
		}
		d.State, d.StateReason = next, model.ReasonFileMissing
		return true
	})
	if err != nil {
		return res, err
	}
	for _, o := range p.Orphans {
		first, ok := confirmed(model.KindOrphan + ":" + o.ID)
		if !ok {
			continue
		}
		o.HostID, o.FirstSeen, o.ReportedAt = p.Host, first, now
		if o.State == "" {
			o.State = model.OrphanReported
		}
		cur, created, err := s.reportOrphan(ctx, &o)
		if err != nil {
			return res, err
		}
		if created {
			res.Reported = append(res.Reported, cur)
		}
		res.Orphans = append(res.Orphans, cur)
	}
	res.Cleared, err = s.clearOrphans(ctx, p.Host, seen)
	return res, err
}

type suspect struct{ n, first int64 }

// countDrift counts the pass in the host's suspects and returns them.
func (s *Store) countDrift(ctx context.Context, p DriftPass, now int64) (map[string]suspect, error) {
	old, err := s.rdb.HGetAll(ctx, s.driftKey(p.Host)).Result()
	if err != nil {
		return nil, fmt.Errorf("read drift of %s: %w", p.Host, err)
	}
	cur := map[string]suspect{}
	add := func(field string) {
		c := suspect{n: 1, first: now}
		if v, ok := old[field]; ok {
			n, first, _ := strings.Cut(v, ":")
			c.n, _ = strconv.ParseInt(n, 10, 64)
			c.first, _ = strconv.ParseInt(first, 10, 64)
			c.n++
		}
		cur[field] = c
	}
	for _, id := range p.GoneVMs {
		add(model.KindVM + ":" + id)
	}
	for _, id := range p.GoneDisks {
		add(model.KindDisk + ":" + id)
	}
	for _, o := range p.Orphans {
		add(model.KindOrphan + ":" + o.ID)
	}
	_, err = s.rdb.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		tx.Del(ctx, s.driftKey(p.Host))
		if len(cur) > 0 {
			fields := make([]any, 0, 2*len(cur))
			for f, c := range cur {
				fields = append(fields, f, fmt.Sprintf("%d:%d", c.n, c.first))
			}
			tx.HSet(ctx, s.driftKey(p.Host), fields...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("write drift of %s: %w", p.Host, err)
	}
	return cur, nil
}

// markAllGone applies gone (markGone) to the records of kind among ids that enough
// passes confirmed, and answers those it changed.
func markAllGone[T any](ctx context.Context, s *Store, kind string, p DriftPass, ids []string,
	confirmed func(field string) (int64, bool), gone func(*T) bool) ([]string, error) {
	var changed []string
	for _, id := range ids {
		if _, ok := confirmed(kind + ":" + id); !ok {
			continue
		}
		ok, err := markGone(ctx, s, kind, id, p, gone)
		if err != nil {
			return changed, err
		}
		if ok {
			changed = append(changed, id)
		}
	}
	return changed, nil
}

// markGone applies gone to the record kind/id unless its last task ended after the
// pass's read (the read may predate what that task did on the host). It reports whether
// the record changed.
func markGone[T any](ctx context.Context, s *Store, kind, id string, p DriftPass, gone func(*T) bool) (bool, error) {
	last, err := s.lastTaskEnd(ctx, id)
	if err != nil || last < 0 || last >= p.ReadAt-clockSlack {
		return false, err
	}
	changed := false
	_, err = Update(ctx, s, kind, id, func(v *T) error {
		changed = gone(v)
		if !changed {
			return ErrNoChange
		}
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return false, nil // deleted meanwhile
	}
	return changed, err
}

// reportOrphan writes o unless it is recorded already (that record is returned as it is).
func (s *Store) reportOrphan(ctx context.Context, o *model.Orphan) (*model.Orphan, bool, error) {
	cur, err := Get[model.Orphan](ctx, s, model.KindOrphan, o.ID)
	if err == nil {
		return cur, false, nil
	}
	if !errors.Is(err, errs.ErrNotFound) {
		return nil, false, err
	}
	member := indexMember(o.ReportedAt, o.ID)
	b := new(Batch).Absent(s.entityKey(model.KindOrphan, o.ID), "Orphan #"+o.ID).
		Put(s.entityKey(model.KindOrphan, o.ID), o).
		Index(s.orphansIdx(""), member).Index(s.orphansIdx(o.HostID), member)
	if err := s.Apply(ctx, b); err != nil {
		if errs.As(err).Code == errs.CodeNameTaken {
			cur, err := Get[model.Orphan](ctx, s, model.KindOrphan, o.ID)
			return cur, false, err // another pass recorded it meanwhile
		}
		return nil, false, err
	}
	return o, true, nil
}

// clearOrphans removes the host's orphans that the pass did not see.
func (s *Store) clearOrphans(ctx context.Context, host string, seen map[string]suspect) ([]string, error) {
	members, err := s.rdb.ZRange(ctx, s.orphansIdx(host), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list orphans of %s: %w", host, err)
	}
	var cleared []string
	for _, m := range members {
		id := memberID(m)
		if _, again := seen[model.KindOrphan+":"+id]; again {
			continue
		}
		if err := s.removeOrphan(ctx, host, m); err != nil {
			return cleared, err
		}
		cleared = append(cleared, id)
	}
	return cleared, nil
}

// removeOrphan deletes the orphan record of index member m on host.
func (s *Store) removeOrphan(ctx context.Context, host, m string) error {
	id := memberID(m)
	return s.Apply(ctx, new(Batch).Del(s.entityKey(model.KindOrphan, id)).
		Unindex(s.orphansIdx(""), m).Unindex(s.orphansIdx(host), m))
}

// ListOrphans pages through the orphans of host, or of every host when host is "".
func (s *Store) ListOrphans(ctx context.Context, host string, size int, cursor string) (Page[model.Orphan], error) {
	return List[model.Orphan](ctx, s, s.orphansIdx(host), model.KindOrphan, size, cursor)
}

// OrphanRemoving marks an orphan REMOVING (io.photon.orphan.removing) before the
// reconciler's remove policy deletes it from its host; the pass that no longer finds it
// clears the record.
func (s *Store) OrphanRemoving(ctx context.Context, id string) error {
	_, err := Update(ctx, s, model.KindOrphan, id, func(o *model.Orphan) error {
		if o.State == model.OrphanRemoving {
			return ErrNoChange
		}
		o.State = model.OrphanRemoving
		return nil
	})
	return err
}

// TakeTick reports whether the caller wins the period of length every of the timer
// named name: of the replicas that tick together, one wins each period.
func (s *Store) TakeTick(ctx context.Context, name string, every time.Duration) (bool, error) {
	return s.rdb.SetNX(ctx, s.key("tick", name), s.Now(), every).Result()
}

// TickCursor advances the cursor of the timer named name by n and returns where it
// ends: a timer that goes over a share of something each period resumes, on whichever
// replica wins the next period, where the last share ended.
func (s *Store) TickCursor(ctx context.Context, name string, n int64) (int64, error) {
	return s.rdb.IncrBy(ctx, s.key("tick", name, "cursor"), n).Result()
}

// VMsByID reads the VMs of ids in one round trip; missing ones are left out.
func (s *Store) VMsByID(ctx context.Context, ids []string) ([]*model.VM, error) {
	return getMany[model.VM](ctx, s, model.KindVM, ids)
}

// DisksByID reads the persistent disks of ids in one round trip; missing ones are left
// out.
func (s *Store) DisksByID(ctx context.Context, ids []string) ([]*model.PersistentDisk, error) {
	return getMany[model.PersistentDisk](ctx, s, model.KindDisk, ids)
}
