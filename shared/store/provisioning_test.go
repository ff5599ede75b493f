package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestProvisioningLease: a gateway that dies without giving its lease back loses it when
// it runs out, and another takes the provisioning over; the record (and the password in
// it) goes when the provisioning ends.
func TestProvisioningLease(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	h := model.Host{ID: "h1", Name: "esx1", State: model.HostCreating, RegisteredAt: s.Now()}
	reg := &store.HostRegistration{ID: h.ID, Address: "esx1", Username: "root", CreatedAt: s.Now()}
	task := s.NewTask("t1", "CREATE_HOST", model.Entity{ID: h.ID, Kind: model.KindHost}, model.Caller{}, []string{"PROVISION_HOST"})
	p := &store.Provisioning{Host: h, TaskID: task.ID, Address: "esx1", Username: "root", Password: "secret"}
	a, b := store.Lease{Owner: "a", For: 300 * time.Millisecond}, store.Lease{Owner: "b", For: time.Minute}
	if err := s.CreateProvisionedHost(ctx, &h, reg, task, p, a); err != nil {
		t.Fatal(err)
	}
	if ids, err := s.Provisionings(ctx); err != nil || !slices.Equal(ids, []string{h.ID}) {
		t.Fatalf("provisionings = %v, %v", ids, err)
	}
	if _, ok, err := s.ClaimProvisioning(ctx, h.ID, b); err != nil || ok {
		t.Fatalf("b claimed a's live lease (%v)", err)
	}
	if held, err := s.RenewProvisioning(ctx, h.ID, a); err != nil || !held {
		t.Fatalf("a could not renew its lease (%v)", err)
	}
	// a dies: its lease runs out and b takes over.
	var got *store.Provisioning
	deadline := time.Now().Add(5 * time.Second)
	for got == nil {
		p, ok, err := s.ClaimProvisioning(ctx, h.ID, b)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			got = p
		} else if time.Now().After(deadline) {
			t.Fatal("b never took over a's lease")
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got.TaskID != task.ID || got.Password != "secret" || got.Host.ID != h.ID {
		t.Fatalf("b took over %+v", got)
	}
	if held, err := s.RenewProvisioning(ctx, h.ID, a); err != nil || held {
		t.Fatalf("a renewed a lease b took over (%v)", err)
	}
	if id, busy, err := s.ProvisioningTask(ctx, h.ID); err != nil || !busy || id != task.ID {
		t.Fatalf("provisioning task = %q, %v, %v", id, busy, err)
	}
	if err := s.EndProvisioning(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if _, busy, err := s.ProvisioningTask(ctx, h.ID); err != nil || busy {
		t.Fatalf("provisioning still recorded after its end (%v)", err)
	}
	if ids, err := s.Provisionings(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("provisionings after the end = %v, %v", ids, err)
	}
}
