package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// quotaFixture is a tenant limited to 2 VMs with project "a" (limited to 5) and project
// "b" (unlimited).
func quotaFixture(t *testing.T, s *store.Store, tenantCount, projectCount float64) *model.Tenant {
	t.Helper()
	ctx := t.Context()
	ten, task := tenant(s, "quota")
	if err := s.CreateTenantWithQuota(ctx, ten, []model.QuotaLineItem{{Key: "vm.count", Value: tenantCount, Unit: "COUNT"}}, task); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*model.Project{
		{ID: "a", TenantID: ten.ID, Name: "a", Limits: []model.QuotaLineItem{{Key: "vm.count", Value: projectCount, Unit: "COUNT"}}},
		{ID: "b", TenantID: ten.ID, Name: "b"},
	} {
		if err := s.CreateProject(ctx, p, s.NewTask("t"+p.ID, "CREATE_PROJECT", model.Entity{ID: p.ID}, model.Caller{}, nil)); err != nil {
			t.Fatal(err)
		}
	}
	return ten
}

func used(t *testing.T, s *store.Store, kind, id string) float64 {
	t.Helper()
	q, err := s.Quota(t.Context(), kind, id)
	if err != nil {
		t.Fatal(err)
	}
	if kind == model.KindProject && id == "b" { // unlimited: not in the quota, read the usage
		_, u, _, err := s.QuotaUsage(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return u["vm.count"]
	}
	return q["vm.count"].Usage
}

// TestTenantQuota: a project's reservation must fit its project's and its tenant's
// limits; a refused one charges nothing, a release gives back to both.
func TestTenantQuota(t *testing.T) {
	one := []model.QuotaLineItem{{Key: "vm.count", Value: 1, Unit: "COUNT"}}
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			ten := quotaFixture(t, s, 2, 5)
			steps := []struct {
				name           string
				do             func() error
				wantScope      string // "" for success
				tenant, pa, pb float64
			}{
				{"project a", func() error { return s.ReserveQuota(ctx, "a", "vm1", one) }, "", 1, 1, 0},
				{"project b", func() error { return s.ReserveQuota(ctx, "b", "vm2", one) }, "", 2, 1, 0 + 1},
				{"replay", func() error { return s.ReserveQuota(ctx, "b", "vm2", one) }, "", 2, 1, 1},
				{"project fits, tenant full", func() error { return s.ReserveQuota(ctx, "a", "vm3", one) }, "tenant", 2, 1, 1},
				{"release undoes both", func() error { _, err := s.ReleaseQuota(ctx, "a", "vm1"); return err }, "", 1, 0, 1},
				{"release replay", func() error { _, err := s.ReleaseQuota(ctx, "a", "vm1"); return err }, "", 1, 0, 1},
				{"room again", func() error { return s.ReserveQuota(ctx, "a", "vm3", one) }, "", 2, 1, 1},
				{"orphan project charges itself only", func() error { return s.ReserveQuota(ctx, "gone", "vm4", one) }, "", 2, 1, 1},
				{"orphan release", func() error { _, err := s.ReleaseQuota(ctx, "gone", "vm4"); return err }, "", 2, 1, 1},
			}
			for _, st := range steps {
				err := st.do()
				var e *errs.Error
				switch {
				case st.wantScope == "" && err != nil:
					t.Fatalf("%s: %v", st.name, err)
				case st.wantScope != "" && (!errors.As(err, &e) || e.Code != errs.CodeQuotaError || e.Data["scope"] != st.wantScope):
					t.Fatalf("%s: err %v, want QuotaError of the %s", st.name, err, st.wantScope)
				}
				if got := [3]float64{used(t, s, model.KindTenant, ten.ID), used(t, s, model.KindProject, "a"), used(t, s, model.KindProject, "b")}; got != [3]float64{st.tenant, st.pa, st.pb} {
					t.Fatalf("%s: used tenant, a, b = %v, want %v", st.name, got, [3]float64{st.tenant, st.pa, st.pb})
				}
			}
			if _, u, _, _ := s.QuotaUsage(ctx, "gone"); u["vm.count"] != 0 {
				t.Fatalf("orphan project still uses %v", u["vm.count"])
			}
		})
	}
}

// TestQuotaNeverOvercommitted reserves from many goroutines into two projects at once:
// neither a project nor the tenant may pass its limit, and every unit charged to a
// project is charged to the tenant.
func TestQuotaNeverOvercommitted(t *testing.T) {
	one := []model.QuotaLineItem{{Key: "vm.count", Value: 1, Unit: "COUNT"}}
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			ten := quotaFixture(t, s, 10, 7)
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Go(func() {
					p := []string{"a", "b"}[i%2]
					if err := s.ReserveQuota(ctx, p, fmt.Sprint("vm", i), one); err != nil && !errors.Is(err, errs.ErrQuota) {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			tu, a, b := used(t, s, model.KindTenant, ten.ID), used(t, s, model.KindProject, "a"), used(t, s, model.KindProject, "b")
			if tu != 10 || a > 7 || a+b != tu {
				t.Fatalf("used: tenant %v, a %v, b %v; want tenant 10 = a + b, a ≤ 7", tu, a, b)
			}
			for i := range 40 {
				if _, err := s.ReleaseQuota(ctx, []string{"a", "b"}[i%2], fmt.Sprint("vm", i)); err != nil {
					t.Fatal(err)
				}
			}
			if tu, a, b := used(t, s, model.KindTenant, ten.ID), used(t, s, model.KindProject, "a"), used(t, s, model.KindProject, "b"); tu+a+b != 0 {
				t.Fatalf("after release: tenant %v, a %v, b %v", tu, a, b)
			}
		})
	}
}

