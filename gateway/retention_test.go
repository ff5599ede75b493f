package gateway_test

import (
	"testing"
	"time"

	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// TestTaskRetention: a gateway deletes the tasks of an entity deleted longer than the
// task retention ago, and keeps a live entity's newest task.
func TestTaskRetention(t *testing.T) {
	t.Parallel()
	h := newHarness(t, func(o *gateway.Options) { o.TaskRetention = time.Millisecond })
	ctx := t.Context()
	gone := h.must(t, m("Tenants", "CreateTenant"), &pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "gone"}})
	h.must(t, m("Tenants", "DeleteTenant"), &pb.IdRequest{Id: gone})
	live := h.must(t, m("Tenants", "CreateTenant"), &pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "live"}})
	count := func(entity string) int {
		page, err := h.s.ListTasks(ctx, entity, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Items)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(20 * time.Second); count(gone) > 0; <-tick.C {
		if time.Now().After(deadline) {
			t.Fatalf("the deleted tenant still has %d tasks", count(gone))
		}
	}
	if n := count(live); n != 1 {
		t.Fatalf("the live tenant has %d tasks, want its newest", n)
	}
}
