package hostd_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoRedisClient: no package of hostd links a Redis client, so a hostd cannot reach
// the control plane's Redis even if it were handed its address: what it reports goes
// through the registrar.
func TestNoRedisClient(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the package graph with")
	}
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", "github.com/photon-cloud/photon/hostd/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/redis/") || strings.HasPrefix(p, "github.com/alicebob/miniredis") ||
			p == "github.com/photon-cloud/photon/shared/store" {
			t.Errorf("hostd's package graph holds %s", p)
		}
	}
}
