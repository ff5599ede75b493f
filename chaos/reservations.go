package chaos

import (
	"context"
	"math"
	"strings"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// failedCreate reports whether the workload saw the VM's create end in ERROR: its undo
// releases everything the create took.
func (k *checker) failedCreate(id string) bool {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	v := k.w.vms[id]
	return v != nil && v.failed
}

// holds says whether a VM or disk must hold reservations (1), must not (0), or may
// either (-1): a settled one holds them; one whose create failed holds none; one in ERROR
// after it was made (a failed delete, a vanished VM) keeps them until it is deleted.
func (k *checker) holds(id, state string) int {
	switch {
	case settled(state):
		return 1
	case k.failedCreate(id):
		return 0
	}
	return -1
}

// scan lists the ids after prefix of the keys prefix* in Redis: the reservation records,
// which the store keeps apart from the entities and the API does not show.
func (k *checker) scan(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	space := keyspace.Space(k.s.Prefix(), keyspace.Store) + prefix
	err := keyspace.Scan(ctx, k.rdb, space+"*", "", func(key string) error {
		out = append(out, strings.TrimPrefix(key, space))
		return nil
	})
	return out, err
}

// hostReservations: each VM's and persistent disk's reservation on its host (placement
// reserves a disk's datastore space as it reserves a VM's, counting it among the host's
// "vms"), against the entities that live and the counters the API reports per host and
// per datastore.
func (k *checker) hostReservations(ctx context.Context) error {
	ids, err := k.scan(ctx, "resv:host:")
	if err != nil {
		return err
	}
	type sum struct{ cpu, mem, vms flexInt }
	per := map[string]*sum{}
	perDS := map[string]flexInt{} // host id + "/" + datastore name → MB
	held := map[string]bool{}
	for _, id := range ids {
		resv, ok, err := k.s.HostReservationOf(ctx, id)
		if err != nil || !ok {
			continue
		}
		held[id] = true
		s := per[resv.HostID]
		if s == nil {
			s = &sum{}
			per[resv.HostID] = s
		}
		s.cpu, s.mem, s.vms = s.cpu+flexInt(resv.CPU), s.mem+flexInt(resv.MemoryMB), s.vms+1
		perDS[resv.HostID+"/"+resv.Datastore] += flexInt(resv.DiskMB)
		v, vm := k.vms[id]
		_, pd := k.pds[id]
		switch {
		case vm && settled(v.State) && resv.HostID != v.Host:
			k.r.note(&k.r.Leaked, "host reservation", "leaked: VM %s is on host %s but reserved on host %s", id, v.Host, resv.HostID)
		case vm || pd || k.ownedElsewhere(ctx, model.KindVM, id) || k.ownedElsewhere(ctx, model.KindDisk, id):
		default:
			k.r.note(&k.r.Leaked, "host reservation", "leaked: host %s keeps a reservation for %s, which is gone", resv.HostID, id)
		}
	}
	for _, id := range sortedKeys(k.vms) {
		v := k.vms[id]
		if want := k.holds(id, v.State); want >= 0 && held[id] != (want == 1) {
			k.r.note(&k.r.Leaked, "host reservation", "leaked: VM %s (%s) holds a host reservation: %v, wanted %v", id, v.State, held[id], want == 1)
		}
	}
	for _, id := range sortedKeys(k.pds) {
		if d := k.pds[id]; settled(d.State) && !held[id] {
			k.r.note(&k.r.Leaked, "host reservation", "leaked: disk %s (%s) holds no host reservation", id, d.State)
		}
	}
	for _, id := range sortedKeys(k.host) {
		h, s := k.host[id], per[id]
		if s == nil {
			s = &sum{}
		}
		if h.Reserved.Cpus != s.cpu || h.Reserved.MemoryMB != s.mem || h.Reserved.VMs != s.vms {
			k.r.note(&k.r.Leaked, "host counters", "leaked: host %s reports %+v reserved, its reservations add up to %+v", id, h.Reserved, *s)
		}
		for _, ds := range h.Datastores {
			if want := perDS[id+"/"+ds.Name]; ds.ReservedMB != want {
				k.r.note(&k.r.Leaked, "host counters", "leaked: datastore %s of host %s reports %d MB reserved, its reservations add up to %d",
					ds.Name, id, ds.ReservedMB, want)
			}
		}
	}
	return nil
}

// ownedElsewhere reports whether a VM or disk that is not in the run's project exists in
// Photon (one made outside the run): its reservations are none of the run's business.
func (k *checker) ownedElsewhere(ctx context.Context, kind, id string) bool {
	switch kind {
	case model.KindVM:
		v, err := store.Get[model.VM](ctx, k.s, model.KindVM, id)
		return err == nil && v.ProjectID != k.w.f.project
	default:
		d, err := store.Get[model.PersistentDisk](ctx, k.s, model.KindDisk, id)
		return err == nil && d.ProjectID != k.w.f.project
	}
}

// quota: each VM's and disk's quota reservation against the entities that live, and the
// project's use the API reports against the costs of those that hold one.
func (k *checker) quota(ctx context.Context) error {
	ids, err := k.scan(ctx, "resv:quota:")
	if err != nil {
		return err
	}
	held := map[string]bool{}
	for _, id := range ids {
		held[id] = true
		_, vm := k.vms[id]
		_, pd := k.pds[id]
		if !vm && !pd && !k.ownedElsewhere(ctx, model.KindVM, id) && !k.ownedElsewhere(ctx, model.KindDisk, id) {
			k.r.note(&k.r.Leaked, "quota", "leaked: quota stays reserved for %s, which is gone", id)
		}
	}
	want := map[string]float64{}
	add := func(cost []model.QuotaLineItem) {
		for _, c := range cost {
			want[c.Key] += c.Value
		}
	}
	for _, id := range sortedKeys(k.vms) {
		v := k.vms[id]
		if w := k.holds(id, v.State); w >= 0 && held[id] != (w == 1) {
			k.r.note(&k.r.Leaked, "quota", "leaked: VM %s (%s) holds quota: %v, wanted %v", id, v.State, held[id], w == 1)
		}
		if held[id] {
			add(v.Cost)
		}
	}
	for _, id := range sortedKeys(k.pds) {
		d := k.pds[id]
		if settled(d.State) && !held[id] {
			k.r.note(&k.r.Leaked, "quota", "leaked: disk %s (%s) holds no quota", id, d.State)
		}
		if held[id] {
			add(d.Cost)
		}
	}
	var q struct {
		QuotaItems map[string]struct {
			Unit         string
			Limit, Usage float64
		} `json:"quotaItems"`
	}
	if _, err := k.c.get(ctx, "/v1/projects/"+k.w.f.project+"/quota", &q); err != nil {
		return err
	}
	for _, key := range sortedKeys(q.QuotaItems) {
		if got := q.QuotaItems[key].Usage; math.Abs(got-want[key]) > 1e-6 {
			k.r.note(&k.r.Leaked, "quota", "leaked: the project uses %v of %s, its VMs and disks that hold quota cost %v", got, key, want[key])
		}
	}
	return nil
}
