package infra_test

import (
	"path/filepath"
	"testing"

	"github.com/photon-cloud/photon/infra"
	"github.com/photon-cloud/photon/shared/golden"
)

// TestManifestsUpToDate checks that infra/knative holds what Manifests renders from the
// chain table and the runtime's policies; PHOTON_UPDATE=1 rewrites the files.
func TestManifestsUpToDate(t *testing.T) {
	for name, want := range infra.Manifests() {
		golden.Check(t, filepath.Join("knative", name), want, "go test ./infra/")
	}
}
