package loadtest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// full is a report with every part filled in: 1002 calls, 2 failed, in 40s (1500 VMs/min)
// against a baseline of 1000 in 20s (3000 VMs/min), 1.5 ms of CPU per VM.
func full() *Report {
	done := make([]time.Duration, 1000)
	for i := range done {
		done[i] = time.Duration(i+1) * 40 * time.Millisecond
	}
	return &Report{
		Started: time.Date(2026, 11, 22, 18, 0, 0, 0, time.UTC), Target: "http://x/<script>", API: "rest", Mode: "single",
		Hosts: 4, VMs: 1002, Concurrency: 100, PeakRSS: 64 << 20, Scale: map[string]int{"place": 3},
		Photon: Result{VMs: 1002, Errors: 2, Elapsed: 40 * time.Second, P50: 800 * time.Millisecond,
			P95: 1200 * time.Millisecond, P99: 1500 * time.Millisecond, Done: done,
			Steps: map[string]Percentiles{
				"START_VM": {N: 1000, P50: 5 * time.Millisecond, P95: 9 * time.Millisecond, P99: 12 * time.Millisecond},
				"PLACE_VM": {N: 1000, P50: 2500 * time.Microsecond, P95: 4 * time.Millisecond, P99: 7 * time.Millisecond},
			}},
		Baseline: &Result{VMs: 1000, Elapsed: 20 * time.Second, P99: 90 * time.Millisecond, Done: done[:500]},
		Cost: &Cost{CPUMsPerVM: ptr(1.5), RedisBytesPerVM: ptr(6262.4), ByPart: map[string]float64{"gateway": 1, "redis": 0.5},
			NotCounted: map[string]float64{"loadclient": 0.25}},
	}
}

