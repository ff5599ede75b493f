package power_test

import (
	"slices"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestPower: each power operation asks the VM's host for it and records the state the
// host answers; a refusal records the state the host has instead and fails the task; a
// busy host is retried with nothing recorded; a replay asks the host nothing more.
func TestPower(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		chain     *events.Chain
		onHost    string // the VM's power state on the host before
		state     string // the VM's state in the record before
		placed    bool
		fault     string // method that fails
		err       error
		want      string
		wantCalls []string
		wantState string
	}{
		{name: "start", chain: &events.VMStart, onHost: "poweredOff", state: model.VMStopped, placed: true,
			want: steptest.Done, wantCalls: []string{"PowerOn"}, wantState: model.VMStarted},
		{name: "stop", chain: &events.VMStop, onHost: "poweredOn", state: model.VMStarted, placed: true,
			want: steptest.Done, wantCalls: []string{"PowerOff"}, wantState: model.VMStopped},
		{name: "restart", chain: &events.VMRestart, onHost: "poweredOn", state: model.VMStarted, placed: true,
			want: steptest.Done, wantCalls: []string{"Reset"}, wantState: model.VMStarted},
		{name: "suspend", chain: &events.VMSuspend, onHost: "poweredOn", state: model.VMStarted, placed: true,
			want: steptest.Done, wantCalls: []string{"Suspend"}, wantState: model.VMSuspended},
		{name: "resume", chain: &events.VMResume, onHost: "suspended", state: model.VMSuspended, placed: true,
			want: steptest.Done, wantCalls: []string{"PowerOn"}, wantState: model.VMStarted},
		{name: "refused start records the host's state", chain: &events.VMStart, onHost: "suspended", state: model.VMStopped,
			placed: true, fault: "PowerOn", err: steptest.Refused,
			want: steptest.Failed(errs.CodeHostError), wantCalls: []string{"PowerOn", "GetVm"}, wantState: model.VMSuspended},
		{name: "busy host", chain: &events.VMStop, onHost: "poweredOn", state: model.VMStarted, placed: true,
			fault: "PowerOff", err: steptest.Busy, want: steptest.Retry, wantCalls: []string{"PowerOff"}, wantState: model.VMStarted},
		{name: "VM on no host", chain: &events.VMStart, state: model.VMStopped,
			want: steptest.Failed(errs.CodeStateError), wantState: model.VMStopped},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			task := e.NewTask(tc.chain, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: tc.state}, task)
			if tc.placed {
				e.Place(t, "vm-1", h)
				h.PutVM("vm-1", tc.onHost)
			}
			if tc.fault != "" {
				h.Fail(tc.fault, tc.err)
			}
			reply, err := e.Do(t, tc.chain, task, 1)
			if got := e.Outcome(t, tc.chain, task, 1, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if got := h.Methods(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", got, tc.wantCalls)
			}
			vm := e.GetVM(t, "vm-1")
			if vm.State != tc.wantState {
				t.Fatalf("VM %s, want %s", vm.State, tc.wantState)
			}
			// The chain's end releases the VM; a retried step keeps it held.
			if held := vm.ActiveTask != ""; held != (tc.want == steptest.Retry) {
				t.Fatalf("VM held by %q after %s", vm.ActiveTask, tc.want)
			}
			if tc.want == steptest.Done {
				h.Forget()
				e.MustDo(t, tc.chain, task, 1)
				if got := h.Methods(); len(got) != 0 {
					t.Fatalf("replay called the host: %v", got)
				}
			}
		})
	}
}

// TestReconfigure: a resize's last step gives the VM its new size on the host and then
// records the new flavor; a refusal leaves the VM's record as it was.
func TestReconfigure(t *testing.T) {
	t.Parallel()
	resize := store.Resize{FlavorID: "large", Flavor: "large", CPU: 4, MemoryMB: 4096,
		Cost: []model.QuotaLineItem{{Key: "vm.cpu", Value: 4, Unit: "COUNT"}}}
	cases := []struct {
		name       string
		err        error
		want       string
		wantFlavor string
	}{
		{"reconfigures", nil, steptest.Done, "large"},
		{"host refuses", steptest.Refused, steptest.Failed(errs.CodeHostError), "small"},
		{"host busy", steptest.Busy, steptest.Retry, "small"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			task := e.NewTask(&events.VMResize, "vm-1", steptest.Root, resize.Props())
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMStopped, FlavorID: "small", Flavor: "small", CPU: 1, MemoryMB: 512}, task)
			e.Place(t, "vm-1", h)
			h.PutVM("vm-1", "poweredOff")
			h.Fail("Reconfigure", tc.err)
			reply, err := e.Do(t, &events.VMResize, task, 3)
			if got := e.Outcome(t, &events.VMResize, task, 3, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if got := h.Methods(); !slices.Equal(got, []string{"Reconfigure"}) {
				t.Fatalf("host calls %v", got)
			}
			vm := e.GetVM(t, "vm-1")
			if vm.FlavorID != tc.wantFlavor {
				t.Fatalf("VM flavor %s, want %s", vm.FlavorID, tc.wantFlavor)
			}
			if tc.want == steptest.Done {
				if vm.CPU != 4 || vm.MemoryMB != 4096 {
					t.Fatalf("VM size %d/%d", vm.CPU, vm.MemoryMB)
				}
				if got := h.VM("vm-1"); got.GetCpuCount() != 4 || got.GetMemoryMb() != 4096 {
					t.Fatalf("host VM size %d/%d", got.GetCpuCount(), got.GetMemoryMb())
				}
			}
		})
	}
}
