package store_test

import (
	"fmt"
	"testing"

	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// BenchmarkWrite measures the store's representative writes, the outbox included: a create
// through Apply (a VM and its task), a compare-and-set update (a task's state) and a
// WATCH transaction (StartTask on a VM).
func BenchmarkWrite(b *testing.B) {
	ctx := b.Context()
	s := storetest.New(b)
	ten, task := tenant(s, "bench")
	if err := s.CreateTenant(ctx, ten, task); err != nil {
		b.Fatal(err)
	}
	p := &store.Project{ID: "p", TenantID: ten.ID, Name: "p", CreatedAt: s.Now()}
	if err := s.CreateProject(ctx, p, s.NewTask("tp", "CREATE_PROJECT", store.Entity{ID: "p", Kind: store.KindProject}, store.Caller{}, nil)); err != nil {
		b.Fatal(err)
	}
	newVM := func(i int) (*store.VM, *store.Task) {
		vm := &store.VM{ID: fmt.Sprintf("vm%d", i), Name: "vm", TenantID: ten.ID, ProjectID: p.ID, State: store.VMCreating,
			Disks: []store.Disk{{ID: "d", Name: "boot", Boot: true, CapacityGB: 2}}, CreatedAt: s.Now()}
		return vm, s.NewTask(fmt.Sprintf("t%d", i), "CREATE_VM", store.Entity{ID: vm.ID, Kind: store.KindVM}, store.Caller{Subject: "u"},
			[]string{"authorize", "quota", "place", "vmhost", "attachdisk", "wiresubnet", "boot"})
	}
	b.Run("apply", func(b *testing.B) {
		i := 0
		for b.Loop() {
			vm, task := newVM(i)
			i++
			if err := s.CreateVM(ctx, vm, task); err != nil {
				b.Fatal(err)
			}
		}
	})
	vm, task := newVM(-1)
	if err := s.CreateVM(ctx, vm, task); err != nil {
		b.Fatal(err)
	}
	b.Run("update", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := s.UpdateTask(ctx, task.ID, func(t *store.Task) error {
				t.Steps[i%len(t.Steps)].State = fmt.Sprint(i)
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("starttask", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			t := s.NewTask(fmt.Sprintf("st%d", i), "STOP_VM", store.Entity{ID: vm.ID, Kind: store.KindVM}, store.Caller{}, []string{"poweroff"})
			if _, err := store.StartTask(ctx, s, store.KindVM, vm.ID, t, func(v *store.VM) error {
				v.ActiveTask = t.ID
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
