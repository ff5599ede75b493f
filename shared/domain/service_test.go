package domain_test

import (
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/domain"
)

// TestNodeHealth: a node is in ERROR when its VM is gone or in ERROR, PENDING until its
// guest first reports, NOT_REPORTING once it missed StaleReports periods, READY otherwise.
func TestNodeHealth(t *testing.T) {
	now := time.UnixMilli(1_000_000_000)
	every := 10 * time.Second
	ago := func(d time.Duration) int64 { return now.Add(-d).UnixMilli() }
	for _, tc := range []struct {
		name    string
		vm      string
		last    int64
		every   time.Duration
		want    string
		comment string
	}{
		{"VM gone", "", ago(time.Second), every, domain.NodeError, "whatever its guest said"},
		{"VM in ERROR", domain.VMError, ago(time.Second), every, domain.NodeError, ""},
		{"never reported", domain.VMStarted, 0, every, domain.NodePending, ""},
		{"never reported, creating", domain.VMCreating, 0, every, domain.NodePending, ""},
		{"reported just now", domain.VMStarted, ago(0), every, domain.NodeReady, ""},
		{"missed two periods", domain.VMStarted, ago(2 * every), every, domain.NodeReady, ""},
		{"missed exactly three", domain.VMStarted, ago(domain.StaleReports * every), every, domain.NodeReady, "not more than three"},
		{"missed more than three", domain.VMStarted, ago(domain.StaleReports*every + time.Millisecond), every, domain.NodeNotReporting, ""},
		{"no report period", domain.VMStarted, ago(time.Hour), 0, domain.NodeReady, "a service without periodic reports never goes stale"},
		{"stopped but reported", domain.VMStopped, ago(time.Second), every, domain.NodeReady, "its VM's state shows the rest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.NodeHealth(tc.vm, tc.last, now, tc.every); got != tc.want {
				t.Fatalf("NodeHealth(%q, %d) = %s, want %s %s", tc.vm, tc.last, got, tc.want, tc.comment)
			}
		})
	}
}

// TestServiceStates: what each service chain makes of its service while it runs and when
// it ends.
func TestServiceStates(t *testing.T) {
	for _, tc := range []struct {
		chain           domain.ChainID
		busy, ok, fails string
		removed         bool
	}{
		{domain.ServiceCreate, domain.ServiceCreating, domain.ServiceReady, domain.ServiceError, false},
		{domain.ServiceResize, domain.ServiceResizing, domain.ServiceReady, domain.ServiceError, false},
		{domain.ServiceMaintain, domain.ServiceMaintenance, domain.ServiceReady, domain.ServiceError, false},
		{domain.ServiceChangeVersion, domain.ServiceMaintenance, domain.ServiceReady, domain.ServiceError, false},
		{domain.ServiceDelete, domain.ServicePendingDelete, "", domain.ServiceError, true},
	} {
		t.Run(string(tc.chain), func(t *testing.T) {
			if got := domain.ServiceBusy(tc.chain); got != tc.busy {
				t.Errorf("busy: %s, want %s", got, tc.busy)
			}
			if end := domain.ServiceEnd(tc.chain, true); end.State != tc.ok || end.Remove != tc.removed {
				t.Errorf("completed: %+v, want state %q removed %v", end, tc.ok, tc.removed)
			}
			if end := domain.ServiceEnd(tc.chain, false); end.State != tc.fails || end.Remove {
				t.Errorf("failed: %+v, want state %s", end, tc.fails)
			}
		})
	}
}
