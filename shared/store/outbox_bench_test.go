package store_test

import (
	"fmt"
	"testing"

	"github.com/photon-cloud/photon/shared/model"
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
	p := &model.Project{ID: "p", TenantID: ten.ID, Name: "p", CreatedAt: s.Now()}
	if err := s.CreateProject(ctx, p, s.NewTask("tp", "CREATE_PROJECT", model.Entity{ID: "p", Kind: model.KindProject}, model.Caller{}, nil)); err != nil {
		b.Fatal(err)
	}
	newVM := func(i int) (*model.VM, *model.Task) {
		vm := &model.VM{ID: fmt.Sprintf("vm%d", i), Name: "vm", TenantID: ten.ID, ProjectID: p.ID, State: model.VMCreating,
			Disks: []model.Disk{{ID: "d", Name: "boot", Boot: true, CapacityGB: 2}}, CreatedAt: s.Now()}
		return vm, s.NewTask(fmt.Sprintf("t%d", i), "CREATE_VM", model.Entity{ID: vm.ID, Kind: model.KindVM}, model.Caller{Subject: "u"},
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
			if _, err := s.UpdateTask(ctx, task.ID, func(t *model.Task) error {
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
			t := s.NewTask(fmt.Sprintf("st%d", i), "STOP_VM", model.Entity{ID: vm.ID, Kind: model.KindVM}, model.Caller{}, []string{"poweroff"})
			if _, err := store.StartTask(ctx, s, model.KindVM, vm.ID, t, func(v *model.VM) error {
				v.ActiveTask = t.ID
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
