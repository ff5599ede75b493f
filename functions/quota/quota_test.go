package quota_test

import (
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

func cpu(n float64) []model.QuotaLineItem {
	return []model.QuotaLineItem{{Key: "vm.cpu", Value: n, Unit: "COUNT"}}
}

// TestReserve: a create reserves the entity's cost in its project, once however often the
// event comes, unless a limit would be passed; a resize moves the reservation to the new
// cost. Another VM's reservation (vm-0 holds 1) is never touched. No host is asked.
func TestReserve(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		chain    *events.Chain
		limit    float64
		props    map[string]string
		want     string
		wantUsed float64
	}{
		{"VM create", &events.VMCreate, 4, nil, steptest.Done, 3},
		{"VM create past the limit", &events.VMCreate, 2, nil, steptest.Failed(errs.CodeQuotaError), 1},
		{"disk create", &events.DiskCreate, 4, nil, steptest.Done, 3},
		{"resize", &events.VMResize, 8, store.Resize{FlavorID: "large", Flavor: "large", CPU: 4, MemoryMB: 512, Cost: cpu(4)}.Props(),
			steptest.Done, 5},
		{"resize past the limit", &events.VMResize, 4, store.Resize{FlavorID: "large", Flavor: "large", CPU: 4, MemoryMB: 512, Cost: cpu(4)}.Props(),
			steptest.Failed(errs.CodeQuotaError), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			e.Quota(t, cpu(tc.limit)...)
			e.VM(t, &model.VM{ID: "vm-0", Name: "vm-0", State: model.VMStarted, Cost: cpu(1)}, nil)
			if err := e.Store.ReserveQuota(t.Context(), steptest.Project, "vm-0", cpu(1)); err != nil {
				t.Fatal(err)
			}
			task := e.NewTask(tc.chain, "e-1", steptest.Root, tc.props)
			if tc.chain.Kind == model.KindDisk {
				d := &model.PersistentDisk{ID: "e-1", Name: "e-1", TenantID: steptest.Tenant, ProjectID: steptest.Project,
					State: model.DiskCreating, Cost: cpu(2), ActiveTask: task.ID}
				if err := e.Store.CreateDisk(t.Context(), d, task); err != nil {
					t.Fatal(err)
				}
			} else {
				e.VM(t, &model.VM{ID: "e-1", Name: "e-1", State: model.VMStopped, Cost: cpu(2)}, task)
			}
			if tc.chain == &events.VMResize { // the VM holds its create's reservation
				if err := e.Store.ReserveQuota(t.Context(), steptest.Project, "e-1", cpu(2)); err != nil {
					t.Fatal(err)
				}
			}
			for try := range 2 { // the second is a replay
				reply, err := e.Do(t, tc.chain, task, 1)
				if got := e.Outcome(t, tc.chain, task, 1, reply, err); got != tc.want {
					t.Fatalf("try %d: outcome %s, want %s", try, got, tc.want)
				}
				if got := e.Used(t, "vm.cpu"); got != tc.wantUsed {
					t.Fatalf("try %d: vm.cpu used %v, want %v", try, got, tc.wantUsed)
				}
			}
			if got := h.Methods(); len(got) != 0 {
				t.Fatalf("host calls %v", got)
			}
		})
	}
}

// TestRelease: the undo of a reservation, and the delete chains' RELEASE_QUOTA, give back
// the entity's reservation alone, once; the undo of a resize moves it back to the VM's
// cost.
func TestRelease(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		chain    *events.Chain
		step     int
		undo     bool
		props    map[string]string
		wantUsed float64
	}{
		{"undo of a VM create", &events.VMCreate, 1, true, nil, 1},
		{"VM delete", &events.VMDelete, 4, false, nil, 1},
		{"undo of a resize", &events.VMResize, 1, true,
			store.Resize{FlavorID: "large", Flavor: "large", CPU: 4, MemoryMB: 512, Cost: cpu(4)}.Props(), 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			e.VM(t, &model.VM{ID: "vm-0", Name: "vm-0", State: model.VMStarted, Cost: cpu(1)}, nil)
			task := e.NewTask(tc.chain, "vm-1", steptest.Root, tc.props)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMStopped, Cost: cpu(2)}, task)
			for _, r := range []struct {
				vm   string
				cost float64
			}{{"vm-0", 1}, {"vm-1", 2}} {
				if err := e.Store.ReserveQuota(t.Context(), steptest.Project, r.vm, cpu(r.cost)); err != nil {
					t.Fatal(err)
				}
			}
			if tc.chain == &events.VMResize {
				e.MustDo(t, tc.chain, task, 1)
				if got := e.Used(t, "vm.cpu"); got != 5 {
					t.Fatalf("resized: vm.cpu used %v", got)
				}
			}
			for try := range 2 { // the second is a replay
				if tc.undo {
					if _, err := e.Undo(t, tc.chain, task, tc.step, errs.New(errs.CodeHostError, "later step failed")); err != nil {
						t.Fatal(err)
					}
				} else {
					e.MustDo(t, tc.chain, task, tc.step)
				}
				if got := e.Used(t, "vm.cpu"); got != tc.wantUsed {
					t.Fatalf("try %d: vm.cpu used %v, want %v", try, got, tc.wantUsed)
				}
			}
		})
	}
}
