package boot_test

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// startVM is START_VM's index in the create chain.
const startVM = 6

// TestPowerOn: the create chain's last step powers the VM on on its host (unless it is
// to stay off) and records the state; a host's refusal fails the chain, a busy host is
// retried, and neither leaves a state the host does not have.
func TestPowerOn(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		powerOn   bool
		fault     error
		want      string
		wantCalls []string
		wantState string
	}{
		{"powers on", true, nil, steptest.Done, []string{"PowerOn"}, model.VMStarted},
		{"stays off", false, nil, steptest.Done, nil, model.VMStopped},
		{"host refuses", true, steptest.Refused, steptest.Failed(errs.CodeHostError), []string{"PowerOn"}, model.VMCreating},
		{"host busy", true, steptest.Busy, steptest.Retry, []string{"PowerOn"}, model.VMCreating},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			task := e.NewTask(&events.VMCreate, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMCreating, PowerOn: tc.powerOn}, task)
			e.Place(t, "vm-1", h)
			h.PutVM("vm-1", "poweredOff")
			h.Fail("PowerOn", tc.fault)

			reply, err := e.Do(t, &events.VMCreate, task, startVM)
			// The create chain's last step completes the task; the chain's finalizer then releases the VM.
			if got := e.Outcome(t, &events.VMCreate, task, startVM, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if got := h.Methods(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", got, tc.wantCalls)
			}
			if got := e.GetVM(t, "vm-1").State; got != tc.wantState {
				t.Fatalf("VM %s, want %s", got, tc.wantState)
			}
			if tc.want == steptest.Done {
				// A replayed event acts no second time.
				h.Forget()
				e.MustDo(t, &events.VMCreate, task, startVM)
				if got := h.Methods(); len(got) != 0 {
					t.Fatalf("replay called the host: %v", got)
				}
				if got := e.GetVM(t, "vm-1").State; got != tc.wantState {
					t.Fatalf("after replay VM %s, want %s", got, tc.wantState)
				}
			}
		})
	}
}

// TestPowerOnUndo: the undo powers off the VM the step powered on, and nothing else on
// its host; a VM that holds no host reservation has nothing to power off.
func TestPowerOnUndo(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		placed    bool
		wantCalls []string
		wantState string
	}{
		{"powers off", true, []string{"PowerOff"}, model.VMStopped},
		{"never placed", false, nil, model.VMCreating},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			h.PutVM("other", "poweredOn")
			task := e.NewTask(&events.VMCreate, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMCreating, PowerOn: true}, task)
			if tc.placed {
				e.Place(t, "vm-1", h)
				h.PutVM("vm-1", "poweredOn")
			}
			reply, err := e.Undo(t, &events.VMCreate, task, startVM, errs.New(errs.CodeHostError, "later step failed"))
			if err != nil {
				t.Fatal(err)
			}
			// The undo chain goes on with wiresubnet (step 5).
			if want := events.VMCreate.UndoType(5); reply.Type() != want {
				t.Fatalf("reply %s, want %s", reply.Type(), want)
			}
			if got := h.Methods(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", got, tc.wantCalls)
			}
			if got := e.GetVM(t, "vm-1").State; got != tc.wantState {
				t.Fatalf("VM %s, want %s", got, tc.wantState)
			}
			if got := h.VM("other").GetPowerState(); got != "poweredOn" {
				t.Fatalf("the other VM is %s", got)
			}
			if !e.Task(t, task.ID).Steps[startVM].Undone {
				t.Fatal("step not marked undone")
			}
		})
	}
}

// TestStopForDelete: as the delete chain's STOP_VM step, boot's undo powers the VM off
// and leaves it DELETING.
func TestStopForDelete(t *testing.T) {
	t.Parallel()
	e := steptest.New(t)
	h := e.AddHost(t, "host-1")
	task := e.NewTask(&events.VMDelete, "vm-1", steptest.Root, nil)
	e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMDeleting}, task)
	e.Place(t, "vm-1", h)
	h.PutVM("vm-1", "poweredOn")
	e.MustDo(t, &events.VMDelete, task, 1)
	if got := h.Methods(); !slices.Equal(got, []string{"PowerOff"}) {
		t.Fatalf("host calls %v", got)
	}
	if got := e.GetVM(t, "vm-1").State; got != model.VMDeleting {
		t.Fatalf("VM %s, want DELETING", got)
	}
}

// TestStopForDeleteOfVMGone: a VM its host no longer has (the reconciler put it in
// ERROR) is powered off already: the delete chain's STOP_VM step completes when the host
// answers NotFound.
func TestStopForDeleteOfVMGone(t *testing.T) {
	t.Parallel()
	e := steptest.New(t)
	h := e.AddHost(t, "host-1")
	task := e.NewTask(&events.VMDelete, "vm-1", steptest.Root, nil)
	e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMDeleting}, task)
	e.Place(t, "vm-1", h)
	h.Fail("PowerOff", status.Error(codes.NotFound, "VM vm-1 not found on this host"))
	e.MustDo(t, &events.VMDelete, task, 1)
	if got := e.GetVM(t, "vm-1").State; got != model.VMDeleting {
		t.Fatalf("VM %s, want DELETING", got)
	}
}
