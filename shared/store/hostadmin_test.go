package store_test

import (
	"slices"
	"testing"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestPlacedOnHost: the VMs and persistent disks on a host are those that hold a
// reservation on it and whose record names it; a release takes one out, and Migrate
// fills the index of reservations made before the reservation scripts kept it.
func TestPlacedOnHost(t *testing.T) {
	ctx := t.Context()
	s, rdb := storetest.NewWithClient(t)
	for _, h := range []string{"h1", "h2"} {
		if err := s.RegisterHost(ctx, model.Host{ID: h, CPUCores: 64, MemoryMB: 1 << 20, State: model.HostReady}); err != nil {
			t.Fatal(err)
		}
	}
	ten, tt := tenant(s, "acme")
	if err := s.CreateTenant(ctx, ten, tt); err != nil {
		t.Fatal(err)
	}
	proj := &model.Project{ID: "p", TenantID: ten.ID, Name: "p", CreatedAt: s.Now()}
	if err := s.CreateProject(ctx, proj, s.NewTask("tp", "CREATE_PROJECT", model.Entity{ID: "p"}, model.Caller{}, nil)); err != nil {
		t.Fatal(err)
	}
	ratios := store.Ratios{CPU: 1, Mem: 1, Disk: 1}
	type thing struct {
		id, host string
		disk     bool
	}
	place := func(th thing) {
		t.Helper()
		if th.disk {
			d := &model.PersistentDisk{ID: th.id, ProjectID: "p", HostID: th.host, CreatedAt: s.Now()}
			if err := s.CreateDisk(ctx, d, s.NewTask("t"+d.ID, "CREATE_DISK", model.Entity{ID: d.ID}, model.Caller{}, nil)); err != nil {
				t.Fatal(err)
			}
		} else {
			vm := &model.VM{ID: th.id, ProjectID: "p", HostID: th.host, CreatedAt: s.Now()}
			if err := s.CreateVM(ctx, vm, s.NewTask("t"+vm.ID, "CREATE_VM", model.Entity{ID: vm.ID}, model.Caller{}, nil)); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.ReserveHost(ctx, th.id, model.HostReservation{HostID: th.host, CPU: 1, MemoryMB: 1}, ratios, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, th := range []thing{{"vm1", "h1", false}, {"vm2", "h1", false}, {"d1", "h1", true}, {"vm3", "h2", false}} {
		place(th)
	}
	// A VM whose record names h1 but which holds no reservation there (mid-undo) and a
	// reservation whose record is gone are both left out.
	vm4 := &model.VM{ID: "vm4", ProjectID: "p", HostID: "h1", CreatedAt: s.Now()}
	if err := s.CreateVM(ctx, vm4, s.NewTask("tvm4", "CREATE_VM", model.Entity{ID: "vm4"}, model.Caller{}, nil)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ReserveHost(ctx, "gone", model.HostReservation{HostID: "h1", CPU: 1, MemoryMB: 1}, ratios, 0); err != nil {
		t.Fatal(err)
	}

	check := func(step string, want map[string][]string) {
		t.Helper()
		for host, ids := range want {
			vms, err := s.VMsOnHost(ctx, host)
			if err != nil {
				t.Fatal(err)
			}
			disks, err := s.DisksOnHost(ctx, host)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vms {
				got = append(got, v.ID)
			}
			for _, d := range disks {
				got = append(got, d.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, ids) {
				t.Errorf("%s: on %s %v, want %v", step, host, got, ids)
			}
		}
	}
	check("placed", map[string][]string{"h1": {"d1", "vm1", "vm2"}, "h2": {"vm3"}, "h3": nil})

	if _, err := s.ReleaseHost(ctx, "vm2"); err != nil {
		t.Fatal(err)
	}
	check("released", map[string][]string{"h1": {"d1", "vm1"}, "h2": {"vm3"}})

	// The layout before the index: reservations only. Migrate builds it, once.
	if err := rdb.Del(ctx, s.Key("idx", "placed", "h1"), s.Key("idx", "placed", "h2"), s.Key("upgraded", "placed")).Err(); err != nil {
		t.Fatal(err)
	}
	check("before the upgrade", map[string][]string{"h1": nil, "h2": nil})
	for range 2 {
		if _, _, err := store.Migrate(ctx, rdb, s.Prefix()); err != nil {
			t.Fatal(err)
		}
	}
	check("upgraded", map[string][]string{"h1": {"d1", "vm1"}, "h2": {"vm3"}})
	if n, err := rdb.SCard(ctx, s.Key("idx", "placed", "h1")).Result(); err != nil || n != 3 { // d1, vm1, gone
		t.Fatalf("h1's placed index holds %d ids (%v), want 3", n, err)
	}
}
