package place

import (
	"fmt"
	"strings"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestPlaceDisk: a persistent disk goes through the VM's placement engine against real
// Redis: the roomiest datastore of a READY host that heartbeats, after the reservations
// already made, matching its datastore affinities, within the policy's disk ratio; its
// reservation is kept across a replay and given back on release.
func TestPlaceDisk(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	now := s.Now()
	ds := func(name, typ string, gb int64, tags ...string) model.Datastore {
		return model.Datastore{ID: "id-" + name, Name: name, Type: typ, CapacityBytes: gb << 30, Tags: tags}
	}
	hostOf := func(id, state string, heartbeat int64, dss ...model.Datastore) model.Host {
		return model.Host{ID: id, State: state, LastHeartbeat: heartbeat, AvailabilityZone: "z1", CPUCores: 8,
			MemoryMB: 16 << 10, Tags: []string{model.HostTagCloud}, Datastores: dss}
	}
	// The silent host and the one in maintenance have the most room: placement must not
	// look at room first. Until a sync marks the silent host ERROR, the heartbeat checker
	// keeps it out.
	register(t, ctx, s, []model.Host{
		hostOf("ready", model.HostReady, now, ds("big", model.DatastoreVMFS, 100, "ssd"), ds("small", model.DatastoreNFS, 20, "archive")),
		hostOf("silent", model.HostReady, now-120_000, ds("huge", model.DatastoreVMFS, 1000, "ssd")),
		hostOf("maint", model.HostMaintenance, now, ds("huge2", model.DatastoreVMFS, 1000, "ssd")),
	})
	pol := Policy{CPURatio: 8, MemRatio: 1, DiskRatio: 1, StaleAfterMs: 60_000, SpreadOver: 1}
	strict, thin := New(s, pol), New(s, Policy{CPURatio: 8, MemRatio: 1, DiskRatio: 4, StaleAfterMs: 60_000, SpreadOver: 1})
	// A VM already placed on ready/small, for the vm affinity.
	if _, _, err := s.ReserveHost(ctx, "vm1", model.HostReservation{HostID: "ready", Datastore: "small", CPU: 1, MemoryMB: 512},
		pol.Ratios(), 0); err != nil {
		t.Fatal(err)
	}
	loc := func(kind, id string) model.Locality { return model.Locality{Kind: kind, ID: id} }
	cases := []struct {
		name    string
		f       *Function
		gb      int32
		aff     []model.Locality
		want    string // host/datastore
		code    string // or the error's code
		message string // and words of its message
	}{
		{"roomiest datastore of a live READY host", strict, 10, nil, "ready/big", "", ""},
		{"datastore type", strict, 5, []model.Locality{loc(model.LocalityDatastoreType, "nfs")}, "ready/small", "", ""},
		{"datastore tag over room", strict, 5, []model.Locality{loc(model.LocalityDatastoreTag, "archive")}, "ready/small", "", ""},
		{"datastore by id", strict, 1, []model.Locality{loc(model.LocalityDatastore, "id-small")}, "ready/small", "", ""},
		{"vm affinity: the VM's datastore", strict, 1, []model.Locality{loc(model.LocalityVM, "vm1")}, "ready/small", "", ""},
		{"no datastore with the tag", strict, 1, []model.Locality{loc(model.LocalityDatastoreTag, "nvme")}, "", errs.CodeNoSuchHost,
			"no datastore tagged nvme has room for a 1 GB disk: 3 hosts, 1 in state ERROR, 1 in state MAINTENANCE, 1 without a datastore tagged nvme"},
		// The failed placement above synced the index, which marked the silent host ERROR.
		{"only the silent host's datastore", strict, 1, []model.Locality{loc(model.LocalityDatastore, "huge")}, "", errs.CodeNoSuchHost,
			"1 in state ERROR"},
		// big holds 100 GB, 10 of them reserved above: 95 fits nowhere at 1:1.
		{"reservations count", strict, 95, nil, "", errs.CodeNotEnoughDisk, "1 rejected for datastore space"},
		{"the policy's disk ratio", thin, 95, nil, "ready/big", "", ""},
		{"vm affinity to a VM on no host", strict, 1, []model.Locality{loc(model.LocalityVM, "vm-none")}, "", errs.CodeStateError, "on no host"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := &model.PersistentDisk{ID: "disk" + string(rune('a'+i)), CapacityGB: tc.gb, Affinities: tc.aff}
			r, err := tc.f.PlaceDisk(ctx, d)
			if tc.code != "" {
				if e := errs.As(err); err == nil || e.Code != tc.code || !strings.Contains(e.Message, tc.message) {
					t.Fatalf("placed on %s/%s (%v), want %s with %q", r.HostID, r.Datastore, err, tc.code, tc.message)
				}
				if _, ok, _ := s.HostReservationOf(ctx, d.ID); ok {
					t.Fatal("a failed placement left a reservation")
				}
				return
			}
			if err != nil || r.HostID+"/"+r.Datastore != tc.want || r.DiskMB != int64(tc.gb)<<10 || r.CPU != 0 || r.MemoryMB != 0 {
				t.Fatalf("placed %+v (%v), want %s with %d GB", r, err, tc.want, tc.gb)
			}
		})
	}

	t.Run("replay and release", func(t *testing.T) {
		used := func() int64 {
			c, err := s.GetHostCapacity(ctx, "ready")
			if err != nil {
				t.Fatal(err)
			}
			return c.Datastores["big"].Used
		}
		before := used()
		d := &model.PersistentDisk{ID: "replayed", CapacityGB: 30}
		first, err := thin.PlaceDisk(ctx, d)
		if err != nil || used() != before+30<<10 {
			t.Fatalf("placed %+v (%v), big used %d, want %d", first, err, used(), before+30<<10)
		}
		again, err := thin.PlaceDisk(ctx, d)
		if err != nil || again != first || used() != before+30<<10 {
			t.Fatalf("replay placed %+v (%v), first %+v; big used %d", again, err, first, used())
		}
		if ok, err := s.ReleaseHost(ctx, d.ID); err != nil || !ok || used() != before {
			t.Fatalf("release: %v %v, big used %d, want %d", ok, err, used(), before)
		}
	})
}

