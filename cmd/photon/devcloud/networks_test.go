package devcloud_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/shared/nsxsim"
)

// The JSON shapes of Photon's Go SDK (photon/apitypes.go) for routers and subnets.
type router struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	Name          string `json:"name"`
	PrivateIPCIDR string `json:"privateIpCidr"`
	IsDefault     bool   `json:"isDefault"`
	State         string `json:"state"`
}

type subnet struct {
	ID            string            `json:"id"`
	Kind          string            `json:"kind"`
	Name          string            `json:"name"`
	Description   string            `json:"description"`
	PrivateIPCIDR string            `json:"privateIpCidr"`
	ReservedIPs   map[string]string `json:"reservedIps"`
	State         string            `json:"state"`
	IsDefault     bool              `json:"isDefault"`
	PortGroups    struct {
		PortGroups []string `json:"portGroups"`
	} `json:"portGroups"`
}

type page[T any] struct {
	Items        []T    `json:"items"`
	NextPageLink string `json:"nextPageLink"`
}

type networkConnection struct {
	Network     string `json:"network"`
	MacAddress  string `json:"macAddress"`
	IPAddress   string `json:"ipAddress"`
	Netmask     string `json:"netmask"`
	IsConnected bool   `json:"isConnected"`
}

// done posts (or puts) and waits for the task, failing the test unless it ends in want.
func (c *client) done(method, path string, body any, want string) opTask {
	c.t.Helper()
	var tk opTask
	if st := c.do(method, path, body, &tk); st/100 != 2 || tk.ID == "" {
		c.t.Fatalf("%s %s: status %d", method, path, st)
	}
	if tk.State != "COMPLETED" && tk.State != "ERROR" {
		c.wait(tk.ID)
	}
	c.do("GET", "/v1/tasks/"+tk.ID, nil, &tk)
	if tk.State != want {
		c.t.Fatalf("%s %s: task %s %+v, want %s", method, path, tk.State, tk.Steps, want)
	}
	return tk
}

// all follows nextPageLink from path and returns every item and the number of pages.
func all[T any](c *client, path string) ([]T, int) {
	c.t.Helper()
	var out []T
	pages := 0
	for path != "" {
		var p page[T]
		if st := c.do("GET", path, nil, &p); st != 200 {
			c.t.Fatalf("GET %s: %d", path, st)
		}
		out, path, pages = append(out, p.Items...), p.NextPageLink, pages+1
	}
	return out, pages
}

// vmNetworks reads a VM's network connections as Photon's CLI does: GET_NETWORKS's task,
// whose resourceProperties.networkConnections is the array of connections.
func (c *client) vmNetworks(id string) []networkConnection {
	c.t.Helper()
	var tk struct {
		Operation          string `json:"operation"`
		State              string `json:"state"`
		ResourceProperties struct {
			NetworkConnections []networkConnection `json:"networkConnections"`
		} `json:"resourceProperties"`
	}
	if st := c.do("GET", "/v1/vms/"+id+"/subnets", nil, &tk); st != 200 || tk.Operation != "GET_NETWORKS" || tk.State != "COMPLETED" {
		c.t.Fatalf("GET /v1/vms/%s/subnets: %d %+v", id, st, tk)
	}
	return tk.ResourceProperties.NetworkConnections
}

// nsxObjects lists NSX objects from the simulator as NSX's own API shows them.
func nsxObjects(t *testing.T, sim *nsxsim.Server, path string, q url.Values) []map[string]any {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", sim.URL+"/api/v1/"+path+"?"+q.Encode(), nil)
	req.SetBasicAuth(nsxsim.DefaultUser, nsxsim.DefaultPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
	}
	return out.Results
}

// switchOf is the id of the NSX logical switch of Photon subnet id.
func switchOf(t *testing.T, sim *nsxsim.Server, id string) string {
	t.Helper()
	for _, s := range nsxObjects(t, sim, "logical-switches", nil) {
		for _, tag := range s["tags"].([]any) {
			if tg := tag.(map[string]any); tg["scope"] == "photon" && tg["tag"] == id {
				return s["id"].(string)
			}
		}
	}
	t.Fatalf("no logical switch for subnet %s", id)
	return ""
}

