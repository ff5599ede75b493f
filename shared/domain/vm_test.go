package domain_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
)

var vmStates = []string{domain.VMCreating, domain.VMStarted, domain.VMStopped, domain.VMSuspended, domain.VMDeleting, domain.VMError}

// TestVMMayStart walks every verb on an existing VM against every state: the table is
// the state machine as users see it (which verbs answer StateError from which states).
func TestVMMayStart(t *testing.T) {
	const (
		S = domain.VMStarted
		O = domain.VMStopped
		P = domain.VMSuspended
	)
	all := vmStates
	cases := []struct {
		chain domain.ChainID
		op    domain.Op
		from  []string
	}{
		{domain.VMStart, domain.OpStartVM, []string{O}},
		{domain.VMStop, domain.OpStopVM, []string{S, P}},
		{domain.VMRestart, domain.OpRestartVM, []string{S}},
		{domain.VMSuspend, domain.OpSuspendVM, []string{S}},
		{domain.VMResume, domain.OpResumeVM, []string{P}},
		{domain.VMAttachDisk, domain.OpAttachDisk, []string{S, O}},
		{domain.VMDetachDisk, domain.OpDetachDisk, []string{S, O}},
		{domain.VMAttachISO, domain.OpAttachISO, []string{S, O}},
		{domain.VMDetachISO, domain.OpDetachISO, []string{S, O}},
		{domain.VMMksTicket, domain.OpGetMksTicket, []string{S}},
		{domain.VMResize, domain.OpResizeVM, []string{O}},
		{domain.VMDelete, domain.OpDeleteVM, all},
		{domain.VMSetMetadata, domain.OpSetMetadata, all},
		{domain.VMAddTag, domain.OpAddTag, all},
		{domain.VMCreateImage, domain.OpCreateVMImg, []string{O}},
	}
	for _, tc := range cases {
		for _, state := range vmStates {
			allowed := false
			for _, f := range tc.from {
				allowed = allowed || f == state
			}
			t.Run(fmt.Sprintf("%s from %s", tc.chain, state), func(t *testing.T) {
				err := domain.VMMayStart("vm-1", state, "", tc.chain, tc.op)
				if allowed != (err == nil) {
					t.Fatalf("allowed %v, got %v", allowed, err)
				}
				var e *errs.Error
				if err != nil && (!errors.As(err, &e) || e.Code != errs.CodeStateError || e.Data["state"] != state) {
					t.Fatalf("refusal %v is not a StateError naming the state", err)
				}
				// A VM another task holds refuses every verb, whatever its state.
				err = domain.VMMayStart("vm-1", state, "task-0", tc.chain, tc.op)
				if !errors.As(err, &e) || e.Code != errs.CodeConcurrentTask || e.Data["task"] != "task-0" {
					t.Fatalf("held VM: %v", err)
				}
			})
		}
	}
}

