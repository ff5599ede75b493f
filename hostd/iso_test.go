package hostd_test

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

func TestISO(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ctx := t.Context()
		ds := reg.host.Datastores[0].Name
		createVM(t, h, ds, "vm-c")
		for _, p := range []string{"isos/a.iso", "isos/b.iso"} {
			if _, err := upload(t, h, ds, p, []byte("ISO 9660"), 0); err != nil {
				t.Fatal(err)
			}
		}
		attach := func(vm, p string) func() (*hostdv1.VmInfo, error) {
			return func() (*hostdv1.VmInfo, error) {
				return h.AttachIso(ctx, &hostdv1.AttachIsoRequest{VmId: vm, Datastore: ds, Path: p})
			}
		}
		detach := func(vm string) func() (*hostdv1.VmInfo, error) {
			return func() (*hostdv1.VmInfo, error) { return h.DetachIso(ctx, &hostdv1.VmRef{VmId: vm}) }
		}
		isoA, isoB := fmt.Sprintf("[%s] isos/a.iso", ds), fmt.Sprintf("[%s] isos/b.iso", ds)
		steps := []struct {
			name    string
			call    func() (*hostdv1.VmInfo, error)
			want    codes.Code
			iso     string // in the CD-ROM on the host afterwards
			cdroms  int
			powerOn bool // power vm-c on first
		}{
			{"detach with none", detach("vm-c"), codes.FailedPrecondition, "", 0, false},
			{"attach a missing file", attach("vm-c", "isos/none.iso"), codes.NotFound, "", 0, false},
			{"attach", attach("vm-c", "isos/a.iso"), codes.OK, isoA, 1, false},
			{"attach again", attach("vm-c", "isos/a.iso"), codes.OK, isoA, 1, false},
			{"attach another", attach("vm-c", "isos/b.iso"), codes.OK, isoB, 1, false},
			{"detach", detach("vm-c"), codes.OK, "", 1, false},
			{"detach again", detach("vm-c"), codes.FailedPrecondition, "", 1, false},
			{"attach to a running VM", attach("vm-c", "isos/a.iso"), codes.OK, isoA, 1, true},
			{"detach from a running VM", detach("vm-c"), codes.OK, "", 1, false},
			{"attach to an unknown VM", attach("nope", "isos/a.iso"), codes.NotFound, "", 1, false},
			{"detach from an unknown VM", detach("nope"), codes.NotFound, "", 1, false},
		}
		for _, st := range steps {
			if st.powerOn {
				if _, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: "vm-c"}); err != nil {
					t.Fatal(err)
				}
			}
			info, err := st.call()
			if status.Code(err) != st.want {
				t.Fatalf("%s: got %v, want %s", st.name, err, st.want)
			}
			if err == nil && info.Iso != st.iso {
				t.Fatalf("%s: hostd reports ISO %q, want %q", st.name, info.Iso, st.iso)
			}
			if iso, n := v.iso("vm-c"), v.cdroms("vm-c"); iso != st.iso || n != st.cdroms {
				t.Fatalf("%s: host has ISO %q in %d CD-ROMs, want %q in %d", st.name, iso, n, st.iso, st.cdroms)
			}
		}
	})
}

// TestNICAddresses: a NIC is reported with its MAC, and with its IP address once the guest
// reports one.
func TestNICAddresses(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ctx := t.Context()
		createVM(t, h, reg.host.Datastores[0].Name, "vm-n")
		info, err := h.AddNic(ctx, &hostdv1.AddNicRequest{VmId: "vm-n", NicId: "nic-0", Network: "VM Network"})
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Nics) != 1 || info.Nics[0].MacAddress == "" || info.Nics[0].IpAddress != "" {
			t.Fatalf("nics = %v, want one with a MAC and no IP yet", info.Nics)
		}
		v.setGuestIP("vm-n", "10.1.2.3")
		info, err = h.GetVm(ctx, &hostdv1.VmRef{VmId: "vm-n"})
		if err != nil {
			t.Fatal(err)
		}
		if len(info.Nics) != 1 || info.Nics[0].IpAddress != "10.1.2.3" {
			t.Fatalf("nics = %v, want the guest's address", info.Nics)
		}
		if mac := v.guestMAC("vm-n"); info.Nics[0].MacAddress != mac {
			t.Fatalf("hostd reports MAC %s, the host %s", info.Nics[0].MacAddress, mac)
		}
	})
}