// TestIndexRanksDisksByDatastore: for a disk, the index (whose sets are ordered by CPU
// and memory) ranks the hosts it walks by datastore room, and on a fleet within its walk
// it finds the roomiest datastore the exhaustive checkers find.
func TestIndexRanksDisksByDatastore(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	hosts := randomFleet(200, 31, s.Now())
	register(t, ctx, s, hosts)
	// Vary the datastores' use, so that their room orders them otherwise than the hosts'
	// CPU and memory do.
	for i, h := range hosts {
		if _, _, err := s.ReserveHost(ctx, fmt.Sprint("used", i), model.HostReservation{HostID: h.ID,
			Datastore: h.Datastores[0].Name, DiskMB: int64(i%17) * 100 << 10}, DefaultPolicy.Ratios(), 0); err != nil {
			t.Fatal(err)
		}
	}
	pol := DefaultPolicy
	pol.SpreadOver = 1
	idx := NewIndex(s, pol)
	if err := idx.Load(ctx); err != nil {
		t.Fatal(err)
	}
	cands := make([]Candidate, 0, len(hosts))
	for _, e := range idx.entries {
		cands = append(cands, e.cand)
	}
	reqs := []Request{
		{VM: "d1", DiskMB: 10 << 10},
		{VM: "d2", DiskMB: 10 << 10, DatastoreTags: []string{"ssd"}},
		{VM: "d3", DiskMB: 10 << 10, DatastoreType: model.DatastoreNFS, Zone: "z3"},
		{VM: "d4", DiskMB: 10 << 10, Policy: model.PlacementPack},
	}
	for _, req := range reqs {
		req.ByDatastore = true
		all, _ := Feasible(req, cands, pol, s.Now())
		got := idx.Candidates(&req, s.Now(), 4)
		if len(all) == 0 || len(got) == 0 {
			t.Fatalf("%s: index found %d, exhaustive %d", req.VM, len(got), len(all))
		}
		if got[0].Score != all[0].Score || got[0].Datastore != all[0].Datastore {
			t.Fatalf("%s: index chose %s/%s (%v), best is %s/%s (%v)", req.VM, got[0].Host.ID, got[0].Datastore, got[0].Score,
				all[0].Host.ID, all[0].Datastore, all[0].Score)
		}
	}
}
