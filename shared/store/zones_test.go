package store_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

func zoneTask(s *store.Store, op, id string) *model.Task {
	return s.NewTask("task-"+op+"-"+id, op, model.Entity{ID: id, Kind: model.KindZone}, model.Caller{}, nil)
}

func TestZones(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			var zones []*model.Zone
			for i := range 5 {
				z := &model.Zone{ID: fmt.Sprintf("z%d", i), Name: fmt.Sprintf("zone-%d", i), State: model.ZoneReady, CreatedAt: s.Now() + int64(i)}
				if err := s.CreateZone(ctx, z, zoneTask(s, "CREATE_AVAILABILITYZONE", z.ID)); err != nil {
					t.Fatal(err)
				}
				zones = append(zones, z)
			}
			cases := []struct {
				name string
				run  func() error
				want error
			}{
				{"duplicate name", func() error {
					return s.CreateZone(ctx, &model.Zone{ID: "dup", Name: "zone-1"}, zoneTask(s, "CREATE_AVAILABILITYZONE", "dup"))
				}, errs.ErrNameTaken},
				{"missing zone", func() error { _, err := s.GetZone(ctx, "nope"); return err }, errs.ErrNotFound},
				{"missing name", func() error { _, err := s.ZoneByName(ctx, "nope"); return err }, errs.ErrNotFound},
				{"delete missing", func() error {
					return s.DeleteZone(ctx, &model.Zone{ID: "nope", Name: "x"}, zoneTask(s, "DELETE_AVAILABILITYZONE", "nope"))
				}, errs.ErrNotFound},
			}
			for _, tc := range cases {
				if err := tc.run(); !errors.Is(err, tc.want) {
					t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
				}
			}
			if _, err := s.GetZone(ctx, "dup"); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("a refused create left a zone behind: %v", err)
			}
			if z, err := s.ZoneByName(ctx, "zone-3"); err != nil || z.ID != "z3" {
				t.Fatalf("by name: %+v %v", z, err)
			}
			if task, err := s.GetTask(ctx, "task-CREATE_AVAILABILITYZONE-z0"); err != nil || task.State != model.TaskCompleted {
				t.Fatalf("create task: %+v %v", task, err)
			}

			var got []string
			cursor := ""
			for pages := 0; ; pages++ {
				page, err := s.ListZones(ctx, 2, cursor)
				if err != nil || len(page.Items) > 2 || pages > 3 {
					t.Fatalf("page %d: %+v %v", pages, page, err)
				}
				for _, z := range page.Items {
					got = append(got, z.ID)
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			if fmt.Sprint(got) != "[z0 z1 z2 z3 z4]" {
				t.Fatalf("listed %v", got)
			}

			if err := s.DeleteZone(ctx, zones[1], zoneTask(s, "DELETE_AVAILABILITYZONE", "z1")); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetZone(ctx, "z1"); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("deleted zone: %v", err)
			}
			again := &model.Zone{ID: "z1b", Name: "zone-1", CreatedAt: s.Now() + 10}
			if err := s.CreateZone(ctx, again, zoneTask(s, "CREATE_AVAILABILITYZONE", again.ID)); err != nil {
				t.Fatalf("the name of a deleted zone is free again: %v", err)
			}
			page, err := s.ListZones(ctx, 0, "")
			if err != nil || len(page.Items) != 5 || page.Items[4].ID != "z1b" {
				t.Fatalf("after delete and create: %+v %v", page.Items, err)
			}
		})
	}
}