func TestVMMayStartMessage(t *testing.T) {
	err := domain.VMMayStart("vm-1", domain.VMCreating, "", domain.VMStop, domain.OpStopVM)
	var e *errs.Error
	if want := "Vm #vm-1 is CREATING: STOP_VM needs it STARTED or SUSPENDED"; !errors.As(err, &e) || e.Message != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// TestVMObserved: what a step records from the host's power state, from every state.
func TestVMObserved(t *testing.T) {
	powers := map[string]string{domain.PowerOn: domain.VMStarted, domain.PowerOff: domain.VMStopped,
		domain.PowerSuspended: domain.VMSuspended, "": domain.VMStopped}
	for power, state := range powers {
		for _, cur := range vmStates {
			t.Run(cur+" reported "+power, func(t *testing.T) {
				next, ok := domain.VMObserved(cur, power)
				switch {
				case cur == domain.VMDeleting:
					if ok || next != cur {
						t.Fatalf("a VM being deleted became %s (%v)", next, ok)
					}
				case cur == state:
					if ok {
						t.Fatalf("no change reported as one")
					}
				case !ok || next != state:
					t.Fatalf("got %s %v, want %s", next, ok, state)
				}
			})
		}
	}
}

// TestVMReconciled: a host's report outside a task moves only settled VMs nobody holds.
func TestVMReconciled(t *testing.T) {
	cases := []struct {
		cur, task, power string
		want             string
		ok               bool
	}{
		{domain.VMStarted, "", domain.PowerOff, domain.VMStopped, true},
		{domain.VMStopped, "", domain.PowerOn, domain.VMStarted, true},
		{domain.VMStarted, "", domain.PowerSuspended, domain.VMSuspended, true},
		{domain.VMSuspended, "", domain.PowerOn, domain.VMStarted, true},
		{domain.VMStarted, "", domain.PowerOn, domain.VMStarted, false},
		{domain.VMStarted, "task-1", domain.PowerOff, domain.VMStarted, false},
		{domain.VMCreating, "", domain.PowerOn, domain.VMCreating, false},
		{domain.VMDeleting, "", domain.PowerOff, domain.VMDeleting, false},
		{domain.VMError, "", domain.PowerOn, domain.VMError, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s held by %q reported %s", tc.cur, tc.task, tc.power), func(t *testing.T) {
			got, ok := domain.VMReconciled(tc.cur, tc.task, tc.power)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %s %v, want %s %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestEnds(t *testing.T) {
	cases := []struct {
		name      string
		end       func(domain.ChainID, bool) domain.End
		chain     domain.ChainID
		completed bool
		want      domain.End
	}{
		{"vm create completed keeps the state boot recorded", domain.VMEnd, domain.VMCreate, true, domain.End{}},
		{"vm create failed", domain.VMEnd, domain.VMCreate, false, domain.End{State: domain.VMError}},
		{"vm delete completed", domain.VMEnd, domain.VMDelete, true, domain.End{Remove: true}},
		{"vm delete failed", domain.VMEnd, domain.VMDelete, false, domain.End{State: domain.VMError}},
		{"vm start failed keeps what the host said", domain.VMEnd, domain.VMStart, false, domain.End{}},
		{"vm resize completed", domain.VMEnd, domain.VMResize, true, domain.End{}},
		{"vm attach disk failed", domain.VMEnd, domain.VMAttachDisk, false, domain.End{}},
		{"disk create completed", domain.DiskEnd, domain.DiskCreate, true, domain.End{}},
		{"disk create failed", domain.DiskEnd, domain.DiskCreate, false, domain.End{State: domain.DiskError}},
		{"disk delete completed", domain.DiskEnd, domain.DiskDelete, true, domain.End{Remove: true}},
		{"disk delete failed", domain.DiskEnd, domain.DiskDelete, false, domain.End{State: domain.DiskError}},
		{"disk of a failed attach keeps its state", domain.DiskEnd, domain.VMAttachDisk, false, domain.End{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.end(tc.chain, tc.completed); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	cases := []struct {
		value     float64
		unit      string
		want      float64
		wantUnit  string
		wantError bool
	}{
		{2, "", 2, "COUNT", false},
		{2, "count", 2, "COUNT", false},
		{2048, "MB", 2, "GB", false},
		{3, "GB", 3, "GB", false},
		{1024 * 1024, "KB", 1, "GB", false},
		{1, "TB", 0, "", true},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.value, tc.unit), func(t *testing.T) {
			got, unit, err := domain.Canonical(tc.value, tc.unit)
			if (err != nil) != tc.wantError || got != tc.want || unit != tc.wantUnit {
				t.Fatalf("got %v %q %v", got, unit, err)
			}
		})
	}
}

func TestOrList(t *testing.T) {
	for in, want := range map[string]string{"": "", "A": "A", "AB": "A or B", "ABC": "A, B or C"} {
		var xs []string
		for _, r := range in {
			xs = append(xs, string(r))
		}
		if got := domain.OrList(xs); got != want {
			t.Errorf("OrList(%q) = %q, want %q", xs, got, want)
		}
	}
}

func TestStartStates(t *testing.T) {
	cases := []struct {
		name  string
		start func(domain.ChainID) string
		chain domain.ChainID
		want  string
	}{
		{"vm delete", domain.VMStartState, domain.VMDelete, domain.VMDeleting},
		{"vm stop", domain.VMStartState, domain.VMStop, ""},
		{"vm resize", domain.VMStartState, domain.VMResize, ""},
		{"disk delete", domain.DiskStartState, domain.DiskDelete, domain.DiskDeleting},
		{"disk attach", domain.DiskStartState, domain.VMAttachDisk, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.start(tc.chain); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestGone: the reconciler puts in ERROR only a settled VM, or a resting disk, that no
// task holds.
func TestGone(t *testing.T) {
	cases := []struct {
		name      string
		gone      func(cur, task string) (string, bool)
		cur, task string
		want      string
		ok        bool
	}{
		{"vm", domain.VMGone, domain.VMStarted, "", domain.VMError, true},
		{"vm", domain.VMGone, domain.VMStopped, "", domain.VMError, true},
		{"vm", domain.VMGone, domain.VMSuspended, "", domain.VMError, true},
		{"vm", domain.VMGone, domain.VMStarted, "task-1", domain.VMStarted, false},
		{"vm", domain.VMGone, domain.VMCreating, "", domain.VMCreating, false},
		{"vm", domain.VMGone, domain.VMDeleting, "", domain.VMDeleting, false},
		{"vm", domain.VMGone, domain.VMError, "", domain.VMError, false},
		{"disk", domain.DiskGone, domain.DiskDetached, "", domain.DiskError, true},
		{"disk", domain.DiskGone, domain.DiskAttached, "", domain.DiskError, true},
		{"disk", domain.DiskGone, domain.DiskAttached, "task-1", domain.DiskAttached, false},
		{"disk", domain.DiskGone, domain.DiskCreating, "", domain.DiskCreating, false},
		{"disk", domain.DiskGone, domain.DiskDeleting, "", domain.DiskDeleting, false},
		{"disk", domain.DiskGone, domain.DiskError, "", domain.DiskError, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s %s held by %q", tc.name, tc.cur, tc.task), func(t *testing.T) {
			got, ok := tc.gone(tc.cur, tc.task)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("got %s %v, want %s %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
