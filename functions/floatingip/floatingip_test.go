package floatingip_test

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/model"
)

// TestAllocateAndFree: the acquire's step takes one address of the pool, adds the NAT
// rules on the router of the VM's subnet (with NSX) and records both on the VM with the
// address in its cost, once however often the event comes; its undo gives everything
// back, once too.
func TestAllocateAndFree(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		nsx      bool
		natRules int
	}{{"with NSX", true, 2}, {"without NSX", false, 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, client := steptest.NSX(t)
			var opts []functions.Option
			if tc.nsx {
				opts = append(opts, functions.WithNSX(client))
			}
			e := steptest.New(t, opts...)
			ctx := t.Context()
			lr, err := client.EnsureRouter(ctx, "r-1", "r-1")
			if err != nil {
				t.Fatal(err)
			}
			e.Router(t, &model.Router{ID: "r-1", Name: "r-1", PrivateIPCIDR: "10.0.0.0/16", NSXID: lr}, nil)
			e.RouterSubnet(t, &model.Subnet{ID: "sn-1", Name: "sn-1", RouterID: "r-1", PrivateIPCIDR: "10.0.1.0/24"}, nil)
			e.Subnet(t, &model.Subnet{ID: "pool", Name: "pool", PortGroups: []string{"VM Network"}, PrivateIPCIDR: "203.0.113.0/24",
				State: model.NetReady})
			chain := &events.VMAcquireFloatingIP
			task := e.NewTask(chain, "vm-1", steptest.Root, map[string]string{vmrules.PropFloatingPool: "pool", vmrules.PropFloatingNic: "nic-0"})
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: domain.VMStarted, Nics: []model.Nic{{ID: "nic-0", Network: "sn-1", IP: "10.0.1.5"}},
				Cost: []model.QuotaLineItem{{Key: domain.CostVMCount, Value: 1, Unit: "COUNT"}}}, task)

			for range 2 { // the second is a replay
				e.MustDo(t, chain, task, 2)
				vm := e.GetVM(t, "vm-1")
				ip, err := netip.ParseAddr(vm.FloatingIP)
				if err != nil || !netip.MustParsePrefix("203.0.113.0/24").Contains(ip) || vm.FloatingSubnet != "pool" || vm.FloatingNic != "nic-0" {
					t.Fatalf("VM %+v, want a floating IP of the pool on nic-0", vm)
				}
				if !slices.ContainsFunc(vm.Cost, func(c model.QuotaLineItem) bool { return c.Key == domain.CostFloatingIP && c.Value == 1 }) {
					t.Fatalf("VM cost %+v lacks one %s", vm.Cost, domain.CostFloatingIP)
				}
				if _, addrs, err := e.Store.SubnetUsage(ctx, "pool"); err != nil || addrs != 1 {
					t.Fatalf("pool holds %d addresses (%v), want 1", addrs, err)
				}
				if n := len(sim.NATRules(lr)); n != tc.natRules {
					t.Fatalf("%d NAT rules, want %d", n, tc.natRules)
				}
			}
			for range 2 {
				if _, err := e.Undo(t, chain, task, 2, nil); err != nil {
					t.Fatal(err)
				}
				vm := e.GetVM(t, "vm-1")
				if vm.FloatingIP != "" || vm.FloatingSubnet != "" || slices.ContainsFunc(vm.Cost, func(c model.QuotaLineItem) bool { return c.Key == domain.CostFloatingIP }) {
					t.Fatalf("after the undo: VM %+v", vm)
				}
				if _, addrs, err := e.Store.SubnetUsage(ctx, "pool"); err != nil || addrs != 0 {
					t.Fatalf("pool holds %d addresses (%v) after the undo", addrs, err)
				}
				if n := len(sim.NATRules(lr)); n != 0 {
					t.Fatalf("%d NAT rules after the undo", n)
				}
			}
		})
	}
}
