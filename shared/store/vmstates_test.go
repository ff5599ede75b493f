package store_test

import (
	"context"
	"maps"
	"testing"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestVMStates: the counts of VMs by state move with every write of a VM (Apply, Update,
// a delete), a write that changes no state leaves them, and no count goes below zero.
func TestVMStates(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ten, tt := tenant(s, "acme")
			p := &model.Project{ID: "p1", TenantID: ten.ID, Name: "p1", CreatedAt: s.Now()}
			vm := func(id string) *model.VM {
				return &model.VM{ID: id, Name: id, TenantID: ten.ID, ProjectID: p.ID, State: model.VMCreating, CreatedAt: s.Now()}
			}
			task := func(id string) *model.Task {
				return s.NewTask(id, "CREATE_VM", model.Entity{ID: id, Kind: model.KindVM}, model.Caller{}, []string{"step"})
			}
			setState := func(ctx context.Context, id, state string) error {
				_, err := store.Update(ctx, s, model.KindVM, id, func(v *model.VM) error { v.State = state; return nil })
				return err
			}
			vm1, vm2 := vm("vm1"), vm("vm2")
			steps := []struct {
				name string
				do   func(ctx context.Context) error
				want map[string]int64
			}{
				{"no VM", func(context.Context) error { return nil }, map[string]int64{}},
				{"created", func(ctx context.Context) error {
					if err := s.CreateTenant(ctx, ten, tt); err != nil {
						return err
					}
					if err := s.CreateProject(ctx, p, task("tp")); err != nil {
						return err
					}
					return s.CreateVM(ctx, vm1, task("t1"))
				}, map[string]int64{model.VMCreating: 1}},
				{"created in bulk", func(ctx context.Context) error {
					return s.CreateVMs(ctx, task("parent"), []*model.VM{vm2}, []*model.Task{task("t2")})
				}, map[string]int64{model.VMCreating: 2}},
				{"started", func(ctx context.Context) error { return setState(ctx, vm1.ID, model.VMStarted) },
					map[string]int64{model.VMCreating: 1, model.VMStarted: 1}},
				{"a write that keeps the state", func(ctx context.Context) error {
					_, err := store.Update(ctx, s, model.KindVM, vm1.ID, func(v *model.VM) error { v.Name = "renamed"; return nil })
					return err
				}, map[string]int64{model.VMCreating: 1, model.VMStarted: 1}},
				{"deleted", func(ctx context.Context) error { return s.RemoveVM(ctx, vm1) }, map[string]int64{model.VMCreating: 1}},
				{"deleting what is gone", func(ctx context.Context) error { return s.RemoveVM(ctx, vm1) }, map[string]int64{model.VMCreating: 1}},
				{"the last one goes", func(ctx context.Context) error { return s.RemoveVM(ctx, vm2) }, map[string]int64{}},
			}
			for _, st := range steps {
				if err := st.do(t.Context()); err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				got, err := s.VMStates(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				if !maps.Equal(got, st.want) {
					t.Errorf("%s: counts %v, want %v", st.name, got, st.want)
				}
			}
		})
	}
}