// portOf is the logical switch of the port of a VM's first NIC, "" when it has none.
func portOf(t *testing.T, sim *nsxsim.Server, vmID string) string {
	t.Helper()
	ports := nsxObjects(t, sim, "logical-ports", url.Values{"attachment_id": {vmID + "-nic-0"}})
	if len(ports) == 0 {
		return ""
	}
	return ports[0]["logical_switch_id"].(string)
}

// TestNetworks drives routers and subnets on one dev cloud (and its NSX simulator): a
// user's walk through them, then failures.
func TestNetworks(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	f := setup(t, cl, 10)
	t.Run("walk", func(t *testing.T) { walkNetworks(t, c, cl, f) })
	t.Run("faults", func(t *testing.T) { networkFaults(t, c, cl, f) })
}

// walkNetworks walks routers and subnets as a Photon SDK user would, with VMs on the
// subnets, checking what exists on NSX (the simulator) at each step and that the deletes
// leave nothing behind.
func walkNetworks(t *testing.T, c *devcloud.Cloud, cl *client, f fixture) {
	sim := c.NSXSim
	proj := "/v1/projects/" + f.project

	// Routers: create, refuse bad specs, list with paging, rename.
	r1 := cl.done("POST", proj+"/routers", map[string]any{"name": "r1", "privateIpCidr": "10.0.0.0/16"}, "COMPLETED").Entity.ID
	cl.done("POST", proj+"/routers", map[string]any{"name": "r2", "privateIpCidr": "10.1.0.0/16"}, "COMPLETED")
	r3 := cl.done("POST", proj+"/routers", map[string]any{"name": "r3", "privateIpCidr": "10.2.0.0/16"}, "COMPLETED").Entity.ID
	for _, tc := range []struct {
		name string
		spec map[string]any
		code string
	}{
		{"no name", map[string]any{"privateIpCidr": "10.3.0.0/16"}, "InvalidEntity"},
		{"not a CIDR", map[string]any{"name": "x", "privateIpCidr": "ten"}, "InvalidEntity"},
		{"name taken", map[string]any{"name": "r1", "privateIpCidr": "10.3.0.0/16"}, "NameTaken"},
	} {
		t.Run("router "+tc.name, func(t *testing.T) { cl.expect("POST", proj+"/routers", tc.spec, 400, tc.code) })
	}
	routers, pages := all[router](cl, proj+"/routers?pageSize=2")
	if len(routers) != 3 || pages != 2 || routers[0].ID != r1 || routers[0].Kind != "router" || routers[0].State != "READY" ||
		routers[0].PrivateIPCIDR != "10.0.0.0/16" {
		t.Fatalf("routers %+v in %d pages", routers, pages)
	}
	cl.done("PUT", "/v1/routers/"+r3, map[string]any{"name": "edge"}, "COMPLETED")
	var got router
	if cl.do("GET", "/v1/routers/"+r3, nil, &got); got.Name != "edge" {
		t.Fatalf("renamed router: %+v", got)
	}
	if n := sim.Counts(); n.Routers != 3 {
		t.Fatalf("NSX holds %+v, want 3 routers", n)
	}

	// Subnets on r1: two, refusals, paging, set_default, rename; delete r1 refused.
	s1 := cl.done("POST", "/v1/routers/"+r1+"/subnets", map[string]any{"name": "s1", "description": "front",
		"privateIpCidr": "10.0.1.0/24"}, "COMPLETED").Entity.ID
	// host bits set: the network is used, as Photon did
	s2 := cl.done("POST", "/v1/routers/"+r1+"/subnets", map[string]any{"name": "s2", "privateIpCidr": "10.0.2.9/24"}, "COMPLETED").Entity.ID
	var s2got subnet
	if cl.do("GET", "/v1/subnets/"+s2, nil, &s2got); s2got.PrivateIPCIDR != "10.0.2.0/24" {
		t.Fatalf("subnet made of 10.0.2.9/24: %+v", s2got)
	}
	for _, tc := range []struct{ name, cidr string }{
		{"overlapping", "10.0.1.128/25"}, {"covering", "10.0.0.0/22"}, {"outside the router", "192.168.0.0/24"}, {"too small", "10.0.3.0/31"},
	} {
		t.Run("subnet "+tc.name, func(t *testing.T) {
			cl.expect("POST", "/v1/routers/"+r1+"/subnets", map[string]any{"name": "x", "privateIpCidr": tc.cidr}, 400, "InvalidEntity")
		})
	}
	var sn subnet
	cl.do("GET", "/v1/subnets/"+s1, nil, &sn)
	if sn.Kind != "subnet" || sn.State != "READY" || sn.PrivateIPCIDR != "10.0.1.0/24" || sn.Description != "front" ||
		sn.ReservedIPs["GATEWAY"] != "10.0.1.1" || sn.IsDefault {
		t.Fatalf("subnet %+v", sn)
	}
	if n := sim.Counts(); n.Switches != 2 || n.RouterPorts != 2 || n.Ports != 2 {
		t.Fatalf("NSX holds %+v, want 2 switches linked to the router", n)
	}
	if subs, pages := all[subnet](cl, "/v1/routers/"+r1+"/subnets?pageSize=1"); len(subs) != 2 || pages != 2 || subs[0].ID != s1 {
		t.Fatalf("router subnets %+v in %d pages", subs, pages)
	}
	cl.done("POST", "/v1/subnets/"+s1+"/set_default", nil, "COMPLETED")
	cl.done("POST", "/v1/subnets/"+s2+"/set_default", nil, "COMPLETED")
	cl.done("PUT", "/v1/subnets/"+s2, map[string]any{"name": "back"}, "COMPLETED")
	subs, _ := all[subnet](cl, proj+"/subnets")
	if len(subs) != 2 || subs[0].IsDefault || !subs[1].IsDefault || subs[1].Name != "back" {
		t.Fatalf("project subnets %+v, want s2 renamed and the default", subs)
	}
	cl.expect("DELETE", "/v1/routers/"+r1, nil, 400, "StateError")

	// A port-group subnet (no NSX behind it), for an administrator to make.
	pg := cl.done("POST", "/v1/subnets", map[string]any{"name": "lab", "portGroups": map[string]any{"portGroups": []string{"VM Network"}},
		"privateIpCidr": "192.168.10.0/24"}, "COMPLETED").Entity.ID

	// VMs: two on s1, one on the project's default (s2), one on the port-group subnet.
	vms := map[string]string{}
	for _, v := range []struct{ name, subnet string }{{"a", s1}, {"b", s1}, {"c", ""}, {"d", pg}} {
		spec := vmSpec(f, v.name)
		if v.subnet != "" {
			spec["subnets"] = []string{v.subnet}
		}
		vms[v.name] = cl.done("POST", proj+"/vms", spec, "COMPLETED").Entity.ID
	}
	ips := map[string]bool{}
	for _, tc := range []struct {
		vm, subnet, cidr string
		nsx              bool
	}{{"a", s1, "10.0.1.0/24", true}, {"b", s1, "10.0.1.0/24", true}, {"c", s2, "10.0.2.0/24", true}, {"d", pg, "192.168.10.0/24", false}} {
		conns := cl.vmNetworks(vms[tc.vm])
		if len(conns) != 1 || conns[0].Network != tc.subnet || conns[0].MacAddress == "" || conns[0].Netmask != "255.255.255.0" || !conns[0].IsConnected {
			t.Fatalf("VM %s: connections %+v, want one on %s", tc.vm, conns, tc.subnet)
		}
		ip, err := netip.ParseAddr(conns[0].IPAddress)
		p := netip.MustParsePrefix(tc.cidr)
		if err != nil || !p.Contains(ip) || ip == p.Addr() || ip == p.Addr().Next() || ips[ip.String()] {
			t.Fatalf("VM %s: address %q, want a free host address of %s other than the gateway", tc.vm, conns[0].IPAddress, tc.cidr)
		}
		ips[ip.String()] = true
		want := ""
		if tc.nsx {
			want = switchOf(t, sim, tc.subnet)
		}
		if sw := portOf(t, sim, vms[tc.vm]); sw != want {
			t.Fatalf("VM %s: logical port on switch %q, want %q", tc.vm, sw, want)
		}
	}
	if n := sim.Counts(); n.Ports != 2+3 {
		t.Fatalf("NSX holds %+v, want 3 VM ports besides the router links", n)
	}
	cl.expect("DELETE", "/v1/subnets/"+s1, nil, 400, "StateError")
	cl.expect("DELETE", "/v1/subnets/"+pg, nil, 400, "StateError")

	// Deletes: VMs, then subnets, then routers; nothing is left on NSX or in Photon's IPAM.
	for _, id := range vms {
		cl.done("DELETE", "/v1/vms/"+id, nil, "COMPLETED")
	}
	for _, id := range []string{s1, s2, pg} {
		if conns, addrs, err := c.Store.SubnetUsage(t.Context(), id); err != nil || conns != 0 || addrs != 0 {
			t.Fatalf("subnet %s: %d connections, %d addresses left (%v)", id, conns, addrs, err)
		}
	}
	if n := sim.Counts(); n.Ports != 2 {
		t.Fatalf("NSX holds %+v after the VM deletes, want the router links only", n)
	}
	for _, id := range []string{s1, s2, pg} {
		cl.done("DELETE", "/v1/subnets/"+id, nil, "COMPLETED")
		cl.expect("GET", "/v1/subnets/"+id, nil, 404, "NotFound")
	}
	if subs, _ := all[subnet](cl, proj+"/subnets"); len(subs) != 0 {
		t.Fatalf("subnets left: %+v", subs)
	}
	for _, r := range routers {
		cl.done("DELETE", "/v1/routers/"+r.ID, nil, "COMPLETED")
	}
	if n := sim.Counts(); n != (nsxsim.Counts{}) {
		t.Fatalf("NSX holds %+v after every delete, want nothing", n)
	}
}

