package devcloud_test

import (
	"slices"
	"testing"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/hostd/hollow"
)

// TestHollowHosts: a dev cloud of hollow hosts alone registers them through the
// registrar like any host (READY, their capacity and datastores), and a VM created
// through the API runs on one, its disks and NIC on it.
func TestHollowHosts(t *testing.T) {
	t.Parallel()
	c, cl := cloudWith(t, 0, func(o *devcloud.Options) { o.HollowHosts = 2 })
	if len(c.Sims) != 0 || len(c.HostIDs) != 2 {
		t.Fatalf("%d simulated hosts and %d hosts, want 0 and 2", len(c.Sims), len(c.HostIDs))
	}
	for _, id := range c.HostIDs {
		h := cl.waitHost(id, "READY")
		if h.EsxVersion != hollow.Version || h.CPUCores != 32 || h.MemoryMB != 256<<10 || len(h.Datastores) != 1 {
			t.Fatalf("host %s registered as %+v", id, h)
		}
	}
	f := setup(t, cl, 10)
	tk := cl.wait(cl.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "web-1")).ID)
	if tk.State != "COMPLETED" {
		t.Fatalf("create ended %s: %+v", tk.State, tk.Steps)
	}
	var v vm
	if st := cl.do("GET", "/v1/vms/"+tk.Entity.ID, nil, &v); st != 200 {
		t.Fatalf("get vm: %d", st)
	}
	if v.State != "STARTED" || !slices.Contains(c.HostIDs, v.Host) || len(v.AttachedDisks) != 2 {
		t.Fatalf("vm = %+v, want STARTED with 2 disks on a hollow host", v)
	}
}
