package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// outboxSince reads the outbox entries after id ("0" for all) as "op kind id" lines, and
// the id of the last one.
func outboxSince(t *testing.T, s *store.Store, id string) ([]string, []map[string]any, string) {
	t.Helper()
	msgs, err := s.Redis().XRange(t.Context(), s.OutboxStream(), "("+id, "+").Result()
	if id == "0" {
		msgs, err = s.Redis().XRange(t.Context(), s.OutboxStream(), "-", "+").Result()
	}
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var vals []map[string]any
	for _, m := range msgs {
		lines = append(lines, fmt.Sprintf("%s %s %s", m.Values["op"], m.Values["kind"], m.Values["id"]))
		vals = append(vals, m.Values)
		id = m.ID
	}
	return lines, vals, id
}

func TestOutbox(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			ten, tt := tenant(s, "acme")
			p := &model.Project{ID: "p1", TenantID: ten.ID, Name: "p1", CreatedAt: s.Now()}
			vm := &model.VM{ID: "vm1", Name: "vm1", TenantID: ten.ID, ProjectID: p.ID, State: model.VMCreating, CreatedAt: s.Now()}
			task := func(id, op string, e model.Entity) *model.Task {
				return s.NewTask(id, op, e, model.Caller{}, []string{"step"})
			}
			vmEnt := model.Entity{ID: vm.ID, Kind: model.KindVM}
			cases := []struct {
				name string
				do   func(ctx context.Context) error
				err  error
				want []string
			}{
				{"create through Apply", func(ctx context.Context) error { return s.CreateTenant(ctx, ten, tt) },
					nil, []string{"create tenant t-acme", "create task task-t-acme"}},
				{"a refused Apply records nothing", func(ctx context.Context) error {
					t2, tt2 := tenant(s, "acme")
					t2.ID, tt2.ID = "other", "task-other"
					return s.CreateTenant(ctx, t2, tt2)
				}, errs.ErrNameTaken, nil},
				{"project", func(ctx context.Context) error {
					return s.CreateProject(ctx, p, task("tp", "CREATE_PROJECT", model.Entity{ID: p.ID, Kind: model.KindProject}))
				}, nil, []string{"create project p1", "create task tp"}},
				{"vm", func(ctx context.Context) error { return s.CreateVM(ctx, vm, task("t1", "CREATE_VM", vmEnt)) },
					nil, []string{"create vm vm1", "create task t1"}},
				{"update through compare-and-set", func(ctx context.Context) error {
					_, err := store.Update(ctx, s, model.KindVM, vm.ID, func(v *model.VM) error { v.State = model.VMStarted; return nil })
					return err
				}, nil, []string{"update vm vm1"}},
				{"an unchanged record records nothing", func(ctx context.Context) error {
					_, err := store.Update(ctx, s, model.KindVM, vm.ID, func(v *model.VM) error { return nil })
					return err
				}, nil, nil},
				{"StartTask, its WATCH failing once", func(ctx context.Context) error {
					first := true
					_, err := store.StartTask(ctx, s, model.KindVM, vm.ID, task("t2", "STOP_VM", vmEnt), func(v *model.VM) error {
						if first { // another writer changes the VM between the read and the EXEC
							first = false
							if _, err := store.Update(ctx, s, model.KindVM, vm.ID, func(v *model.VM) error { v.Name = "renamed"; return nil }); err != nil {
								return err
							}
						}
						v.ActiveTask = "t2"
						return nil
					})
					return err
				}, nil, []string{"update vm vm1", "update vm vm1", "create task t2"}},
				{"a VM edit writes the VM and its completed task", func(ctx context.Context) error {
					_, err := s.EditVM(ctx, vm.ID, s.NewTask("te", "ADD_TAG", vmEnt, model.Caller{}, nil), func(v *model.VM) error {
						v.Tags = append(v.Tags, "web")
						return nil
					})
					return err
				}, nil, []string{"update vm vm1", "create task te"}},
				{"a refused VM edit records nothing", func(ctx context.Context) error {
					_, err := s.EditVM(ctx, vm.ID, s.NewTask("tr", "ADD_TAG", vmEnt, model.Caller{}, nil), func(v *model.VM) error {
						v.Tags = append(v.Tags, "db")
						return errs.ErrConcurrentTask
					})
					return err
				}, errs.ErrConcurrentTask, nil},
				{"a VM edit's task is written completed, or not at all", func(ctx context.Context) error {
					_, err := s.EditVM(ctx, vm.ID, task("tq2", "ADD_TAG", vmEnt), func(v *model.VM) error { return nil })
					if err == nil {
						return errors.New("a QUEUED task was written")
					}
					return nil
				}, nil, nil},
				{"quota change (a batch piped by hand)", func(ctx context.Context) error {
					_, err := s.ChangeQuota(ctx, model.KindProject, p.ID, store.QuotaSet,
						[]model.QuotaLineItem{{Key: "vm.count", Value: 10, Unit: "COUNT"}}, s.NewTask("tq", "SET_QUOTA", model.Entity{ID: p.ID, Kind: model.KindProject}, model.Caller{}, nil))
					return err
				}, nil, []string{"update project p1", "create task tq"}},
				{"delete", func(ctx context.Context) error { return s.RemoveVM(ctx, vm) }, nil, []string{"delete vm vm1"}},
				{"deleting what is gone records nothing", func(ctx context.Context) error { return s.RemoveVM(ctx, vm) }, nil, nil},
				{"host registration", func(ctx context.Context) error {
					return s.RegisterHost(ctx, model.Host{ID: "h1", CPUCores: 4, MemoryMB: 1024, State: model.HostReady})
				}, nil, []string{"create host h1"}},
				{"registering again in the same state records nothing", func(ctx context.Context) error {
					return s.RegisterHost(ctx, model.Host{ID: "h1", CPUCores: 8, MemoryMB: 1024, State: model.HostReady})
				}, nil, nil},
				{"heartbeats record nothing", func(ctx context.Context) error {
					for i := range 5 {
						if _, err := s.HeartbeatHost(ctx, "h1", model.HostUsage{CPUUsedMhz: int64(i), VMCount: int32(i)}); err != nil {
							return err
						}
					}
					return nil
				}, nil, nil},
				{"a host missing heartbeats", func(ctx context.Context) error {
					_, err := s.MarkStaleHosts(ctx, s.Now()+1000)
					return err
				}, nil, []string{"update host h1"}},
				{"the heartbeat that brings it back", func(ctx context.Context) error {
					_, err := s.HeartbeatHost(ctx, "h1", model.HostUsage{CPUUsedMhz: 1})
					return err
				}, nil, []string{"update host h1"}},
				{"maintenance", func(ctx context.Context) error {
					_, err := s.UpdateHost(ctx, "h1", func(h *model.Host) error { h.State = model.HostMaintenance; return nil })
					return err
				}, nil, []string{"update host h1"}},
			}
			last := "0"
			for _, tc := range cases {
				if err := tc.do(ctx); !errors.Is(err, tc.err) {
					t.Fatalf("%s: %v, want %v", tc.name, err, tc.err)
				}
				var got []string
				got, _, last = outboxSince(t, s, last)
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: outbox got %q, want %q", tc.name, got, tc.want)
				}
			}

			// The entries carry the records: a create its new record, an update both, a
			// delete the old one.
			_, vals, _ := outboxSince(t, s, "0")
			for _, v := range vals {
				_, hasNew := v["new"]
				_, hasOld := v["old"]
				switch op := v["op"]; {
				case op == store.OutboxCreate && (!hasNew || hasOld),
					op == store.OutboxUpdate && (!hasNew || !hasOld),
					op == store.OutboxDelete && (hasNew || !hasOld):
					t.Errorf("entry %v: new %v, old %v", v["op"], hasNew, hasOld)
				}
			}
		})
	}
}
