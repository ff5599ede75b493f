package devcloud_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/model"
)

// TestEndToEndCreateVm drives the REST API as a user would: a VM goes through the whole
// chain and ends powered on in the simulated ESXi host with its disks and NIC; deleting it
// removes it from the host and gives back every reservation.
func TestEndToEndCreateVm(t *testing.T) {
	spans.Reset()
	c, cl := cloud(t, 2)
	f := setup(t, cl, 10)

	started := time.Now()
	tk := cl.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "web-1"))
	if tk.State != "QUEUED" || tk.Operation != "CREATE_VM" || len(tk.Steps) != 7 || tk.QueuedTime == 0 {
		t.Fatalf("create answered %+v", tk)
	}
	done := cl.wait(tk.ID)
	t.Logf("one VM created end to end in %s", time.Since(started))
	if done.State != "COMPLETED" {
		t.Fatalf("task ended %s: %+v", done.State, done.Steps)
	}
	wantOps := []string{"AUTHORIZE", "RESERVE_QUOTA", "PLACE_VM", "CREATE_VM_ON_HOST", "ATTACH_DISKS", "CONNECT_NETWORKS", "START_VM"}
	for i, s := range done.Steps {
		if s.Operation != wantOps[i] || s.State != "COMPLETED" {
			t.Fatalf("step %d = %s %s, want %s COMPLETED", i, s.Operation, s.State, wantOps[i])
		}
	}

	var v vm
	if st := cl.do("GET", "/v1/vms/"+tk.Entity.ID, nil, &v); st != 200 {
		t.Fatalf("get vm: %d", st)
	}
	if v.State != "STARTED" || v.Host == "" || v.Datastore == "" || len(v.AttachedDisks) != 2 {
		t.Fatalf("vm = %+v", v)
	}
	sim := c.Sims[slices.Index(c.HostIDs, v.Host)]
	got := inspectVM(t, sim.URL, v.ID)
	if got.power != "poweredOn" || got.disks != 2 || got.nics != 1 {
		t.Fatalf("in vcsim: %+v, want poweredOn with 2 disks and 1 NIC", got)
	}
	if !got.linkedClone {
		t.Fatalf("boot disk is not a child of the image disk: %+v", got)
	}

	var list struct {
		Items []vm `json:"items"`
	}
	if st := cl.do("GET", "/v1/projects/"+f.project+"/vms", nil, &list); st != 200 || len(list.Items) != 1 {
		t.Fatalf("list vms: %d %+v", st, list)
	}
	var tasks struct {
		Items []task `json:"items"`
	}
	if st := cl.do("GET", "/v1/tasks?entityId="+v.ID, nil, &tasks); st != 200 || len(tasks.Items) != 1 {
		t.Fatalf("tasks of vm: %d %+v", st, tasks)
	}
	checkUsage(t, c, f.project, v.Host, 1)

	// One trace joins the gateway call, every function step and the hostd calls.
	checkOneTrace(t, done.ID)

	var del task
	if st := cl.do("DELETE", "/v1/vms/"+v.ID, nil, &del); st/100 != 2 {
		t.Fatalf("delete: %d", st)
	}
	if d := cl.wait(del.ID); d.State != "COMPLETED" {
		t.Fatalf("delete ended %s: %+v", d.State, d.Steps)
	}
	var e apiError
	if st := cl.do("GET", "/v1/vms/"+v.ID, nil, &e); st != 404 || e.Code != "NotFound" {
		t.Fatalf("deleted vm: %d %+v", st, e)
	}
	if inspectVM(t, sim.URL, v.ID).exists {
		t.Fatal("VM still on the host after delete")
	}
	checkUsage(t, c, f.project, v.Host, 0)
}

// checkUsage asserts what the project's quota and the host's capacity count.
func checkUsage(t *testing.T, c *devcloud.Cloud, project, host string, vms int) {
	t.Helper()
	_, used, units, err := c.Store.QuotaUsage(t.Context(), project)
	if err != nil {
		t.Fatal(err)
	}
	if used["vm.count"] != float64(vms) || used["vm.memory"] != float64(2*vms) || units["vm.memory"] != "GB" {
		t.Fatalf("quota used %v (units %v), want %d VMs", used, units, vms)
	}
	capy, err := c.Store.GetHostCapacity(t.Context(), host)
	if err != nil {
		t.Fatal(err)
	}
	if capy.VMs != int64(vms) || capy.MemUsed != int64(2048*vms) || capy.CPUUsed != int64(vms) {
		t.Fatalf("host capacity %+v, want %d VMs", capy, vms)
	}
}

