package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/devredis"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// backends runs each test against the real redis-server and the embedded store that
// `photon up` uses.
func backends(t *testing.T) map[string]func(t *testing.T) *store.Store {
	return map[string]func(t *testing.T) *store.Store{
		"redis": func(t *testing.T) *store.Store { return storetest.New(t) },
		"embedded": func(t *testing.T) *store.Store {
			e, err := devredis.Start()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Close)
			opt, _ := redis.ParseURL(e.URL())
			c := redis.NewClient(opt)
			t.Cleanup(func() { c.Close() })
			return store.New(c, "")
		},
	}
}

func tenant(s *store.Store, name string) (*model.Tenant, *model.Task) {
	id := "t-" + name
	t := &model.Tenant{ID: id, Name: name, CreatedAt: s.Now()}
	return t, s.NewTask("task-"+id, "CREATE_TENANT", model.Entity{ID: id, Kind: model.KindTenant}, model.Caller{}, nil)
}

func TestTenantsAndProjects(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			ten, task := tenant(s, "acme")
			if err := s.CreateTenant(ctx, ten, task); err != nil {
				t.Fatal(err)
			}
			dup := &model.Tenant{ID: "other", Name: "acme"}
			if err := s.CreateTenant(ctx, dup, s.NewTask("x", "CREATE_TENANT", model.Entity{ID: "other"}, model.Caller{}, nil)); !errors.Is(err, errs.ErrNameTaken) {
				t.Fatalf("duplicate name: got %v, want NameTaken", err)
			}
			if _, err := store.Get[model.Tenant](ctx, s, model.KindTenant, "other"); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("failed create left state behind: %v", err)
			}
			p := &model.Project{ID: "p1", TenantID: ten.ID, Name: "web", CreatedAt: s.Now(),
				Limits: []model.QuotaLineItem{{Key: "vm.count", Value: 2, Unit: "COUNT"}}}
			if err := s.CreateProject(ctx, p, s.NewTask("tp", "CREATE_PROJECT", model.Entity{ID: "p1"}, model.Caller{}, nil)); err != nil {
				t.Fatal(err)
			}
			orphan := &model.Project{ID: "p2", TenantID: "nope", Name: "x"}
			if err := s.CreateProject(ctx, orphan, s.NewTask("tp2", "CREATE_PROJECT", model.Entity{ID: "p2"}, model.Caller{}, nil)); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("project in missing tenant: got %v, want NotFound", err)
			}
			if err := s.DeleteTenant(ctx, ten, s.NewTask("td", "DELETE_TENANT", model.Entity{ID: ten.ID}, model.Caller{}, nil)); !errors.Is(err, errs.ErrState) {
				t.Fatalf("delete tenant with projects: got %v, want StateError", err)
			}
			if err := s.DeleteProject(ctx, p, s.NewTask("tdp", "DELETE_PROJECT", model.Entity{ID: p.ID}, model.Caller{}, nil)); err != nil {
				t.Fatal(err)
			}
			if err := s.DeleteTenant(ctx, ten, s.NewTask("td2", "DELETE_TENANT", model.Entity{ID: ten.ID}, model.Caller{}, nil)); err != nil {
				t.Fatal(err)
			}
			if id, _ := s.LookupName(ctx, model.KindTenant, "", "acme"); id != "" {
				t.Fatalf("name still held by %s after delete", id)
			}
		})
	}
}

func TestListPages(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			for i := range 25 {
				ten, task := tenant(s, fmt.Sprintf("t%02d", i))
				ten.CreatedAt = int64(1000 + i)
				if err := s.CreateTenant(ctx, ten, task); err != nil {
					t.Fatal(err)
				}
			}
			for _, size := range []int{1, 7, 10, 25, 100} {
				var got []string
				cursor := ""
				for pages := 0; ; pages++ {
					page, err := s.ListTenants(ctx, size, cursor)
					if err != nil {
						t.Fatal(err)
					}
					if len(page.Items) > size {
						t.Fatalf("page of %d items for size %d", len(page.Items), size)
					}
					for _, it := range page.Items {
						got = append(got, it.Name)
					}
					if page.Next == "" {
						break
					}
					cursor = page.Next
				}
				if len(got) != 25 || got[0] != "t00" || got[24] != "t24" {
					t.Fatalf("size %d: got %d items %v", size, len(got), got)
				}
			}
			if _, err := s.ListTenants(ctx, 10, "!!!"); !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("bad cursor: %v", err)
			}
		})
	}
}

