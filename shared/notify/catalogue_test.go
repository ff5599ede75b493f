package notify_test

import (
	"strings"
	"testing"

	"github.com/photon-cloud/photon/shared/golden"
	"github.com/photon-cloud/photon/shared/notify"
)

// TestCatalogueDoc checks that docs/events.md is the catalogue as Doc renders it;
// PHOTON_UPDATE=1 rewrites it.
func TestCatalogueDoc(t *testing.T) {
	golden.Check(t, "../../docs/events.md", notify.Doc(), "go test ./shared/notify/")
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