func checkOneTrace(t *testing.T, taskID string) {
	t.Helper()
	byTrace := map[string][]string{}
	for _, s := range spans.GetSpans() {
		id := s.SpanContext.TraceID().String()
		byTrace[id] = append(byTrace[id], s.Name)
	}
	for _, names := range byTrace {
		has := func(sub string) bool {
			return slices.ContainsFunc(names, func(n string) bool { return strings.Contains(n, sub) })
		}
		if has("CreateVm") && has("place PLACE_VM") && has("boot START_VM") && has("hostd.v1.Host/PowerOn") {
			return
		}
	}
	t.Fatalf("no trace joins the gateway, the functions and hostd: %v", byTrace)
}

// TestCreateVmFailures: each failing create ends in ERROR at the right step with the right
// code, and every reservation it made is released.
func TestCreateVmFailures(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	f := setup(t, cl, 1) // a quota of one VM
	roomy := cl.create("/v1/tenants/"+f.tenant+"/projects", map[string]any{"name": "roomy"}).Entity.ID
	host := c.HostIDs[0]

	// The first VM fills f.project's quota.
	first := cl.wait(cl.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "ok")).ID)
	if first.State != "COMPLETED" {
		t.Fatalf("first VM: %+v", first.Steps)
	}
	cases := []struct {
		name     string
		project  string
		fail     string // vSphere method the host fails
		wantStep string
		wantCode string
	}{
		{"quota exceeded", f.project, "", "RESERVE_QUOTA", "QuotaError"},
		{"host refuses power on", roomy, "PowerOnVM_Task", "START_VM", "HostError"},
		{"host refuses to create", roomy, "CreateVM_Task", "CREATE_VM_ON_HOST", "HostError"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fail != "" {
				c.Sims[0].FailMethod(tc.fail)
				defer c.Sims[0].ClearFaults()
			}
			tk := cl.wait(cl.create("/v1/projects/"+tc.project+"/vms", vmSpec(f, strings.ReplaceAll(tc.name, " ", "-"))).ID)
			if tk.State != "ERROR" {
				t.Fatalf("task ended %s, want ERROR", tk.State)
			}
			var failed *step
			for i := range tk.Steps {
				if len(tk.Steps[i].Errors) > 0 {
					failed = &tk.Steps[i]
				}
			}
			if failed == nil || failed.Operation != tc.wantStep || failed.Errors[0].Code != tc.wantCode {
				t.Fatalf("failed step %+v, want %s with %s", failed, tc.wantStep, tc.wantCode)
			}
			var v vm
			cl.do("GET", "/v1/vms/"+tk.Entity.ID, nil, &v)
			if v.State != "ERROR" || v.Host != "" {
				t.Fatalf("vm state %s on %q, want ERROR on no host", v.State, v.Host)
			}
			if inspectVM(t, c.Sims[0].URL, v.ID).exists {
				t.Fatal("failed VM left on the host")
			}
			// Only the first VM holds anything: its quota and its share of the host.
			checkUsage(t, c, f.project, host, 1)
			if _, used, _, _ := c.Store.QuotaUsage(t.Context(), roomy); used["vm.count"] != 0 {
				t.Fatalf("failed creates left quota reserved: %v", used)
			}
		})
	}
}

// TestReplayChangesNothing delivers every event of a finished chain a second time: each
// step answers from the stored outcome and nothing is counted twice.
func TestReplayChangesNothing(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	f := setup(t, cl, 10)
	tk := cl.wait(cl.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "once")).ID)
	if tk.State != "COMPLETED" {
		t.Fatalf("create: %+v", tk.Steps)
	}
	before, _ := c.Store.GetTask(t.Context(), tk.ID)
	var wg sync.WaitGroup
	for i := range events.VMCreate.Steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := events.New("test", events.VMCreate.InType(i), "", events.StepData{TaskID: tk.ID, EntityID: tk.Entity.ID})
			if err := c.Broker.Publish(context.WithoutCancel(t.Context()), e); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Wait until the replays are consumed: every function's stream has no pending entry.
	waitDrained(t, c)
	after, _ := c.Store.GetTask(t.Context(), tk.ID)
	if fmt.Sprint(before.Steps) != fmt.Sprint(after.Steps) || after.State != model.TaskCompleted {
		t.Fatalf("task changed on replay:\n%v\n%v", before.Steps, after.Steps)
	}
	checkUsage(t, c, f.project, c.HostIDs[0], 1)
	got := inspectVM(t, c.Sims[0].URL, tk.Entity.ID)
	if got.disks != 2 || got.nics != 1 || got.power != "poweredOn" {
		t.Fatalf("replay changed the VM on the host: %+v", got)
	}
}

func waitDrained(t *testing.T, c *devcloud.Cloud) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, fn := range events.Functions() {
		stream := events.Stream(c.Store.Prefix(), fn)
		for {
			groups, err := c.Redis().XInfoGroups(t.Context(), stream).Result()
			if err == nil && len(groups) == 1 && groups[0].Pending == 0 && groups[0].Lag == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("stream %s not drained: %+v %v", stream, groups, err)
			}
			time.Sleep(10 * time.Millisecond) // polling Redis for the consumers' progress
		}
	}
}
