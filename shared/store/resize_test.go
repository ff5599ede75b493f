package store_test

import (
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestResize moves a reservation's size up and down: growth is checked against the host
// and the quota, a refusal changes nothing, and releasing after a resize gives back what
// the reservation holds then.
func TestResize(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			if err := s.RegisterHost(ctx, model.Host{ID: "h1", CPUCores: 4, MemoryMB: 1000, State: model.HostReady}); err != nil {
				t.Fatal(err)
			}
			ratios := store.Ratios{CPU: 2, Mem: 1}
			if _, _, err := s.ReserveHost(ctx, "vm", model.HostReservation{HostID: "h1", CPU: 1, MemoryMB: 200}, ratios, 0); err != nil {
				t.Fatal(err)
			}
			task := func(id string) *model.Task { return s.NewTask(id, "CREATE", model.Entity{ID: id}, model.Caller{}, nil) }
			if err := s.CreateTenant(ctx, &model.Tenant{ID: "t", Name: "t"}, task("t")); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateProject(ctx, &model.Project{ID: "p", TenantID: "t", Name: "p",
				Limits: []model.QuotaLineItem{{Key: "vm.memory", Value: 1, Unit: "GB"}}}, task("p")); err != nil {
				t.Fatal(err)
			}
			mem := func(gb float64) []model.QuotaLineItem {
				return []model.QuotaLineItem{{Key: "vm.memory", Value: gb, Unit: "GB"}, {Key: "vm.count", Value: 1, Unit: "COUNT"}}
			}
			if err := s.ReserveQuota(ctx, "p", "vm", mem(0.25)); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				cpu, memMB int64
				gb         float64
				hostCode   string // the refusal's code, "" when it fits
				quotaCode  string
			}{
				{2, 800, 0.75, "", ""},
				{9, 800, 0.75, errs.CodeNotEnoughCapacity, ""}, // 9 vCPUs > 4 × 2
				{2, 1200, 2, errs.CodeNotEnoughMemory, errs.CodeQuotaError},
				{1, 100, 0.1, "", ""},
			}
			wantCPU, wantMem, wantGB := int64(2), int64(800), 0.75
			for i, st := range steps {
				err := s.ResizeHost(ctx, "vm", st.cpu, st.memMB, ratios)
				if code := errs.As(err); (st.hostCode == "" && err != nil) || (st.hostCode != "" && (code == nil || code.Code != st.hostCode)) {
					t.Fatalf("step %d: host resize %v, want %q", i, err, st.hostCode)
				}
				err = s.ResizeQuota(ctx, "p", "vm", mem(st.gb))
				if code := errs.As(err); (st.quotaCode == "" && err != nil) || (st.quotaCode != "" && (code == nil || code.Code != st.quotaCode)) {
					t.Fatalf("step %d: quota resize %v, want %q", i, err, st.quotaCode)
				}
				if st.hostCode == "" {
					wantCPU, wantMem = st.cpu, st.memMB
				}
				if st.quotaCode == "" {
					wantGB = st.gb
				}
				c, _ := s.GetHostCapacity(ctx, "h1")
				_, used, _, _ := s.QuotaUsage(ctx, "p")
				if c.CPUUsed != wantCPU || c.MemUsed != wantMem || used["vm.memory"] != wantGB || used["vm.count"] != 1 {
					t.Fatalf("step %d: host %+v, quota %v; want %d vCPU, %d MB, %v GB", i, c, used, wantCPU, wantMem, wantGB)
				}
			}
			if _, err := s.ReleaseHost(ctx, "vm"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.ReleaseQuota(ctx, "p", "vm"); err != nil {
				t.Fatal(err)
			}
			c, _ := s.GetHostCapacity(ctx, "h1")
			_, used, _, _ := s.QuotaUsage(ctx, "p")
			if c.CPUUsed != 0 || c.MemUsed != 0 || used["vm.memory"] != 0 {
				t.Fatalf("after release: host %+v, quota %v", c, used)
			}
		})
	}
}
