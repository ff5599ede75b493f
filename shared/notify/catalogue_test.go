package notify_test

import (
	"os"
	"strings"
	"testing"

	"github.com/photon-cloud/photon/shared/notify"
)

// TestCatalogueDoc checks that docs/events.md is the catalogue as Doc renders it;
// PHOTON_UPDATE=1 rewrites it.
func TestCatalogueDoc(t *testing.T) {
	const path = "../../docs/events.md"
	want := notify.Doc()
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
		t.Fatalf("%s is stale: run PHOTON_UPDATE=1 go test ./shared/notify/", path)
	}
}

func TestCatalogueTypes(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, et := range notify.Catalogue() {
		if seen[et.Type] {
			t.Errorf("%s listed twice", et.Type)
		}
		seen[et.Type] = true
		if !strings.HasPrefix(et.Type, notify.TypePrefix) || strings.ToLower(et.Type) != et.Type || et.Description == "" {
			t.Errorf("bad catalogue entry %+v", et)
		}
	}
	for _, typ := range []string{"io.photon.vm.created", "io.photon.vm.started", "io.photon.vm.stopped", "io.photon.vm.suspended",
		"io.photon.vm.error", "io.photon.vm.deleted", "io.photon.disk.attached", "io.photon.disk.detached",
		"io.photon.host.maintenance", "io.photon.host.ready", "io.photon.host.error", "io.photon.quota.changed",
		"io.photon.task.completed", "io.photon.task.failed", "io.photon.tenant.created", "io.photon.router.deleted",
		"io.photon.subnet.created", "io.photon.image.ready", "io.photon.flavor.deleted", "io.photon.zone.created"} {
		if !seen[typ] {
			t.Errorf("catalogue lacks %s", typ)
		}
	}
}
