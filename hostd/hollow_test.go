package hostd_test

import (
	"context"
	"path"
	"testing"

	"github.com/photon-cloud/photon/hostd"
	"github.com/photon-cloud/photon/hostd/hollow"
)

// hollowHost is a hollow host, read through its own operator's methods.
type hollowHost struct {
	t testing.TB
	*hollow.Host
}

func (h *hollowHost) start(ctx context.Context, o hostd.Options) (*hostd.Daemon, error) {
	return hostd.StartBackend(ctx, o, h.Host)
}

func (h *hollowHost) vm(id string) hollow.VM {
	h.t.Helper()
	v, ok := h.VM(id)
	if !ok {
		h.t.Fatalf("no VM %s on the host", id)
	}
	return v
}

func (h *hollowHost) vmCount(name string) int {
	if _, ok := h.VM(name); ok {
		return 1
	}
	return 0
}

func (h *hollowHost) powerState(id string) string { return h.vm(id).PowerState }

func (h *hollowHost) hardware(id string) (int32, int32) {
	v := h.vm(id)
	return v.CPUs, v.MemoryMB
}

func (h *hollowHost) boots(id string) int64 { return int64(h.vm(id).Boots) }

func (h *hollowHost) disks(id string) []string { return h.vm(id).Disks }

func (h *hollowHost) diskCount(id, diskID string) int {
	n := 0
	for _, f := range h.disks(id) {
		if path.Base(f) == diskID+".vmdk" {
			n++
		}
	}
	return n
}

func (h *hollowHost) nicCount(id string) int { return len(h.vm(id).MACs) }

func (h *hollowHost) iso(id string) string { return h.vm(id).ISO }

func (h *hollowHost) cdroms(id string) int { return h.vm(id).CDROMs }

func (h *hollowHost) extraConfig(id string) map[string]string { return h.vm(id).ExtraConfig }

func (h *hollowHost) exists(ds, p string) bool { return h.Exists(ds, p) }

func (h *hollowHost) read(ds, p string) []byte {
	h.t.Helper()
	b, ok := h.ReadFile(ds, p)
	if !ok {
		h.t.Fatalf("read [%s] %s: no such file", ds, p)
	}
	return b
}

func (h *hollowHost) createForeign(ds, name string) {
	h.t.Helper()
	if err := h.CreateVM(ds, name); err != nil {
		h.t.Fatal(err)
	}
}

func (h *hollowHost) destroy(id string) {
	h.t.Helper()
	if !h.DestroyVM(id) {
		h.t.Fatalf("destroy %s: no such VM", id)
	}
}

func (h *hollowHost) setGuestIP(id, ip string) {
	h.t.Helper()
	if err := h.SetGuestIP(id, ip); err != nil {
		h.t.Fatal(err)
	}
}

// guestMAC is the MAC of the first adapter, on which SetGuestIP plays the guest.
func (h *hollowHost) guestMAC(id string) string { return h.vm(id).MACs[0] }

func (h *hollowHost) fail(_, call string) { h.Fail(call) }

func (h *hollowHost) clearFaults() { h.ClearFaults() }

// settle has nothing to wait for: a hollow host's work ends with its call.
func (h *hollowHost) settle() {}
