package devcloud_test

import (
	"net/netip"
	"testing"
)

// TestFloatingIP gives VMs floating IPs as the SDK does (POST /v1/vms/{id}/acquire_floating_ip,
// DELETE .../release_floating_ip) on a dev cloud and its NSX simulator: the address comes
// from the system's floating IP pool, the router of the VM's subnet gets its NAT rules,
// the project's sdn.floatingip.size quota is charged and bounds them, and a release or
// the VM's delete gives everything back.
func TestFloatingIP(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	f := setup(t, cl, 10)
	sim := c.NSXSim
	proj := "/v1/projects/" + f.project
	pq := proj + "/quota"

	r := cl.done("POST", proj+"/networks", map[string]any{"name": "net", "routingType": "ROUTED", "privateIpCidr": "10.0.0.0/16"}, "COMPLETED").Entity.ID
	s := cl.done("POST", "/v1/networks/"+r+"/subnets", map[string]any{"name": "s", "privateIpCidr": "10.0.1.0/24"}, "COMPLETED").Entity.ID
	a, b := vmSpec(f, "a"), vmSpec(f, "b")
	a["subnets"], b["subnets"] = []string{s}, []string{s}
	vmA := cl.done("POST", proj+"/vms", a, "COMPLETED").Entity.ID
	vmB := cl.done("POST", proj+"/vms", b, "COMPLETED").Entity.ID
	base := sim.Counts()

	// No pool yet: refused before anything starts.
	cl.expect("POST", "/v1/vms/"+vmA+"/acquire_floating_ip", map[string]any{"networkId": r}, 400, "StateError")
	pool := cl.done("POST", "/v1/subnets", map[string]any{"name": "public", "portGroups": map[string]any{"portGroups": []string{"VM Network"}},
		"privateIpCidr": "203.0.113.0/24"}, "COMPLETED").Entity.ID
	cl.done("POST", "/v1/subnets/"+pool+"/set_default", nil, "COMPLETED")
	cl.mutate("PATCH", "/v1/tenants/"+f.tenant+"/quota", map[string]quotaStatus{"sdn.floatingip.size": {Unit: "COUNT", Limit: 5}}, "UPDATE_QUOTA")
	cl.mutate("PATCH", pq, map[string]quotaStatus{"sdn.floatingip.size": {Unit: "COUNT", Limit: 1}}, "UPDATE_QUOTA")

	// Acquire on a: the address, two NAT rules, the quota.
	cl.expect("POST", "/v1/vms/"+vmA+"/acquire_floating_ip", map[string]any{"networkId": "elsewhere"}, 400, "InvalidEntity")
	tk := cl.done("POST", "/v1/vms/"+vmA+"/acquire_floating_ip", map[string]any{"networkId": r}, "COMPLETED")
	if tk.Operation != "ACQUIRE_FLOATING_IP" {
		t.Fatalf("acquire task %+v", tk)
	}
	var got struct {
		FloatingIP string `json:"floatingIp"`
	}
	cl.do("GET", "/v1/vms/"+vmA, nil, &got)
	if ip, err := netip.ParseAddr(got.FloatingIP); err != nil || !netip.MustParsePrefix("203.0.113.0/24").Contains(ip) {
		t.Fatalf("VM a's floating IP %q, want an address of the pool", got.FloatingIP)
	}
	if n := sim.Counts(); n.NATRules != base.NATRules+2 {
		t.Fatalf("NSX holds %+v, want a DNAT and an SNAT rule", n)
	}
	if u := cl.quota(pq)["sdn.floatingip.size"]; u.Usage != 1 {
		t.Fatalf("floating IP quota %+v, want 1 used", u)
	}
	cl.expect("POST", "/v1/vms/"+vmA+"/acquire_floating_ip", map[string]any{}, 400, "StateError")

	// b is over the quota: its chain fails at the quota step and leaks nothing.
	tk = cl.done("POST", "/v1/vms/"+vmB+"/acquire_floating_ip", map[string]any{}, "ERROR")
	if got := failedStep(tk.task); got != "RESERVE_FLOATING_IP_QUOTA" {
		t.Fatalf("b's acquire failed at %s: %+v", got, tk.Steps)
	}
	if n := sim.Counts(); n.NATRules != base.NATRules+2 {
		t.Fatalf("NSX holds %+v after the refused acquire", n)
	}

	// Release a, then acquire on b and delete b: everything comes back.
	cl.expect("DELETE", "/v1/vms/"+vmB+"/release_floating_ip", nil, 400, "StateError")
	if tk := cl.done("DELETE", "/v1/vms/"+vmA+"/release_floating_ip", nil, "COMPLETED"); tk.Operation != "RELEASE_FLOATING_IP" {
		t.Fatalf("release task %+v", tk)
	}
	got.FloatingIP = ""
	cl.do("GET", "/v1/vms/"+vmA, nil, &got)
	if got.FloatingIP != "" || sim.Counts().NATRules != base.NATRules || cl.quota(pq)["sdn.floatingip.size"].Usage != 0 {
		t.Fatalf("after the release: floating IP %q, NSX %+v, quota %+v", got.FloatingIP, sim.Counts(), cl.quota(pq))
	}
	cl.done("POST", "/v1/vms/"+vmB+"/acquire_floating_ip", map[string]any{"networkId": s}, "COMPLETED")
	cl.done("DELETE", "/v1/vms/"+vmB, nil, "COMPLETED")
	if conns, addrs, err := c.Store.SubnetUsage(t.Context(), pool); err != nil || conns != 0 || addrs != 0 {
		t.Fatalf("pool: %d connections, %d addresses left after the VM's delete (%v)", conns, addrs, err)
	}
	if n := sim.Counts(); n.NATRules != base.NATRules || cl.quota(pq)["sdn.floatingip.size"].Usage != 0 {
		t.Fatalf("after b's delete: NSX %+v, quota %+v", n, cl.quota(pq))
	}
	cl.done("DELETE", "/v1/vms/"+vmA, nil, "COMPLETED")
}
