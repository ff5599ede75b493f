package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestSmoke runs the tool as `make loadtest` does, small: an in-process cloud, a bulk burst
// over gRPC and the baseline; the last line is the RESULT line and the report is written.
func TestSmoke(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	// Concurrency 1: the baseline's raw calls race inside vcsim when they overlap on a host
	// (hostd serialises Photon's), and the race detector is on. Each bulk call of 30 VMs
	// still runs its VMs' chains at once.
	o := options{hosts: 2, redisURL: storetest.URL(t), prefix: storetest.Prefix(t), vms: 120, concurrency: 1, bulk: 30, api: "grpc", wait: "poll", baseline: true,
		report: dir, name: "smoke", probe: 20}
	if err := run(t.Context(), o, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	re := regexp.MustCompile(`^RESULT vms=120 seconds=[0-9.]+ vms_per_min=[0-9]+ baseline_vms_per_min=[1-9][0-9]* ratio=[0-9.]+ p99_ms=[0-9]+ errors=0 cpu_ms_per_vm=[0-9.]+ redis_bytes_per_vm=-?[0-9]+$`)
	if !re.MatchString(last) {
		t.Fatalf("last line %q\n%s", last, out.String())
	}
	if !strings.Contains(out.String(), "probe: list 100 VMs") || !strings.Contains(out.String(), "step START_VM") {
		t.Fatalf("no probe or step figures:\n%s", out.String())
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Result string `json:"result"`
		Photon struct {
			DoneMs []float64 `json:"doneMs"`
		} `json:"photon"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil || rep.Result != last || len(rep.Photon.DoneMs) != 120 {
		t.Fatalf("report.json: %v %q %d", err, rep.Result, len(rep.Photon.DoneMs))
	}
	page, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil || strings.Count(string(page), "<svg") != 2 {
		t.Fatalf("report.html: %v, %d charts", err, strings.Count(string(page), "<svg"))
	}
}

// TestCostSmoke runs the tool on hollow hosts, as the CPU per VM is measured, with a few
// thousand VMs: the RESULT line carries the CPU and Redis memory per VM, and the split by
// part, printed before it and in report.json, adds up to the CPU per VM.
func TestCostSmoke(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	const vms = costSmokeVMs
	o := options{hollowHosts: 20, redisURL: storetest.URL(t), prefix: storetest.Prefix(t), vms: vms, concurrency: 100, api: "rest",
		wait: "events", report: dir, name: "cost", probeDuring: 20 * time.Millisecond}
	if err := run(t.Context(), o, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("output:\n%s", out.String())
	}
	res := fields(t, strings.TrimPrefix(lines[len(lines)-1], "RESULT "))
	if res["vms"] != strconv.Itoa(vms) || res["errors"] != "0" {
		t.Fatalf("RESULT %v", res)
	}
	cpu, mem := number(t, res["cpu_ms_per_vm"]), number(t, res["redis_bytes_per_vm"])
	if cpu <= 0 || mem <= 0 {
		t.Fatalf("cpu_ms_per_vm=%v redis_bytes_per_vm=%v", cpu, mem)
	}
	// The reads probed while the burst ran are timed.
	if get, list := number(t, res["get_p99_ms"]), number(t, res["list_p99_ms"]); get <= 0 || list <= 0 {
		t.Fatalf("get_p99_ms=%v list_p99_ms=%v", get, list)
	}
	split, ok := strings.CutPrefix(lines[len(lines)-2], "CPU per VM by part: ")
	split, _, _ = strings.Cut(split, ";") // the shares not counted
	if !ok {
		t.Fatalf("no split before the RESULT line:\n%s", out.String())
	}
	parts := fields(t, split)
	sum := 0.0
	for p, v := range parts {
		sum += number(t, strings.TrimSuffix(v, "ms"))
		if p == "loadclient" || p == "simulator" {
			t.Errorf("%s counted as Photon's", p)
		}
	}
	for _, p := range []string{"gateway", "function:place", "hostd", "redis"} {
		if number(t, strings.TrimSuffix(parts[p], "ms")) <= 0 {
			t.Errorf("no CPU for %s in %v", p, parts)
		}
	}
	if math.Abs(sum-cpu) > 0.0005*float64(len(parts)+1) { // each figure rounded to 3 decimals
		t.Fatalf("the parts sum to %.4f ms, the total is %.3f ms: %v", sum, cpu, parts)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Probe struct {
			List, Get struct{ N int }
		} `json:"probeDuring"`
		Cost struct {
			CPUMsPerVM float64            `json:"cpuMsPerVm"`
			ByPart     map[string]float64 `json:"cpuMsPerVmByPart"`
		} `json:"cost"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	sum = 0
	for _, v := range rep.Cost.ByPart {
		sum += v
	}
	if rep.Probe.List.N == 0 || rep.Probe.Get.N == 0 {
		t.Fatalf("report.json: probes during the burst %+v", rep.Probe)
	}
	if math.Abs(sum-rep.Cost.CPUMsPerVM) > 1e-9 || len(rep.Cost.ByPart) != len(parts) {
		t.Fatalf("report.json: parts %v sum to %v, total %v", rep.Cost.ByPart, sum, rep.Cost.CPUMsPerVM)
	}
	t.Logf("%s\n%s", lines[len(lines)-2], lines[len(lines)-1])
}

// fields parses "k=v k=v ..." into a map.
func fields(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("field %q of %q is not k=v", f, s)
		}
		out[k] = v
	}
	return out
}

func number(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return v
}

func TestBadFlags(t *testing.T) {
	cases := []options{{api: "soap", wait: "poll", vms: 1, concurrency: 1}, {api: "rest", wait: "poll", vms: 0, concurrency: 1},
		{api: "rest", wait: "sometimes", vms: 1, concurrency: 1}}
	for _, o := range cases {
		if err := run(t.Context(), o, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Fatalf("%+v: no error", o)
		}
	}
}
