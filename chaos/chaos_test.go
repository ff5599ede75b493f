package chaos

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShortRun deploys Photon as separate processes built from this tree, runs 50 VMs of
// mixed work while it kills the gateway, the notifier, redis-server, a hostd with its
// simulated host and four functions, and wants every task ended, nothing lost, one host
// object per entity and no reservation out of line.
func TestShortRun(t *testing.T) {
	// A step that failed while its part or Redis was down is retried by the broker for up
	// to 77 s (events.RedisBroker's 10 attempts from 100ms); the tasks may take that long
	// to end on a loaded machine, so the settle time outlasts it. Settling ends as soon as
	// every task has ended.
	const settle = 90 * time.Second
	if testing.Short() {
		t.Skip("deploys Photon as separate processes")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("needs redis-server (make deps)")
	}
	dir := t.TempDir()
	photon := os.Getenv("PHOTON_BIN") // make test builds it once for every test that runs it
	if photon == "" {
		photon = filepath.Join(dir, "photon")
		build := exec.CommandContext(t.Context(), "go", "build", "-o", photon, "github.com/photon-cloud/photon/cmd/photon")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build photon: %v\n%s", err, out)
		}
	}
	run := filepath.Join(dir, "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Run(t.Context(), Options{Photon: photon, Dir: run, Seed: 1, VMs: 50, Workers: 8, Rounds: 1, Kills: 8,
		MaxDown: time.Second, Settle: settle, TaskWait: 30 * time.Second, Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Reporting())
	t.Log(r)
	if r.Tasks == 0 {
		t.Fatal("the workload acknowledged no task")
	}
	for _, c := range []struct {
		name string
		n    int
	}{{"stuck", r.Stuck}, {"lost", r.Lost}, {"duplicated", r.Duplicated}, {"leaked", r.Leaked}, {"unreported orphans", r.Orphans - r.Reported}} {
		if c.n != 0 {
			t.Errorf("%s=%d, want 0", c.name, c.n)
		}
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