func TestQuota(t *testing.T) {
	cost := []model.QuotaLineItem{{Key: "vm.count", Value: 1}, {Key: "vm.memory", Value: 2}}
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			ten, task := tenant(s, "q")
			_ = s.CreateTenant(ctx, ten, task)
			p := &model.Project{ID: "p", TenantID: ten.ID, Name: "p",
				Limits: []model.QuotaLineItem{{Key: "vm.count", Value: 2}, {Key: "vm.memory", Value: 3}}}
			if err := s.CreateProject(ctx, p, s.NewTask("tp", "CREATE_PROJECT", model.Entity{ID: "p"}, model.Caller{}, nil)); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				do      func() error
				wantErr error
				used    float64 // vm.memory in use afterwards
			}{
				{func() error { return s.ReserveQuota(ctx, "p", "vm1", cost) }, nil, 2},
				{func() error { return s.ReserveQuota(ctx, "p", "vm1", cost) }, nil, 2}, // replay
				{func() error { return s.ReserveQuota(ctx, "p", "vm2", cost) }, errs.ErrQuota, 2},
				{func() error { _, err := s.ReleaseQuota(ctx, "p", "vm1"); return err }, nil, 0},
				{func() error { _, err := s.ReleaseQuota(ctx, "p", "vm1"); return err }, nil, 0}, // replay
				{func() error { return s.ReserveQuota(ctx, "p", "vm2", cost) }, nil, 2},
			}
			for i, st := range steps {
				if err := st.do(); !errors.Is(err, st.wantErr) && !(err == nil && st.wantErr == nil) {
					t.Fatalf("step %d: err %v, want %v", i, err, st.wantErr)
				}
				_, used, _, err := s.QuotaUsage(ctx, "p")
				if err != nil {
					t.Fatal(err)
				}
				if used["vm.memory"] != st.used {
					t.Fatalf("step %d: vm.memory used %v, want %v", i, used["vm.memory"], st.used)
				}
			}
		})
	}
}

// TestHostNeverOvercommitted reserves from many goroutines at once: the Lua check must
// keep the sum within the host's total.
func TestHostNeverOvercommitted(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			if err := s.RegisterHost(ctx, model.Host{ID: "h1", CPUCores: 16, MemoryMB: 1000, State: model.HostReady}); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			ok := 0
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, _, err := s.ReserveHost(ctx, fmt.Sprint("vm", i), model.HostReservation{HostID: "h1", CPU: 1, MemoryMB: 100}, store.Ratios{CPU: 4, Mem: 1}, 0)
					if err == nil {
						mu.Lock()
						ok++
						mu.Unlock()
					} else if !errors.Is(err, store.ErrHostFull) {
						t.Error(err)
					}
				}()
			}
			wg.Wait()
			c, err := s.GetHostCapacity(ctx, "h1")
			if err != nil {
				t.Fatal(err)
			}
			if ok != 10 || c.MemUsed != 1000 || c.VMs != 10 {
				t.Fatalf("reserved %d, capacity %+v; want 10 reservations filling 1000 MB", ok, c)
			}
			for i := range 40 {
				if _, err := s.ReleaseHost(ctx, fmt.Sprint("vm", i)); err != nil {
					t.Fatal(err)
				}
			}
			if c, _ := s.GetHostCapacity(ctx, "h1"); c.MemUsed != 0 || c.CPUUsed != 0 || c.VMs != 0 {
				t.Fatalf("after release: %+v", c)
			}
		})
	}
}
