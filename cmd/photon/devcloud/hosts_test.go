package devcloud_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// The JSON shapes of Photon's Go SDK (photon/apitypes.go: Host, AvailabilityZone,
// Datastore), with the read-only fields Photon adds.
type host struct {
	ID               string            `json:"id"`
	Kind             string            `json:"kind"`
	Username         string            `json:"username"`
	Address          string            `json:"address"`
	AvailabilityZone string            `json:"availabilityZone"`
	Tags             []string          `json:"usageTags"`
	Metadata         map[string]string `json:"metadata"`
	SelfLink         string            `json:"selfLink"`
	State            string            `json:"state"`
	EsxVersion       string            `json:"esxVersion"`
	CPUCores         int               `json:"cpuCores"`
	MemoryMB         int64             `json:"memoryMb"`
	LastHeartbeat    int64             `json:"lastHeartbeat"`
	Datastores       []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"datastores"`
	Reserved struct {
		Cpus int64 `json:"cpus"`
		Vms  int64 `json:"vms"`
	} `json:"reserved"`
}

type zone struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	State    string `json:"state"`
	SelfLink string `json:"selfLink"`
}

type datastore struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Type     string   `json:"type"`
	Tags     []string `json:"tags"`
	SelfLink string   `json:"selfLink"`
	Hosts    []string `json:"hosts"`
	Capacity int64    `json:"capacityBytes"`
}

// opTask is a Task with its resourceProperties.
type opTask struct {
	task
	ResourceProperties map[string]string `json:"resourceProperties"`
}

// getHost reads a host, failing the test on anything but 200.
func (c *client) getHost(id string) host {
	c.t.Helper()
	var h host
	if st := c.do("GET", "/v1/infrastructure/hosts/"+id, nil, &h); st != 200 {
		c.t.Fatalf("get host %s: %d", id, st)
	}
	return h
}

// waitHost polls a host until it is in state or the deadline passes.
func (c *client) waitHost(id, state string) host {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h := c.getHost(id)
		if h.State == state {
			return h
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("host %s still %s, want %s", id, h.State, state)
		}
		time.Sleep(20 * time.Millisecond) // polling, as Photon clients do
	}
}

// expect sends a request and checks the status and, for errors, the ApiError code.
func (c *client) expect(method, path string, body any, status int, code string) opTask {
	c.t.Helper()
	var raw map[string]any
	st := c.do(method, path, body, &raw)
	var tk opTask
	if st/100 == 2 {
		c.do("GET", "/v1/tasks/"+str(raw["id"]), nil, &tk)
	}
	if st != status || (code != "" && raw["code"] != code) {
		c.t.Fatalf("%s %s: got %d %v, want %d %s", method, path, st, raw, status, code)
	}
	return tk
}

func str(v any) string { s, _ := v.(string); return s }

// TestHostFleet drives the host, zone and datastore API as an administrator would: a
// zone, a host registered through the API and provisioned by the dev cloud, zone moves,
// maintenance with a VM on the host, refused transitions, paged lists, deletes; and VM
// create affinities, anti-affinity and placement policy carried into the VM record.
func TestHostFleet(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	boot := c.HostIDs[0]

	// Zones.
	az := cl.create("/v1/zones", map[string]any{"name": "az-1"})
	if az.Operation != "CREATE_ZONE" || az.State != "COMPLETED" || az.Entity.Kind != "zone" {
		t.Fatalf("create zone answered %+v", az)
	}
	zoneID := az.Entity.ID
	var z zone
	if st := cl.do("GET", "/v1/zones/"+zoneID, nil, &z); st != 200 || z.Kind != "availability-zone" || z.Name != "az-1" ||
		z.State != "READY" || z.SelfLink != "/v1/zones/"+zoneID {
		t.Fatalf("get zone: %d %+v", st, z)
	}
	cl.expect("POST", "/v1/zones", map[string]any{"name": "az-1"}, 400, "NameTaken")
	cl.expect("POST", "/v1/zones", map[string]any{"name": " "}, 400, "InvalidEntity")

	// Register a host: CREATING at once, READY once the dev cloud has started its hostd.
	spec := map[string]any{"username": "root", "password": "hunter2", "address": "10.0.0.5",
		"usageTags": []string{"CLOUD"}, "metadata": map[string]string{"rack": "r1"}}
	for _, bad := range []struct {
		name string
		edit func(map[string]any)
		code string
	}{
		{"no password", func(m map[string]any) { delete(m, "password") }, "InvalidEntity"},
		{"no address", func(m map[string]any) { m["address"] = "" }, "InvalidEntity"},
		{"unknown zone", func(m map[string]any) { m["availabilityZone"] = "nope" }, "InvalidEntity"},
		{"a string for a list", func(m map[string]any) { m["usageTags"] = "CLOUD" }, "InvalidJson"},
	} {
		m := map[string]any{}
		for k, v := range spec {
			m[k] = v
		}
		bad.edit(m)
		t.Run("register/"+bad.name, func(t *testing.T) {
			c := *cl
			c.t = t
			c.expect("POST", "/v1/infrastructure/hosts", m, 400, bad.code)
		})
	}
	reg := cl.create("/v1/infrastructure/hosts", spec)
	if reg.Operation != "CREATE_HOST" || reg.Entity.Kind != "host" || len(reg.Steps) != 1 || reg.Steps[0].Operation != "PROVISION_HOST" {
		t.Fatalf("register answered %+v", reg)
	}
	hid := reg.Entity.ID
	if done := cl.wait(reg.ID); done.State != "COMPLETED" {
		t.Fatalf("provisioning ended %s: %+v", done.State, done.Steps)
	}
	h := cl.waitHost(hid, "READY")
	if h.Kind != "host" || h.Username != "root" || h.Address != "10.0.0.5" || h.EsxVersion == "" || h.CPUCores == 0 ||
		h.LastHeartbeat == 0 || h.Metadata["rack"] != "r1" || !slices.Equal(h.Tags, []string{"CLOUD"}) ||
		h.SelfLink != "/v1/infrastructure/hosts/"+hid || len(h.Datastores) != 1 || h.Datastores[0].ID == "" {
		t.Fatalf("registered host = %+v", h)
	}
	cl.expect("POST", "/v1/infrastructure/hosts", spec, 400, "NameTaken") // the address is taken
	if body := cl.raw("GET", "/v1/infrastructure/hosts/"+hid); strings.Contains(body, "hunter2") || strings.Contains(body, "password") {
		t.Fatalf("the host answers with its password: %s", body)
	}
	if rec, err := c.Store.GetHost(t.Context(), hid); err != nil || strings.Contains(rec.Name+rec.Address, "hunter2") {
		t.Fatalf("host record %+v %v", rec, err)
	}

	// Its zone: only an existing one.
	cl.expect("POST", "/v1/infrastructure/hosts/"+hid+"/set_availability_zone", map[string]any{"availabilityZoneId": "nope"}, 400, "InvalidEntity")
	if tk := cl.expect("POST", "/v1/infrastructure/hosts/"+hid+"/set_availability_zone",
		map[string]any{"availabilityZoneId": zoneID}, 201, ""); tk.Operation != "SET_AVAILABILITYZONE" || tk.State != "COMPLETED" {
		t.Fatalf("set zone answered %+v", tk)
	}
	if h := cl.getHost(hid); h.AvailabilityZone != zoneID {
		t.Fatalf("zone not set: %+v", h)
	}

	// The boot host goes into maintenance (no VMs on it), so the new host takes the VM.
	if tk := cl.expect("POST", "/v1/infrastructure/hosts/"+boot+"/enter_maintenance", nil, 201, ""); tk.ResourceProperties["vmsRemaining"] != "0" {
		t.Fatalf("enter maintenance answered %+v", tk)
	}

	// A VM with affinities, anti-affinity and the placement policy of its flavor.
	f := setup(t, cl, 10)
	packed := cl.create("/v1/flavors", map[string]any{"name": "packed", "kind": "vm", "placementPolicy": "PACK",
		"cost": []quotaLineItem{{Key: "vm.cpu", Value: 1, Unit: "COUNT"}, {Key: "vm.memory", Value: 1, Unit: "GB"}}})
	var fl struct {
		PlacementPolicy string `json:"placementPolicy"`
	}
	if st := cl.do("GET", "/v1/flavors/"+packed.Entity.ID, nil, &fl); st != 200 || fl.PlacementPolicy != "PACK" {
		t.Fatalf("flavor: %d %+v", st, fl)
	}
	cl.expect("POST", "/v1/flavors", map[string]any{"name": "odd", "kind": "vm", "placementPolicy": "RANDOM",
		"cost": []quotaLineItem{{Key: "vm.cpu", Value: 1, Unit: "COUNT"}, {Key: "vm.memory", Value: 1, Unit: "GB"}}}, 400, "InvalidEntity")
	vms := "/v1/projects/" + f.project + "/vms"
	withSpec := func(edit func(map[string]any)) map[string]any {
		s := vmSpec(f, "pinned")
		s["flavor"] = "packed"
		s["affinities"] = []map[string]string{{"kind": "host", "id": hid}, {"kind": "availabilityZone", "id": zoneID},
			{"kind": "hostTag", "id": "CLOUD"}}
		s["antiAffinity"] = map[string]any{"name": "web", "mode": "SOFT", "maxPerHost": 2}
		if edit != nil {
			edit(s)
		}
		return s
	}
	for _, bad := range []struct {
		name string
		edit func(map[string]any)
	}{
		{"unknown affinity kind", func(s map[string]any) { s["affinities"] = []map[string]string{{"kind": "rack", "id": "r1"}} }},
		{"affinity without id", func(s map[string]any) { s["affinities"] = []map[string]string{{"kind": "host", "id": ""}} }},
		{"anti-affinity mode", func(s map[string]any) { s["antiAffinity"] = map[string]any{"name": "web", "mode": "MAYBE"} }},
		{"anti-affinity without name", func(s map[string]any) { s["antiAffinity"] = map[string]any{"mode": "HARD"} }},
		{"bulk with a bad kind", func(s map[string]any) {
			s["count"] = 2
			s["affinities"] = []map[string]string{{"kind": "rack", "id": "r1"}}
		}},
	} {
		t.Run("vm/"+bad.name, func(t *testing.T) {
			c := *cl
			c.t = t
			c.expect("POST", vms, withSpec(bad.edit), 400, "InvalidEntity")
		})
	}
	vmTask := cl.create(vms, withSpec(nil))
	rec, err := store.Get[model.VM](t.Context(), c.Store, model.KindVM, vmTask.Entity.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantAff := []model.Locality{{Kind: "host", ID: hid}, {Kind: "availabilityZone", ID: zoneID}, {Kind: "hostTag", ID: "CLOUD"}}
	if !slices.Equal(rec.Affinities, wantAff) || rec.AntiAffinity == nil ||
		*rec.AntiAffinity != (model.AntiAffinity{Group: "web", Hard: false, MaxPerHost: 2}) || rec.Placement != model.PlacementPack {
		t.Fatalf("VM record: affinities %+v, anti-affinity %+v, placement %q", rec.Affinities, rec.AntiAffinity, rec.Placement)
	}
	if done := cl.wait(vmTask.ID); done.State != "COMPLETED" {
		t.Fatalf("VM create ended %s: %+v", done.State, done.Steps)
	}
	var v vm
	if cl.do("GET", "/v1/vms/"+vmTask.Entity.ID, nil, &v); v.Host != hid {
		t.Fatalf("VM placed on %q, want %s", v.Host, hid)
	}
	bulk := cl.create(vms, withSpec(func(s map[string]any) {
		s["name"], s["count"] = "many-{n}", 2
		s["antiAffinity"] = map[string]any{"name": "db"}
	}))
	cl.wait(bulk.ID)
	subs, err := c.Store.ListSubTasks(t.Context(), bulk.ID, 10, "")
	if err != nil || len(subs.Items) != 2 {
		t.Fatalf("bulk sub-tasks: %+v %v", subs, err)
	}
	for _, sub := range subs.Items {
		r, err := store.Get[model.VM](t.Context(), c.Store, model.KindVM, sub.Entity.ID)
		if err != nil || !slices.Equal(r.Affinities, wantAff) || r.AntiAffinity == nil ||
			*r.AntiAffinity != (model.AntiAffinity{Group: "db", Hard: true, MaxPerHost: 1}) {
			t.Fatalf("bulk VM record %+v %v", r, err)
		}
		if sub.State == "COMPLETED" { // a failed member was undone; a created one goes now
			cl.wait(cl.expect("DELETE", "/v1/vms/"+sub.Entity.ID, nil, 201, "").ID)
		}
	}

	// State transitions on the new host, one after the other: refused ones change nothing.
	hostOp := func(op string) string { return "/v1/infrastructure/hosts/" + hid + "/" + op }
	steps := []struct {
		method, path  string
		status        int
		code, state   string
		vmsRemaining  string
		wantOperation string
	}{
		{"POST", hostOp("exit_maintenance"), 400, "StateError", "READY", "", ""},
		{"POST", hostOp("resume"), 400, "StateError", "READY", "", ""},
		{"DELETE", "/v1/infrastructure/hosts/" + hid, 400, "StateError", "READY", "", ""},
		{"POST", hostOp("suspend"), 201, "", "SUSPENDED", "", "SUSPEND_HOST"},
		{"POST", hostOp("suspend"), 400, "StateError", "SUSPENDED", "", ""},
		{"POST", hostOp("resume"), 201, "", "READY", "", "RESUME_HOST"},
		{"POST", hostOp("suspend"), 201, "", "SUSPENDED", "", "SUSPEND_HOST"},
		{"POST", hostOp("enter_maintenance"), 201, "", "MAINTENANCE", "1", "ENTER_MAINTENANCE_MODE"},
		{"POST", hostOp("enter_maintenance"), 400, "StateError", "MAINTENANCE", "", ""},
		{"POST", hostOp("suspend"), 400, "StateError", "MAINTENANCE", "", ""},
		{"POST", hostOp("resume"), 400, "StateError", "MAINTENANCE", "", ""},
		{"DELETE", "/v1/infrastructure/hosts/" + hid, 400, "StateError", "MAINTENANCE", "", ""}, // a VM is on it
		{"POST", hostOp("exit_maintenance"), 201, "", "READY", "", "EXIT_MAINTENANCE_MODE"},
		{"POST", "/v1/hosts/" + hid + "/enter_maintenance", 201, "", "MAINTENANCE", "1", "ENTER_MAINTENANCE_MODE"}, // the SDK's path
	}
	for i, st := range steps {
		tk := cl.expect(st.method, st.path, nil, st.status, st.code)
		if st.wantOperation != "" && (tk.Operation != st.wantOperation || tk.State != "COMPLETED" ||
			tk.ResourceProperties["vmsRemaining"] != st.vmsRemaining) {
			t.Fatalf("step %d %s %s answered %+v", i, st.method, st.path, tk)
		}
		if h := cl.getHost(hid); h.State != st.state {
			t.Fatalf("step %d %s %s: host is %s, want %s", i, st.method, st.path, h.State, st.state)
		}
	}
	var onHost struct {
		Items []vm `json:"items"`
	}
	if st := cl.do("GET", hostOp("vms"), nil, &onHost); st != 200 || len(onHost.Items) != 1 || onHost.Items[0].ID != vmTask.Entity.ID {
		t.Fatalf("VMs on the host: %d %+v", st, onHost)
	}
	var hostTasks struct {
		Items []task `json:"items"`
	}
	if st := cl.do("GET", hostOp("tasks"), nil, &hostTasks); st != 200 || len(hostTasks.Items) < 8 || hostTasks.Items[0].Operation != "CREATE_HOST" {
		t.Fatalf("host tasks: %d %d", st, len(hostTasks.Items))
	}

	// Paged lists of hosts and datastores.
	var hostIDs []string
	for link, pages := "/v1/infrastructure/hosts?pageSize=1", 0; link != ""; pages++ {
		var page struct {
			Items        []host `json:"items"`
			NextPageLink string `json:"nextPageLink"`
		}
		if st := cl.do("GET", link, nil, &page); st != 200 || len(page.Items) > 1 || pages > 3 {
			t.Fatalf("hosts page %d: %d %+v", pages, st, page)
		}
		for _, h := range page.Items {
			hostIDs = append(hostIDs, h.ID)
		}
		link = page.NextPageLink
	}
	if slices.Sort(hostIDs); !slices.Equal(hostIDs, sorted(boot, hid)) {
		t.Fatalf("listed hosts %v", hostIDs)
	}
	var dss []datastore
	for link, pages := "/v1/infrastructure/datastores?pageSize=1", 0; link != ""; pages++ {
		var page struct {
			Items        []datastore `json:"items"`
			NextPageLink string      `json:"nextPageLink"`
		}
		if st := cl.do("GET", link, nil, &page); st != 200 || len(page.Items) > 1 || pages > 3 {
			t.Fatalf("datastores page %d: %d %+v", pages, st, page)
		}
		dss = append(dss, page.Items...)
		link = page.NextPageLink
	}
	var mounted []string
	for _, ds := range dss {
		if ds.Kind != "datastore" || ds.Type == "" || len(ds.Hosts) != 1 || ds.Capacity == 0 ||
			ds.SelfLink != "/v1/infrastructure/datastores/"+ds.ID {
			t.Fatalf("datastore %+v", ds)
		}
		mounted = append(mounted, ds.Hosts[0])
		var one datastore
		if st := cl.do("GET", ds.SelfLink, nil, &one); st != 200 || one.ID != ds.ID {
			t.Fatalf("get datastore %s: %d %+v", ds.ID, st, one)
		}
	}
	if slices.Sort(mounted); !slices.Equal(mounted, sorted(boot, hid)) {
		t.Fatalf("datastores of hosts %v, want one per host (a simulated host's local datastore is its own)", mounted)
	}
	cl.expect("GET", "/v1/infrastructure/datastores/nope", nil, 404, "NotFound")

	// Zones in use stay; empty ones go.
	cl.expect("DELETE", "/v1/zones/"+zoneID, nil, 400, "StateError")
	empty := cl.create("/v1/zones", map[string]any{"name": "az-2"}).Entity.ID
	var zl struct {
		Items        []zone `json:"items"`
		NextPageLink string `json:"nextPageLink"`
	}
	if st := cl.do("GET", "/v1/zones?pageSize=1", nil, &zl); st != 200 || len(zl.Items) != 1 || zl.Items[0].ID != zoneID || zl.NextPageLink == "" {
		t.Fatalf("zones page: %d %+v", st, zl)
	}
	if tk := cl.expect("DELETE", "/v1/zones/"+empty, nil, 201, ""); tk.Operation != "DELETE_ZONE" {
		t.Fatalf("delete zone answered %+v", tk)
	}
	cl.expect("GET", "/v1/zones/"+empty, nil, 404, "NotFound")

	// Who may do what: infrastructure is for system administrators; zones are readable.
	tok, _, err := c.Issuer.Sign(auth.Principal{Subject: "bob", Groups: []string{"acme\\team"}})
	if err != nil {
		t.Fatal(err)
	}
	bob := *cl
	bob.token = tok
	bob.expect("GET", "/v1/infrastructure/hosts", nil, 403, "AccessForbidden")
	bob.expect("GET", "/v1/infrastructure/datastores", nil, 403, "AccessForbidden")
	bob.expect("POST", hostOp("exit_maintenance"), nil, 403, "AccessForbidden")
	bob.expect("POST", "/v1/zones", map[string]any{"name": "mine"}, 403, "AccessForbidden")
	bob.expect("GET", "/v1/zones/"+zoneID, nil, 200, "")

	// Delete: the host in maintenance goes once its VM has gone; its hostd stops.
	cl.wait(cl.expect("DELETE", "/v1/vms/"+vmTask.Entity.ID, nil, 201, "").ID)
	if tk := cl.expect("DELETE", "/v1/infrastructure/hosts/"+hid, nil, 201, ""); tk.Operation != "DELETE_HOST" || tk.State != "COMPLETED" {
		t.Fatalf("delete host answered %+v", tk)
	}
	cl.expect("GET", "/v1/infrastructure/hosts/"+hid, nil, 404, "NotFound")
	if _, err := c.Store.GetHost(t.Context(), hid); err == nil {
		t.Fatal("the deleted host came back")
	}
	cl.expect("DELETE", "/v1/zones/"+zoneID, nil, 201, "")
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// raw answers the body of a request as text.
func (c *client) raw(method, path string) string {
	c.t.Helper()
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}
