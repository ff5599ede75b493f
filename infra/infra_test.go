package infra_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/photon-cloud/photon/infra"
)

// TestManifestsUpToDate checks that infra/knative holds what Manifests renders from the
// chain table and the runtime's policies; PHOTON_UPDATE=1 rewrites the files.
func TestManifestsUpToDate(t *testing.T) {
	for name, want := range infra.Manifests() {
		path := filepath.Join("knative", name)
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
			t.Errorf("%s is stale: run PHOTON_UPDATE=1 go test ./infra/", path)
		}
	}
}