func TestResultLine(t *testing.T) {
	t.Parallel()
	noBase := full()
	noBase.Baseline = nil
	emptyBase := &Report{Baseline: &Result{}}
	for _, tc := range []struct {
		name string
		r    *Report
		want string
	}{
		{"baseline", full(), "RESULT vms=1002 seconds=40.00 vms_per_min=1500 baseline_vms_per_min=3000 ratio=0.50 p99_ms=1500 errors=2 cpu_ms_per_vm=1.500 redis_bytes_per_vm=6262"},
		{"no baseline", noBase, "RESULT vms=1002 seconds=40.00 vms_per_min=1500 baseline_vms_per_min=0 ratio=0.00 p99_ms=1500 errors=2 cpu_ms_per_vm=1.500 redis_bytes_per_vm=6262"},
		{"empty", &Report{}, "RESULT vms=0 seconds=0.00 vms_per_min=0 baseline_vms_per_min=0 ratio=0.00 p99_ms=0 errors=0 cpu_ms_per_vm=unknown redis_bytes_per_vm=unknown"},
		{"empty baseline", emptyBase, "RESULT vms=0 seconds=0.00 vms_per_min=0 baseline_vms_per_min=0 ratio=0.00 p99_ms=0 errors=0 cpu_ms_per_vm=unknown redis_bytes_per_vm=unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.ResultLine(); got != tc.want {
				t.Errorf("ResultLine()\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestReportWriteFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		r         *Report
		ratio     float64
		doneMs    int
		placeP50  float64
		baseline  bool
		stepsRows int // bars in the latency chart: end-to-end and one per step
	}{
		{"full", full(), 0.5, 1000, 2.5, true, 3},
		{"empty", &Report{}, 0, 0, 0, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "out") // WriteFiles creates it
			jsonPath, htmlPath, err := tc.r.WriteFiles(dir)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(jsonPath)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Result string  `json:"result"`
				Ratio  float64 `json:"ratio"`
				VMs    int     `json:"vms"`
				Photon struct {
					VMs       int       `json:"vms"`
					ElapsedMs float64   `json:"elapsedMs"`
					P99Ms     float64   `json:"p99Ms"`
					DoneMs    []float64 `json:"doneMs"`
					Steps     map[string]struct {
						N     int     `json:"n"`
						P50Ms float64 `json:"p50Ms"`
					} `json:"steps"`
				} `json:"photon"`
				Baseline *struct {
					VMsPerMin float64 `json:"vmsPerMin"`
				} `json:"baseline"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatalf("report.json: %v\n%s", err, raw)
			}
			if got.Result != tc.r.ResultLine() || got.Ratio != tc.ratio || got.VMs != tc.r.VMs ||
				got.Photon.VMs != tc.r.Photon.VMs || got.Photon.ElapsedMs != float64(tc.r.Photon.Elapsed.Milliseconds()) ||
				got.Photon.P99Ms != float64(tc.r.Photon.P99.Milliseconds()) || len(got.Photon.DoneMs) != tc.doneMs ||
				got.Photon.Steps["PLACE_VM"].P50Ms != tc.placeP50 || (got.Baseline != nil) != tc.baseline {
				t.Errorf("report.json decodes to %+v", got)
			}
			var keys struct { // json.Unmarshal ignores case in field names, but not in map keys
				Photon struct {
					Steps map[string]map[string]float64 `json:"steps"`
				} `json:"photon"`
			}
			if err := json.Unmarshal(raw, &keys); err != nil {
				t.Fatal(err)
			}
			for name, st := range keys.Photon.Steps {
				for _, k := range []string{"n", "p50Ms", "p95Ms", "p99Ms"} {
					if _, ok := st[k]; !ok {
						t.Errorf("step %s has no %q: %v", name, k, st)
					}
				}
			}
			if tc.baseline && got.Baseline.VMsPerMin != 3000 {
				t.Errorf("baseline vmsPerMin = %v, want 3000", got.Baseline.VMsPerMin)
			}

			page, err := os.ReadFile(htmlPath)
			if err != nil {
				t.Fatal(err)
			}
			s := string(page)
			if n := strings.Count(s, "<svg"); n != 2 {
				t.Errorf("report.html has %d charts, want 2", n)
			}
			if n := strings.Count(s, "<rect"); n != 3*tc.stepsRows {
				t.Errorf("report.html has %d bars, want %d", n, 3*tc.stepsRows)
			}
			for _, bad := range []string{"<script>", "NaN", "Inf", "e+0"} {
				if strings.Contains(s, bad) {
					t.Errorf("report.html contains %q", bad)
				}
			}
			if tc.baseline && !strings.Contains(s, "CPU per VM: gateway</th><td>1.000 ms") {
				t.Errorf("report.html lacks the CPU split")
			}
			if !strings.Contains(s, tc.r.ResultLine()) {
				t.Errorf("report.html lacks the RESULT line")
			}
			if e2e, place, start := strings.Index(s, ">end-to-end<"), strings.Index(s, ">PLACE_VM<"), strings.Index(s, ">START_VM<"); tc.baseline && !(e2e < place && place < start) {
				t.Errorf("latency rows out of order: end-to-end@%d PLACE_VM@%d START_VM@%d", e2e, place, start)
			}
		})
	}
}

func TestProgressPlain(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := NewProgress(&buf, "photon", 1000)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		p.Run(t.Context())
	}()
	p.Set(10, 0, 5)
	p.Set(450, 3, 120)
	p.Stop()
	<-stopped
	p.Stop() // idempotent: no second final line

	out := buf.String()
	if strings.Contains(out, "\r") || !strings.HasSuffix(out, "\n") {
		t.Fatalf("not plain lines: %q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := lines[len(lines)-1]
	want := "photon  [" + strings.Repeat("#", 13) + strings.Repeat(".", 17) + "]  450/1000 done  3 failed  120 in flight  "
	if !strings.HasPrefix(last, want) || !strings.Contains(last, " VMs/min  ") || !strings.HasSuffix(last, "s") {
		t.Errorf("final line %q, want prefix %q", last, want)
	}
	if len(lines) > 2 { // at most one 5-second line from Run, then Stop's
		t.Errorf("%d lines, want at most 2:\n%s", len(lines), out)
	}
}

func TestProgressTerminal(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tc := range []struct {
		name string
		p    *Progress
	}{{"regular file", NewProgress(f, "x", 1)}, {"buffer", NewProgress(&bytes.Buffer{}, "x", 1)}} {
		if tc.p.tty {
			t.Errorf("%s counted as a terminal", tc.name)
		}
	}
}

func TestProgressCommas(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234: "1,234", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
}