// networkFaults: a VM create that fails after wiresubnet gives back its address and port;
// NSX faults are retried when transient and fail the step when permanent, leaking nothing
// either way.
func networkFaults(t *testing.T, c *devcloud.Cloud, cl *client, f fixture) {
	sim := c.NSXSim
	proj := "/v1/projects/" + f.project
	r := cl.done("POST", proj+"/routers", map[string]any{"name": "faulty", "privateIpCidr": "10.0.0.0/16"}, "COMPLETED").Entity.ID

	// Transient: two 503s on the switch create are retried.
	sim.FailN("POST", "/api/v1/logical-switches", http.StatusServiceUnavailable, 2)
	s := cl.done("POST", "/v1/routers/"+r+"/subnets", map[string]any{"name": "s", "privateIpCidr": "10.0.1.0/24"}, "COMPLETED").Entity.ID
	base := sim.Counts()

	cases := []struct {
		name     string
		path     string // what fails, and how
		fail     func()
		spec     map[string]any
		wantStep string
	}{
		{name: "permanent NSX fault on the router link", path: "/v1/routers/" + r + "/subnets",
			fail: func() { sim.Fail("POST", "/api/v1/logical-router-ports", http.StatusBadRequest) },
			spec: map[string]any{"name": "t", "privateIpCidr": "10.0.2.0/24"}, wantStep: "CONNECT_LOGICAL_ROUTER"},
		{name: "permanent NSX fault on the VM's port", path: proj + "/vms",
			fail: func() { sim.Fail("POST", "/api/v1/logical-ports", http.StatusBadRequest) },
			spec: vmSpec(f, "no-port"), wantStep: "CONNECT_NETWORKS"},
		{name: "host refuses power on", path: proj + "/vms",
			fail: func() { c.Sims[0].FailMethod("PowerOnVM_Task") }, spec: vmSpec(f, "no-power"), wantStep: "START_VM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := tc.spec["flavor"]; ok {
				tc.spec["subnets"] = []string{s}
			}
			tc.fail()
			tk := cl.done("POST", tc.path, tc.spec, "ERROR")
			sim.ClearFaults()
			c.Sims[0].ClearFaults()
			if got := failedStep(tk.task); got != tc.wantStep {
				t.Fatalf("failed at %s, want %s: %+v", got, tc.wantStep, tk.Steps)
			}
			if n := sim.Counts(); n != base {
				t.Fatalf("NSX holds %+v after the failure, want %+v", n, base)
			}
			if conns, addrs, err := c.Store.SubnetUsage(t.Context(), s); err != nil || conns != 0 || addrs != 0 {
				t.Fatalf("subnet: %d connections, %d addresses left (%v)", conns, addrs, err)
			}
			// What failed can be deleted.
			kind := "/v1/vms/"
			if tk.Entity.Kind == "subnet" {
				kind = "/v1/subnets/"
			}
			cl.done("DELETE", kind+tk.Entity.ID, nil, "COMPLETED")
		})
	}
	var sn subnet
	if cl.do("GET", "/v1/subnets/"+s, nil, &sn); sn.State != "READY" {
		t.Fatalf("subnet %+v after the failures, want READY", sn)
	}
}
