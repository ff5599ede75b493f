// Package golden checks generated files against what the code renders now: a test fails
// when a checked-in file is stale, and PHOTON_UPDATE=1 rewrites it instead.
package golden

import (
	"os"
	"testing"
)

// Check fails t when the file at path differs from want, telling how to regenerate it
// (regen: the go test command); with PHOTON_UPDATE set it writes want to path first.
func Check(t testing.TB, path, want, regen string) {
	t.Helper()
	if os.Getenv("PHOTON_UPDATE") != "" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale: run PHOTON_UPDATE=1 %s", path, regen)
	}
}