func TestHostRegistration(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := storetest.New(t)
	task := func(op, id string) *model.Task {
		return s.NewTask("task-"+op+"-"+id, op, model.Entity{ID: id, Kind: model.KindHost}, model.Caller{}, nil)
	}
	h := &model.Host{ID: "h1", Name: "10.0.0.1", State: model.HostCreating, Tags: []string{"CLOUD"}}
	reg := &store.HostRegistration{ID: "h1", Address: "10.0.0.1", Username: "root", CreatedAt: s.Now()}
	if err := s.CreateHost(ctx, h, reg, task("CREATE_HOST", "h1")); err != nil {
		t.Fatal(err)
	}
	dup := &store.HostRegistration{ID: "h2", Address: "10.0.0.1", Username: "root"}
	if err := s.CreateHost(ctx, &model.Host{ID: "h2", State: model.HostCreating}, dup, task("CREATE_HOST", "h2")); !errors.Is(err, errs.ErrNameTaken) {
		t.Fatalf("same address twice: %v", err)
	}
	if _, err := s.GetHost(ctx, "h2"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("a refused registration wrote a host: %v", err)
	}
	got, err := s.GetHost(ctx, "h1")
	if err != nil || got.State != model.HostCreating {
		t.Fatalf("registered host: %+v %v", got, err)
	}
	regs, err := s.HostRegistrations(ctx, "h1", "self-registered")
	if err != nil || regs[0] == nil || regs[0].Username != "root" || regs[1] != nil {
		t.Fatalf("registrations: %+v %v", regs, err)
	}
	// hostd joins under the id: READY, with the tags the administrator gave.
	if err := s.RegisterHost(ctx, model.Host{ID: "h1", Name: "esx-1", Address: "127.0.0.1:1", CPUCores: 8, MemoryMB: 1024}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetHost(ctx, "h1"); got.State != model.HostReady || !got.HasTag("CLOUD") {
		t.Fatalf("after hostd registered: %+v", got)
	}
	page, err := s.ListHostsPage(ctx, 10, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != "h1" {
		t.Fatalf("list hosts: %+v %v", page, err)
	}

	// VMsOnHost finds the VMs placed on the host across projects.
	ten, tt := tenant(s, "acme")
	if err := s.CreateTenant(ctx, ten, tt); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"pa", "pb"} {
		proj := &model.Project{ID: p, TenantID: ten.ID, Name: p, CreatedAt: s.Now()}
		if err := s.CreateProject(ctx, proj, s.NewTask("t"+p, "CREATE_PROJECT", model.Entity{ID: p}, model.Caller{}, nil)); err != nil {
			t.Fatal(err)
		}
		for i, host := range []string{"h1", "other", ""} {
			vm := &model.VM{ID: fmt.Sprintf("%s-vm%d", p, i), ProjectID: p, HostID: host, CreatedAt: s.Now()}
			if err := s.CreateVM(ctx, vm, s.NewTask("t"+vm.ID, "CREATE_VM", model.Entity{ID: vm.ID}, model.Caller{}, nil)); err != nil {
				t.Fatal(err)
			}
			if host == "h1" { // placed there, as the place step does: reservation first
				if _, _, err := s.ReserveHost(ctx, vm.ID, model.HostReservation{HostID: host, CPU: 1, MemoryMB: 64}, store.Ratios{CPU: 1, Mem: 1}, 0); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	vms, err := s.VMsOnHost(ctx, "h1")
	if err != nil || len(vms) != 2 || vms[0].HostID != "h1" || vms[1].HostID != "h1" {
		t.Fatalf("VMs on h1: %+v %v", vms, err)
	}

	if err := s.RemoveHost(ctx, "h1", task("DELETE_HOST", "h1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetHost(ctx, "h1"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("removed host: %v", err)
	}
	if regs, _ := s.HostRegistrations(ctx, "h1"); regs[0] != nil {
		t.Fatalf("registration outlived the host: %+v", regs[0])
	}
	if err := s.CreateHost(ctx, &model.Host{ID: "h3", State: model.HostCreating},
		&store.HostRegistration{ID: "h3", Address: "10.0.0.1"}, task("CREATE_HOST", "h3")); err != nil {
		t.Fatalf("the address of a removed host is free again: %v", err)
	}
}
