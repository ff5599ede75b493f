package devcloud_test

import (
	"slices"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestVMPowerOperations walks the VM power verbs as a Photon SDK user would: each answers
// a Task that ends with the VM's state as vcsim has it; a verb its state does not allow
// is a 400 StateError, and one on a VM another task holds is a 400 ConcurrentTask, both
// changing nothing; a host fault ends the task in ERROR with the VM still true to the host.
func TestVMPowerOperations(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	f := setup(t, cl, 10)
	// Created as Photon created VMs: STOPPED until started.
	spec := vmSpec(f, "ops-1")
	delete(spec, "powerOn")
	tk := cl.wait(cl.create("/v1/projects/"+f.project+"/vms", spec).ID)
	if tk.State != "COMPLETED" {
		t.Fatalf("create ended %s: %+v", tk.State, tk.Steps)
	}
	id, sim := tk.Entity.ID, c.Sims[0]
	var made vm
	if cl.do("GET", "/v1/vms/"+id, nil, &made); made.State != "STOPPED" || inspectVM(t, sim.URL, id).power != "poweredOff" {
		t.Fatalf("a new VM is %s, want STOPPED and powered off", made.State)
	}

	// Powered off and on at the host, behind Photon's back: the next heartbeats bring the
	// VM's record in line.
	vs := newVsphere(t, sim.URL)
	for _, want := range []struct {
		on    bool
		state string
	}{{true, "STARTED"}, {false, "STOPPED"}} {
		vs.setPower(id, want.on)
		deadline := time.Now().Add(20 * time.Second)
		for {
			var v vm
			if cl.do("GET", "/v1/vms/"+id, nil, &v); v.State == want.state {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("vm still %s, want %s after the host changed it", v.State, want.state)
			}
			time.Sleep(50 * time.Millisecond) // polling, as Photon clients do
		}
	}

	steps := []struct {
		verb      string
		status    int
		code      string // ApiError code of a refused verb
		operation string // the Task's operation of an accepted one
		state     string // the VM's state afterwards
		power     string // vcsim's power state afterwards
	}{
		{"stop", 400, "StateError", "", "STOPPED", "poweredOff"},
		{"start", 201, "", "START_VM", "STARTED", "poweredOn"},
		{"start", 400, "StateError", "", "STARTED", "poweredOn"},
		{"resume", 400, "StateError", "", "STARTED", "poweredOn"},
		{"stop", 201, "", "STOP_VM", "STOPPED", "poweredOff"},
		{"stop", 400, "StateError", "", "STOPPED", "poweredOff"},
		{"suspend", 400, "StateError", "", "STOPPED", "poweredOff"},
		{"restart", 400, "StateError", "", "STOPPED", "poweredOff"},
		{"start", 201, "", "START_VM", "STARTED", "poweredOn"},
		{"suspend", 201, "", "SUSPEND_VM", "SUSPENDED", "suspended"},
		{"restart", 400, "StateError", "", "SUSPENDED", "suspended"},
		{"resume", 201, "", "RESUME_VM", "STARTED", "poweredOn"},
		{"restart", 201, "", "RESTART_VM", "STARTED", "poweredOn"},
		{"suspend", 201, "", "SUSPEND_VM", "SUSPENDED", "suspended"},
		{"stop", 201, "", "STOP_VM", "STOPPED", "poweredOff"},
	}
	ops := []string{"CREATE_VM"}
	for i, s := range steps {
		done := cl.expect("POST", "/v1/vms/"+id+"/"+s.verb, nil, s.status, s.code)
		if s.status == 201 {
			done.task = cl.wait(done.ID)
			if done.Operation != s.operation || done.State != "COMPLETED" || len(done.Steps) != 2 ||
				done.Steps[0].Operation != "AUTHORIZE" || done.Steps[1].Operation != s.operation {
				t.Fatalf("step %d %s: task %+v", i, s.verb, done.task)
			}
			ops = append(ops, s.operation)
		}
		var v vm
		cl.do("GET", "/v1/vms/"+id, nil, &v)
		if got := inspectVM(t, sim.URL, id).power; v.State != s.state || got != s.power {
			t.Fatalf("step %d %s: vm %s, vcsim %s; want %s, %s", i, s.verb, v.State, got, s.state, s.power)
		}
	}

	// Metadata and tags: set, read back; bad input refused.
	md := map[string]any{"metadata": map[string]string{"owner": "web", "tier": "1"}}
	if done := cl.wait(cl.expect("POST", "/v1/vms/"+id+"/set_metadata", md, 201, "").ID); done.Operation != "SET_METADATA" || done.State != "COMPLETED" {
		t.Fatalf("set_metadata: %+v", done)
	}
	tag := map[string]string{"value": "namespace:predicate=value"}
	for range 2 { // adding a tag twice keeps one
		if done := cl.wait(cl.expect("POST", "/v1/vms/"+id+"/tags", tag, 201, "").ID); done.Operation != "ADD_TAG" || done.State != "COMPLETED" {
			t.Fatalf("tags: %+v", done)
		}
		ops = append(ops, "ADD_TAG")
	}
	ops = append(ops, "SET_METADATA")
	var tagged struct {
		Metadata map[string]string `json:"metadata"`
		Tags     []string          `json:"tags"`
	}
	if cl.do("GET", "/v1/vms/"+id, nil, &tagged); tagged.Metadata["owner"] != "web" || len(tagged.Metadata) != 2 ||
		!slices.Equal(tagged.Tags, []string{"namespace:predicate=value"}) {
		t.Fatalf("vm metadata and tags: %+v", tagged)
	}
	cl.expect("POST", "/v1/vms/"+id+"/tags", map[string]string{"value": " "}, 400, "InvalidEntity")
	cl.expect("POST", "/v1/vms/"+id+"/set_metadata", map[string]any{"metadata": map[string]string{"": "x"}}, 400, "InvalidEntity")

	// An ISO: uploaded as the SDK does (multipart, part "file"), attached, detached.
	st, iso := cl.upload("/v1/vms/"+id+"/attach_iso", "tools.iso", []byte("CD001 an ISO image"), nil)
	if st != 201 {
		t.Fatalf("attach_iso: %d %v", st, iso)
	}
	if done := cl.wait(str(iso["id"])); done.Operation != "ATTACH_ISO" || done.State != "COMPLETED" {
		t.Fatalf("attach_iso: %+v", done)
	}
	var withISO struct {
		AttachedIsos []struct {
			Name string `json:"name"`
			Size int64  `json:"size"`
		} `json:"attachedIsos"`
	}
	if cl.do("GET", "/v1/vms/"+id, nil, &withISO); len(withISO.AttachedIsos) != 1 || withISO.AttachedIsos[0].Name != "tools.iso" ||
		withISO.AttachedIsos[0].Size != 18 {
		t.Fatalf("attached ISOs %+v", withISO)
	}
	if done := cl.wait(cl.expect("POST", "/v1/vms/"+id+"/detach_iso", nil, 201, "").ID); done.Operation != "DETACH_ISO" || done.State != "COMPLETED" {
		t.Fatalf("detach_iso: %+v", done)
	}
	withISO.AttachedIsos = nil
	if cl.do("GET", "/v1/vms/"+id, nil, &withISO); len(withISO.AttachedIsos) != 0 {
		t.Fatalf("ISO still attached: %+v", withISO)
	}
	cl.expect("POST", "/v1/vms/"+id+"/detach_iso", nil, 400, "StateError")
	if st, e := cl.upload("/v1/vms/"+id+"/attach_iso", "", nil, map[string]string{"other": "x"}); st != 400 || e["code"] != "InvalidEntity" {
		t.Fatalf("attach_iso without a file: %d %v", st, e)
	}
	ops = append(ops, "ATTACH_ISO", "DETACH_ISO")

	// The VM's tasks are every accepted operation, and only those.
	var tasks struct {
		Items []task `json:"items"`
	}
	cl.do("GET", "/v1/vms/"+id+"/tasks?pageSize=100", nil, &tasks)
	var got []string
	for _, tk := range tasks.Items {
		got = append(got, tk.Operation)
	}
	slices.Sort(got)
	slices.Sort(ops)
	if !slices.Equal(got, ops) {
		t.Fatalf("vm tasks %v, want %v", got, ops)
	}

	// Another task holds the VM: refused, nothing written.
	hold := func(task string) {
		t.Helper()
		if _, err := store.Update(t.Context(), c.Store, model.KindVM, id, func(v *model.VM) error {
			v.ActiveTask = task
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	hold("task-in-flight")
	cl.expect("POST", "/v1/vms/"+id+"/start", nil, 400, "ConcurrentTask")
	cl.expect("DELETE", "/v1/vms/"+id, nil, 400, "ConcurrentTask")
	hold("")
	cl.do("GET", "/v1/vms/"+id+"/tasks?pageSize=100", nil, &tasks)
	if len(tasks.Items) != len(ops) {
		t.Fatalf("a refused operation left a task: %d tasks, want %d", len(tasks.Items), len(ops))
	}

	// The host refuses the power-on: the task fails at START_VM with HostError, the VM is
	// still STOPPED as on the host, and it is free for the next operation.
	sim.FailMethod("PowerOnVM_Task")
	failed := cl.wait(cl.expect("POST", "/v1/vms/"+id+"/start", nil, 201, "").ID)
	sim.ClearFaults()
	if failed.State != "ERROR" || failedStep(failed) != "START_VM" || failed.Steps[1].Errors[0].Code != "HostError" {
		t.Fatalf("failed start: %+v", failed)
	}
	var v vm
	if cl.do("GET", "/v1/vms/"+id, nil, &v); v.State != "STOPPED" || inspectVM(t, sim.URL, id).power != "poweredOff" {
		t.Fatalf("after a refused start the vm is %s", v.State)
	}
	if done := cl.wait(cl.expect("POST", "/v1/vms/"+id+"/start", nil, 201, "").ID); done.State != "COMPLETED" {
		t.Fatalf("start after a failure: %+v", done)
	}

	// A console ticket is asked of the host; vcsim has no ticket service, so the task
	// ends in ERROR naming it (a real ESXi host answers the ticket into the task's
	// resourceProperties), and the VM is free again.
	mks := cl.wait(cl.expect("GET", "/v1/vms/"+id+"/mks_ticket", nil, 200, "").ID)
	if mks.Operation != "GET_MKS_TICKET" || mks.State != "ERROR" || failedStep(mks) != "GET_MKS_TICKET" ||
		mks.Steps[1].Errors[0].Code != "HostError" || mks.Steps[1].Errors[0].Data["hostCode"] != "Unimplemented" {
		t.Fatalf("mks ticket: %+v", mks)
	}
	if done := cl.wait(cl.expect("POST", "/v1/vms/"+id+"/stop", nil, 201, "").ID); done.State != "COMPLETED" {
		t.Fatalf("stop: %+v", done)
	}

	// Resize (beyond Photon): the quota, the host's reservation and the VM on the host all
	// take the new flavor's size; one the quota cannot take fails at RESIZE_QUOTA and
	// changes nothing; the flavor the VM left may be deleted, the one it has may not.
	for _, fl := range []struct {
		name     string
		cpu, mem float64
	}{{"large", 2, 4}, {"huge", 4, 100}} {
		cl.create("/v1/flavors", map[string]any{"name": fl.name, "kind": "vm", "cost": []quotaLineItem{
			{Key: "vm.cpu", Value: fl.cpu, Unit: "COUNT"}, {Key: "vm.memory", Value: fl.mem, Unit: "GB"}}})
	}
	resize := func(flavor string) map[string]string { return map[string]string{"flavor": flavor} }
	cl.expect("POST", "/v1/vms/"+id+"/resize", resize("small"), 400, "InvalidEntity")
	cl.expect("POST", "/v1/vms/"+id+"/resize", resize("nope"), 400, "InvalidEntity")
	done := cl.wait(cl.expect("POST", "/v1/vms/"+id+"/resize", resize("large"), 201, "").ID)
	if done.Operation != "RESIZE_VM" || done.State != "COMPLETED" || len(done.Steps) != 4 || done.Steps[3].Operation != "RECONFIGURE_VM" {
		t.Fatalf("resize: %+v", done)
	}
	sized := func(flavor string, mem int) {
		t.Helper()
		var v vm
		cl.do("GET", "/v1/vms/"+id, nil, &v)
		got := inspectVM(t, sim.URL, id)
		_, used, _, err := c.Store.QuotaUsage(t.Context(), f.project)
		if err != nil {
			t.Fatal(err)
		}
		capy, err := c.Store.GetHostCapacity(t.Context(), v.Host)
		if err != nil {
			t.Fatal(err)
		}
		if v.Flavor != flavor || got.memoryMB != int32(mem<<10) || used["vm.memory"] != float64(mem) || capy.MemUsed != int64(mem<<10) {
			t.Fatalf("vm flavor %s, vcsim %d MB, quota %v GB, host %d MB; want %s, %d GB", v.Flavor, got.memoryMB,
				used["vm.memory"], capy.MemUsed, flavor, mem)
		}
	}
	sized("large", 4)
	refused := cl.wait(cl.expect("POST", "/v1/vms/"+id+"/resize", resize("huge"), 201, "").ID)
	if refused.State != "ERROR" || failedStep(refused) != "RESIZE_QUOTA" || refused.Steps[1].Errors[0].Code != "QuotaError" {
		t.Fatalf("resize past the quota: %+v", refused)
	}
	sized("large", 4)
	var fl struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	cl.do("GET", "/v1/flavors", nil, &fl)
	for _, x := range fl.Items {
		switch x.Name {
		case "small":
			cl.wait(cl.expect("DELETE", "/v1/flavors/"+x.ID, nil, 201, "").ID)
		case "large":
			cl.expect("DELETE", "/v1/flavors/"+x.ID, nil, 400, "StateError")
		}
	}
}
