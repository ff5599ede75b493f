package hostd_test

import (
	"fmt"
	"testing"

	"github.com/vmware/govmomi/vim25/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

func TestPowerStates(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ds := reg.host.Datastores[0].Name
		ctx := t.Context()
		on := func(id string) error { _, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: id}); return err }
		suspend := func(id string) error { _, err := h.Suspend(ctx, &hostdv1.VmRef{VmId: id}); return err }
		reset := func(id string) error { _, err := h.Reset(ctx, &hostdv1.VmRef{VmId: id}); return err }
		cases := []struct {
			name  string
			setup []func(string) error // hostd calls that bring the VM to the state the case starts from
			call  func(string) error
			want  codes.Code
			state types.VirtualMachinePowerState // on the host afterwards
		}{
			{"suspend on", []func(string) error{on}, suspend, codes.OK, types.VirtualMachinePowerStateSuspended},
			{"suspend suspended", []func(string) error{on, suspend}, suspend, codes.OK, types.VirtualMachinePowerStateSuspended},
			{"suspend off", nil, suspend, codes.FailedPrecondition, types.VirtualMachinePowerStatePoweredOff},
			{"power on suspended resumes", []func(string) error{on, suspend}, on, codes.OK, types.VirtualMachinePowerStatePoweredOn},
			{"power off suspended", []func(string) error{on, suspend}, func(id string) error {
				_, err := h.PowerOff(ctx, &hostdv1.VmRef{VmId: id})
				return err
			}, codes.OK, types.VirtualMachinePowerStatePoweredOff},
			{"reset on", []func(string) error{on}, reset, codes.OK, types.VirtualMachinePowerStatePoweredOn},
			{"reset off", nil, reset, codes.FailedPrecondition, types.VirtualMachinePowerStatePoweredOff},
			{"reset suspended", []func(string) error{on, suspend}, reset, codes.FailedPrecondition, types.VirtualMachinePowerStateSuspended},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				id := fmt.Sprint("vm-p", i)
				createVM(t, h, ds, id)
				for _, f := range tc.setup {
					if err := f(id); err != nil {
						t.Fatalf("setup: %v", err)
					}
				}
				before := v.boots(id)
				if err := tc.call(id); status.Code(err) != tc.want {
					t.Fatalf("got %v, want %s", err, tc.want)
				}
				if got := v.powerState(id); got != string(tc.state) {
					t.Fatalf("host has the VM %s, want %s", got, tc.state)
				}
				if tc.name == "reset on" {
					if after := v.boots(id); after <= before {
						t.Fatalf("reset did not restart the VM: boots %d, then %d", before, v.boots(id))
					}
				}
				// What hostd answers next agrees with the host.
				info, err := h.GetVm(ctx, &hostdv1.VmRef{VmId: id})
				if err != nil || info.PowerState != string(tc.state) {
					t.Fatalf("GetVm = %v, %v; want %s", info, err, tc.state)
				}
			})
		}
		for _, call := range []func(string) error{suspend, reset} {
			if err := call("nope"); status.Code(err) != codes.NotFound {
				t.Fatalf("unknown VM: %v, want NotFound", err)
			}
		}
	})
}

func TestReconfigure(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ctx := t.Context()
		createVM(t, h, reg.host.Datastores[0].Name, "vm-r")
		cases := []struct {
			name    string
			req     *hostdv1.ReconfigureRequest
			powerOn bool // power the VM on first
			want    codes.Code
			cpu     int32 // on the host afterwards
			mem     int32
		}{
			{"resize", &hostdv1.ReconfigureRequest{VmId: "vm-r", CpuCount: 4, MemoryMb: 256}, false, codes.OK, 4, 256},
			{"replay", &hostdv1.ReconfigureRequest{VmId: "vm-r", CpuCount: 4, MemoryMb: 256}, false, codes.OK, 4, 256},
			{"memory only", &hostdv1.ReconfigureRequest{VmId: "vm-r", MemoryMb: 512}, false, codes.OK, 4, 512},
			{"cpu only", &hostdv1.ReconfigureRequest{VmId: "vm-r", CpuCount: 2}, false, codes.OK, 2, 512},
			{"negative", &hostdv1.ReconfigureRequest{VmId: "vm-r", CpuCount: -1}, false, codes.InvalidArgument, 2, 512},
			{"powered on", &hostdv1.ReconfigureRequest{VmId: "vm-r", CpuCount: 8}, true, codes.FailedPrecondition, 2, 512},
			{"powered on, nothing to change", &hostdv1.ReconfigureRequest{VmId: "vm-r", CpuCount: 2, MemoryMb: 512}, true, codes.OK, 2, 512},
			{"unknown VM", &hostdv1.ReconfigureRequest{VmId: "nope", CpuCount: 2}, false, codes.NotFound, 2, 512},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if tc.powerOn {
					if _, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: "vm-r"}); err != nil {
						t.Fatal(err)
					}
				}
				info, err := h.Reconfigure(ctx, tc.req)
				if status.Code(err) != tc.want {
					t.Fatalf("got %v, want %s", err, tc.want)
				}
				if err == nil && (info.CpuCount != tc.cpu || info.MemoryMb != int64(tc.mem)) {
					t.Fatalf("hostd answered %d CPUs, %d MB; want %d, %d", info.CpuCount, info.MemoryMb, tc.cpu, tc.mem)
				}
				if cpus, mem := v.hardware("vm-r"); cpus != tc.cpu || mem != tc.mem {
					t.Fatalf("host has %d CPUs, %d MB; want %d, %d", cpus, mem, tc.cpu, tc.mem)
				}
			})
		}
	})
}
