package infra_test

import (
	"path/filepath"
	"testing"

	"github.com/photon-cloud/photon/infra"
	"github.com/photon-cloud/photon/shared/golden"
)

// TestManifestsUpToDate checks that infra/knative holds what Manifests renders from the
// chain table and the runtime's policies, and infra/monitoring what Monitoring renders
// from the metrics catalogue, and infra/haproxy what HAProxyFiles renders; PHOTON_UPDATE=1
// rewrites the files.
func TestManifestsUpToDate(t *testing.T) {
	for dir, files := range map[string]map[string]string{"knative": infra.Manifests(), "monitoring": infra.Monitoring(), "haproxy": infra.HAProxyFiles()} {
		for name, want := range files {
			golden.Check(t, filepath.Join(dir, name), want, "go test ./infra/")
		}
	}
}
