package chaos

import (
	"fmt"
	"testing"
	"time"
)

// TestSchedule: every round kills every kind of part once and redis-server in the first
// round only; a short schedule of eight still kills the gateway, the notifier, a hostd
// and redis-server; the same seed makes the same schedule.
func TestSchedule(t *testing.T) {
	d := &deployment{redis: &proc{name: "redis-server", kind: "redis-server"}, gateways: []*proc{{name: "gateway", kind: "gateway"}},
		notifier: &proc{name: "notifier", kind: "notifier"}}
	for i := range 4 {
		d.hostds = append(d.hostds, &proc{name: fmt.Sprintf("hostd %d", i), kind: "hostd"})
	}
	for _, fn := range []string{"place", "vmhost", "boot", "quota", "wiresubnet", "disks"} {
		d.funcs = append(d.funcs, &proc{name: "function " + fn, kind: "function " + fn})
	}
	kinds := func(ks []kill) map[string]int {
		out := map[string]int{}
		for _, k := range ks {
			out[k.proc.kind]++
			if k.simLost != (k.proc.kind == "hostd") || k.down < 0 || k.down > time.Second || k.at < 0.05 || k.at > 0.85 {
				t.Errorf("kill %+v", k)
			}
		}
		return out
	}
	cases := []struct {
		rounds, limit int
		want          map[string]int // kills of each kind; 0: any number
	}{
		{1, 0, map[string]int{"redis-server": 1, "gateway": 1, "notifier": 1, "hostd": 1, "function place": 1, "function disks": 1}},
		{2, 0, map[string]int{"redis-server": 1, "gateway": 2, "notifier": 2, "hostd": 2, "function vmhost": 2, "function boot": 2}},
		{1, 8, map[string]int{"redis-server": 1, "gateway": 1, "notifier": 1, "hostd": 1}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("rounds=%d limit=%d", tc.rounds, tc.limit), func(t *testing.T) {
			ks := schedule(d, 7, tc.rounds, tc.limit, time.Second)
			got := kinds(ks)
			for kind, n := range tc.want {
				if got[kind] != n {
					t.Errorf("%s killed %d times, want %d (schedule %v)", kind, got[kind], n, got)
				}
			}
			again := schedule(d, 7, tc.rounds, tc.limit, time.Second)
			for i := range ks {
				if a, b := ks[i], again[i]; a.at != b.at || a.proc != b.proc || a.down != b.down || a.simLost != b.simLost {
					t.Fatalf("seed 7 made two schedules: %+v and %+v", ks[i], again[i])
				}
			}
			for i := 1; i < len(ks); i++ {
				if ks[i].at <= ks[i-1].at {
					t.Fatalf("kill %d at %v after kill %d at %v", i, ks[i].at, i-1, ks[i-1].at)
				}
			}
		})
	}
}
