package attachdisk_test

import (
	"maps"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// attachDisks is ATTACH_DISKS's index in the create chain.
const attachDisks = 4

func vmWithDisks() *model.VM {
	return &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMCreating, Disks: []model.Disk{
		{ID: "boot", Name: "boot", Kind: model.FlavorEphemeralDisk, CapacityGB: 8, Boot: true},
		{ID: "d1", Name: "d1", Kind: model.FlavorEphemeralDisk, CapacityGB: 2},
		{ID: "d2", Name: "d2", Kind: model.FlavorEphemeralDisk, CapacityGB: 4},
	}}
}

// diskStates are the VM's disks' states by id.
func diskStates(vm *model.VM) map[string]string {
	m := map[string]string{}
	for _, d := range vm.Disks {
		m[d.ID] = d.State
	}
	return m
}

// TestAttachDisks: every disk but the boot disk (which the clone made) is attached on the
// VM's host at its size and marked ATTACHED; a refusal fails the chain into the step's own
// undo, a busy host is retried, and neither marks a disk.
func TestAttachDisks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		placed    bool
		err       error
		want      string
		wantCalls []string
		wantState string
	}{
		{"attaches", true, nil, steptest.Done, []string{"AttachDisk", "AttachDisk"}, "ATTACHED"},
		{"host refuses", true, steptest.Refused, steptest.Failed(errs.CodeHostError), []string{"AttachDisk"}, ""},
		{"host busy", true, steptest.Busy, steptest.Retry, []string{"AttachDisk"}, ""},
		// Nothing on any host: nothing to attach, and nothing recorded.
		{"VM on no host", false, nil, steptest.Done, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			task := e.NewTask(&events.VMCreate, "vm-1", steptest.Root, nil)
			e.VM(t, vmWithDisks(), task)
			if tc.placed {
				e.Place(t, "vm-1", h)
			}
			h.Fail("AttachDisk", tc.err)
			reply, err := e.Do(t, &events.VMCreate, task, attachDisks)
			if got := e.Outcome(t, &events.VMCreate, task, attachDisks, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if got := h.Methods(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", got, tc.wantCalls)
			}
			if tc.want == steptest.Done && tc.placed {
				var got []string
				for _, c := range h.Calls() {
					r := c.Request.(*hostdv1.AttachDiskRequest)
					if r.GetVmId() != "vm-1" {
						t.Fatalf("attached to %s", r.GetVmId())
					}
					got = append(got, r.GetDiskId())
				}
				if !slices.Equal(got, []string{"d1", "d2"}) || h.Calls()[1].Request.(*hostdv1.AttachDiskRequest).GetCapacityGb() != 4 {
					t.Fatalf("attached %v", h.Calls())
				}
			}
			want := map[string]string{"boot": tc.wantState, "d1": tc.wantState, "d2": tc.wantState}
			if got := diskStates(e.GetVM(t, "vm-1")); !maps.Equal(got, want) {
				t.Fatalf("disks %v, want %v", got, want)
			}
			if tc.want == steptest.Done {
				h.Forget()
				e.MustDo(t, &events.VMCreate, task, attachDisks)
				if got := h.Methods(); len(got) != 0 {
					t.Fatalf("replay called the host: %v", got)
				}
			}
		})
	}
}

// TestAttachDisksUndo: the undo detaches the disks the step attached, not the boot disk,
// and a replayed undo acts no second time; a VM no longer on its host (a lost host) has
// its disks detached in the records all the same.
func TestAttachDisksUndo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		gone bool
	}{{"VM on its host", false}, {"VM gone from its host", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			task := e.NewTask(&events.VMCreate, "vm-1", steptest.Root, nil)
			e.VM(t, vmWithDisks(), task)
			e.Place(t, "vm-1", h)
			e.MustDo(t, &events.VMCreate, task, attachDisks)
			h.Forget()
			if tc.gone {
				h.Fail("DetachDisk", status.Error(codes.NotFound, "VM vm-1 not found on this host"))
			}
			cause := errs.New(errs.CodeHostError, "a later step failed")
			for range 2 {
				reply, err := e.Undo(t, &events.VMCreate, task, attachDisks, cause)
				if err != nil {
					t.Fatal(err)
				}
				if want := events.VMCreate.UndoType(3); reply.Type() != want {
					t.Fatalf("reply %s, want %s", reply.Type(), want)
				}
			}
			checkUndone(t, e, h)
		})
	}
}

func checkUndone(t *testing.T, e *steptest.Env, h *steptest.Host) {
	t.Helper()
	var detached []string
	for _, c := range h.Calls() {
		detached = append(detached, c.Method+" "+c.Request.(*hostdv1.DetachDiskRequest).GetDiskId())
	}
	if want := []string{"DetachDisk d1", "DetachDisk d2"}; !slices.Equal(detached, want) {
		t.Fatalf("host calls %v, want %v", detached, want)
	}
	want := map[string]string{"boot": "DETACHED", "d1": "DETACHED", "d2": "DETACHED"}
	if got := diskStates(e.GetVM(t, "vm-1")); !maps.Equal(got, want) {
		t.Fatalf("disks %v, want %v", got, want)
	}
}
