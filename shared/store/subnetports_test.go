package store_test

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestIPAM: concurrent allocations on one subnet never hand out one address twice, stay
// inside the host range, answer a replay with the same address, and fill the subnet
// exactly; releases give addresses back; a subnet with connections cannot be deleted.
func TestIPAM(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	sn := &model.Subnet{ID: "sn-1", Name: "lab", PortGroups: []string{"VM Network"}, PrivateIPCIDR: "10.9.0.0/27",
		State: model.NetReady, CreatedAt: s.Now()}
	task := s.NewTask("task-sn-1", "CREATE_SUBNET", model.Entity{ID: sn.ID, Kind: model.KindSubnet}, model.Caller{}, nil)
	if err := s.CreatePortGroupSubnet(ctx, sn, task); err != nil {
		t.Fatal(err)
	}
	first, last, _ := store.HostRange(sn.PrivateIPCIDR)
	const size = 29 // a /27 less network, gateway and broadcast
	var (
		mu   sync.Mutex
		got  = map[string]string{} // address → owner
		wg   sync.WaitGroup
		full int
	)
	for i := range size + 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("vm-%d/nic-0", i)
			ip, err := s.AllocateIP(ctx, sn.ID, owner)
			if errors.Is(err, errs.ErrState) {
				mu.Lock()
				full++
				mu.Unlock()
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			again, err := s.AllocateIP(ctx, sn.ID, owner)
			if err != nil || again != ip {
				t.Errorf("replay for %s: %s %v, want %s", owner, again, err, ip)
			}
			a := netip.MustParseAddr(ip)
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := got[ip]; dup || a.Less(first) || last.Less(a) {
				t.Errorf("%s got %s (held by %q, range %s-%s)", owner, ip, prev, first, last)
			}
			got[ip] = owner
		}()
	}
	wg.Wait()
	if len(got) != size || full != 3 {
		t.Fatalf("%d addresses handed out and %d refusals, want %d and 3", len(got), full, size)
	}
	if _, err := s.StartSubnetDelete(ctx, sn.ID, s.NewTask("task-del", "DELETE_SUBNET", model.Entity{ID: sn.ID, Kind: model.KindSubnet}, model.Caller{}, nil)); !errors.Is(err, errs.ErrState) {
		t.Fatalf("delete of a subnet in use: %v, want StateError", err)
	}
	for ip, owner := range got {
		if ok, err := s.ReleaseIP(ctx, sn.ID, owner); !ok || err != nil {
			t.Fatalf("release %s of %s: %v %v", ip, owner, ok, err)
		}
		if ok, _ := s.ReleaseIP(ctx, sn.ID, owner); ok {
			t.Fatalf("released %s twice", ip)
		}
	}
	if conns, addrs, err := s.SubnetUsage(ctx, sn.ID); conns != 0 || addrs != 0 || err != nil {
		t.Fatalf("after releases: %d connections, %d addresses, %v", conns, addrs, err)
	}
	if _, err := s.StartSubnetDelete(ctx, sn.ID, s.NewTask("task-del", "DELETE_SUBNET", model.Entity{ID: sn.ID, Kind: model.KindSubnet}, model.Caller{}, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AllocateIP(ctx, sn.ID, "late/nic-0"); !errors.Is(err, errs.ErrState) {
		t.Fatalf("allocation on a subnet being deleted: %v, want StateError", err)
	}
}
