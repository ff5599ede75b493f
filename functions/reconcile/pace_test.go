package reconcile

import (
	"slices"
	"testing"
	"time"
)

// TestPerPeriod: a fleet within the budget is gone over every period; a larger one in as
// many periods as the budget needs, each taking an equal share of the hosts.
func TestPerPeriod(t *testing.T) {
	for _, tc := range []struct {
		name      string
		hosts     int
		vms       int64
		every     time.Duration
		perSecond int
		want      int
	}{
		{"no VMs", 1000, 0, 30 * time.Second, 2000, 1000},
		{"within the budget", 1000, 60_000, 30 * time.Second, 2000, 1000},
		{"just over", 1000, 60_001, 30 * time.Second, 2000, 500},
		{"a million VMs on 10,000 hosts: 17 periods", 10_000, 1_000_000, 30 * time.Second, 2000, 589},
		{"more rounds than hosts", 3, 1_000_000, time.Second, 10, 1},
		{"no bound", 10_000, 1_000_000, 30 * time.Second, -1, 10_000},
		{"no hosts", 0, 1_000_000, 30 * time.Second, 2000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := perPeriod(tc.hosts, tc.vms, tc.every, tc.perSecond); got != tc.want {
				t.Fatalf("perPeriod(%d hosts, %d VMs) = %d, want %d", tc.hosts, tc.vms, got, tc.want)
			}
		})
	}
}

// TestShare: successive shares, each ending where the cursor ends, go round the hosts
// and cover each once a round.
func TestShare(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		end, n int
		want   []string
	}{
		{2, 2, []string{"a", "b"}},
		{4, 2, []string{"c", "d"}},
		{1, 2, []string{"e", "a"}}, // 6 % 5: the ring wraps
		{3, 2, []string{"b", "c"}},
		{0, 5, []string{"a", "b", "c", "d", "e"}},
	} {
		if got := share(ids, tc.end, tc.n); !slices.Equal(got, tc.want) {
			t.Errorf("share(end %d, n %d) = %v, want %v", tc.end, tc.n, got, tc.want)
		}
	}
}
