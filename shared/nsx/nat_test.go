package nsx

import (
	"testing"
)

// TestFloatingIPRules: EnsureFloatingIP makes one DNAT and one SNAT rule on the router
// and a replay adds none; DeleteFloatingIP removes them, twice is fine, and a router that
// is gone counts as done; the simulator refuses rules NSX refuses.
func TestFloatingIPRules(t *testing.T) {
	sim, c := newSim(t)
	ctx := t.Context()
	router := okID(t)(c.EnsureRouter(ctx, "r1", "r1"))
	for range 2 {
		if err := c.EnsureFloatingIP(ctx, "vm1/floating-ip", router, "203.0.113.5", "10.0.1.2"); err != nil {
			t.Fatal(err)
		}
	}
	rules := sim.NATRules(router)
	if len(rules) != 2 {
		t.Fatalf("rules %+v, want a DNAT and an SNAT", rules)
	}
	for _, r := range rules {
		switch {
		case r.Action == "DNAT" && r.MatchDestinationNetwork == "203.0.113.5" && r.TranslatedNetwork == "10.0.1.2" && r.Enabled:
		case r.Action == "SNAT" && r.MatchSourceNetwork == "10.0.1.2" && r.TranslatedNetwork == "203.0.113.5" && r.Enabled:
		default:
			t.Fatalf("unexpected rule %+v", r)
		}
	}
	if err := c.EnsureFloatingIP(ctx, "vm2/floating-ip", router, "203.0.113.6", "10.0.1.3"); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.DeleteFloatingIP(ctx, "vm1/floating-ip", router); err != nil {
			t.Fatal(err)
		}
	}
	rules = sim.NATRules(router)
	for _, r := range rules {
		if r.TranslatedNetwork == "10.0.1.2" || r.MatchSourceNetwork == "10.0.1.2" {
			t.Fatalf("vm1's rule %+v is left", r)
		}
	}
	if len(rules) != 2 {
		t.Fatalf("after deleting vm1's rules: %+v, want vm2's two", rules)
	}
	if err := c.DeleteRouter(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := c.DeleteFloatingIP(ctx, "vm2/floating-ip", router); err != nil {
		t.Fatalf("delete on a router that is gone: %v", err)
	}
	if n := sim.Counts(); n.NATRules != 0 {
		t.Fatalf("the router's delete left %d NAT rules", n.NATRules)
	}
	router = okID(t)(c.EnsureRouter(ctx, "r2", "r2"))
	for _, tc := range []struct{ name, floating, private string }{
		{"not an address", "nowhere", "10.0.1.2"},
		{"backwards range", "203.0.113.9-203.0.113.1", "10.0.1.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.EnsureFloatingIP(ctx, "vm3/floating-ip", router, tc.floating, tc.private); err == nil {
				t.Fatal("the simulator took a rule NSX refuses")
			}
		})
	}
}
