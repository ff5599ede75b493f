package runtime_test

import (
	"os"
	"testing"

	"github.com/photon-cloud/photon/functions/runtime"
)

// TestKnativeServicesMatchScaling checks that infra/knative/functions.yaml carries the
// autoscaling the local runtime uses, for every function; PHOTON_UPDATE=1 rewrites it.
func TestKnativeServicesMatchScaling(t *testing.T) {
	const path = "../../infra/knative/functions.yaml"
	want := runtime.KnativeServices("ko://github.com/photon-cloud/photon/cmd/photon")
	if os.Getenv("PHOTON_UPDATE") != "" {
		if err := os.MkdirAll("../../infra/knative", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is stale: run PHOTON_UPDATE=1 go test ./functions/runtime/", path)
	}
}
