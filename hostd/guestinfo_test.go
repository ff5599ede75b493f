package hostd_test

import (
	"maps"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// TestCreateGuestInfo: a create's guest_info is in the VM's extraConfig from the start,
// beside hostd's own photon.vmId; a repeated create leaves the VM as it is; a key outside
// guestinfo is refused and no VM is made.
func TestCreateGuestInfo(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ds := reg.host.Datastores[0].Name
		userdata := map[string]string{
			"guestinfo.userdata":          "I2Nsb3VkLWNvbmZpZwo=",
			"guestinfo.userdata.encoding": "base64",
			"guestinfo.metadata":          "e30=",
			"guestinfo.metadata.encoding": "base64",
		}
		cases := []struct {
			name  string
			id    string
			guest map[string]string
			want  codes.Code
		}{
			{"user data and metadata", "vm-g1", userdata, codes.OK},
			{"none", "vm-g2", nil, codes.OK},
			{"hostd's own key", "vm-g3", map[string]string{"guestinfo.userdata": "x", "photon.vmId": "vm-other"}, codes.InvalidArgument},
			{"a host setting", "vm-g4", map[string]string{"isolation.tools.copy.disable": "FALSE"}, codes.InvalidArgument},
			{"the bare prefix", "vm-g5", map[string]string{"guestinfo.": "x"}, codes.InvalidArgument},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req := &hostdv1.CreateVmRequest{VmId: tc.id, Name: tc.id, CpuCount: 1, MemoryMb: 32, Datastore: ds, ImagePath: image, GuestInfo: tc.guest}
				_, err := h.CreateVm(t.Context(), req)
				if status.Code(err) != tc.want {
					t.Fatalf("create: %v, want %s", err, tc.want)
				}
				if tc.want != codes.OK {
					if n := v.vmCount(tc.id); n != 0 {
						t.Fatalf("a refused create made %d VMs", n)
					}
					return
				}
				want := maps.Clone(tc.guest)
				if want == nil {
					want = map[string]string{}
				}
				want["photon.vmId"] = tc.id
				if got := v.extraConfig(tc.id); !maps.Equal(got, want) {
					t.Fatalf("extraConfig %v, want %v", got, want)
				}
				// A repeated create (a redelivered event) finds the VM and changes nothing,
				// whatever guest_info it carries.
				req.GuestInfo = map[string]string{"guestinfo.userdata": "changed"}
				if _, err := h.CreateVm(t.Context(), req); err != nil {
					t.Fatalf("repeat: %v", err)
				}
				if got := v.extraConfig(tc.id); !maps.Equal(got, want) {
					t.Fatalf("after a repeat: extraConfig %v, want %v", got, want)
				}
			})
		}
	})
}
