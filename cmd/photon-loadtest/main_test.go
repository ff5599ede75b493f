package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

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
	o := options{hosts: 2, redisURL: storetest.URL(t), prefix: storetest.Prefix(t), vms: 120, concurrency: 1, bulk: 30, api: "grpc", baseline: true,
		report: dir, name: "smoke", probe: 20}
	if err := run(t.Context(), o, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	re := regexp.MustCompile(`^RESULT vms=120 seconds=[0-9.]+ vms_per_min=[0-9]+ baseline_vms_per_min=[1-9][0-9]* ratio=[0-9.]+ p99_ms=[0-9]+ errors=0$`)
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

func TestBadFlags(t *testing.T) {
	cases := []options{{api: "soap", vms: 1, concurrency: 1}, {api: "rest", vms: 0, concurrency: 1}}
	for _, o := range cases {
		if err := run(t.Context(), o, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Fatalf("%+v: no error", o)
		}
	}
}