func TestNewLimits(t *testing.T) {
	limits := map[string]float64{"vm.count": 4, "vm.memory": 8}
	used := map[string]float64{"vm.count": 2, "vm.memory": 4}
	units := map[string]string{"vm.count": "COUNT", "vm.memory": "GB"}
	item := func(k string, v float64, u string) model.QuotaLineItem {
		return model.QuotaLineItem{Key: k, Value: v, Unit: u}
	}
	cases := []struct {
		name    string
		change  store.QuotaChange
		items   []model.QuotaLineItem
		want    map[string]float64
		wantErr string
	}{
		{"set replaces all", store.QuotaSet, []model.QuotaLineItem{item("vm.cpu", 3, "COUNT")}, map[string]float64{"vm.cpu": 3}, ""},
		{"update keeps others", store.QuotaUpdate, []model.QuotaLineItem{item("vm.count", 5, "COUNT")}, map[string]float64{"vm.count": 5, "vm.memory": 8}, ""},
		{"exclude removes", store.QuotaExclude, []model.QuotaLineItem{item("vm.memory", 0, "")}, map[string]float64{"vm.count": 4}, ""},
		{"limit at usage", store.QuotaUpdate, []model.QuotaLineItem{item("vm.count", 2, "COUNT")}, map[string]float64{"vm.count": 2, "vm.memory": 8}, ""},
		{"limit below usage", store.QuotaSet, []model.QuotaLineItem{item("vm.count", 1, "COUNT")}, nil, errs.CodeQuotaError},
		{"unit other than in use", store.QuotaUpdate, []model.QuotaLineItem{item("vm.memory", 16, "COUNT")}, nil, errs.CodeInvalidEntity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.NewLimits(tc.change, limits, used, units, tc.items)
			var e *errs.Error
			if tc.wantErr != "" {
				if !errors.As(err, &e) || e.Code != tc.wantErr {
					t.Fatalf("err %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("limits %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k].Value != v {
					t.Fatalf("limits %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestChangeQuota: a change is written with its task and is seen by the next reservation;
// a refused change writes nothing.
func TestChangeQuota(t *testing.T) {
	one := []model.QuotaLineItem{{Key: "vm.count", Value: 1, Unit: "COUNT"}}
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			ten := quotaFixture(t, s, 2, 5)
			if err := s.ReserveQuota(ctx, "a", "vm1", one); err != nil {
				t.Fatal(err)
			}
			task := s.NewTask("tq", "UPDATE_QUOTA", model.Entity{ID: ten.ID, Kind: model.KindTenant}, model.Caller{}, nil)
			if _, err := s.ChangeQuota(ctx, model.KindTenant, ten.ID, store.QuotaUpdate, []model.QuotaLineItem{{Key: "vm.count", Value: 0, Unit: "COUNT"}}, task); !errors.Is(err, errs.ErrQuota) {
				t.Fatalf("limit below usage: %v", err)
			}
			if _, err := s.GetTask(ctx, "tq"); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("refused change wrote its task: %v", err)
			}
			q, err := s.ChangeQuota(ctx, model.KindTenant, ten.ID, store.QuotaUpdate, []model.QuotaLineItem{{Key: "vm.count", Value: 1, Unit: "COUNT"}}, task)
			if err != nil || q["vm.count"] != (store.QuotaStatus{Unit: "COUNT", Limit: 1, Usage: 1}) {
				t.Fatalf("update: %v %v", q, err)
			}
			if _, err := s.GetTask(ctx, "tq"); err != nil {
				t.Fatal(err)
			}
			if err := s.ReserveQuota(ctx, "b", "vm2", one); !errors.Is(err, errs.ErrQuota) {
				t.Fatalf("reservation past the new tenant limit: %v", err)
			}
			ptask := s.NewTask("tp", "EXCLUDE_QUOTA", model.Entity{ID: "a", Kind: model.KindProject}, model.Caller{}, nil)
			if _, err := s.ChangeQuota(ctx, model.KindProject, "a", store.QuotaExclude, []model.QuotaLineItem{{Key: "vm.count"}}, ptask); err != nil {
				t.Fatal(err)
			}
			p, err := store.Get[model.Project](ctx, s, model.KindProject, "a")
			if err != nil || len(p.Limits) != 0 {
				t.Fatalf("project record keeps limits %v (%v)", p.Limits, err)
			}
			if _, err := s.ChangeQuota(ctx, model.KindProject, "nope", store.QuotaSet, nil, ptask); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("missing project: %v", err)
			}
		})
	}
}
