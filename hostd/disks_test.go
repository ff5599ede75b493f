package hostd_test

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// TestPersistentDisks walks a persistent disk through its life on the host: each step is a
// hostd call, the code it must answer, and whether the disk file must be on the datastore
// and attached to vm-a afterwards (read from the host).
func TestPersistentDisks(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ctx := t.Context()
		ds := reg.host.Datastores[0].Name
		createVM(t, h, ds, "vm-a")
		createVM(t, h, ds, "vm-b")
		file := fmt.Sprintf("[%s] disks/pd1.vmdk", ds)
		ref := &hostdv1.DiskRef{DiskId: "pd1", Datastore: ds}
		attach := func(vm string) func() error {
			return func() error {
				info, err := h.AttachPersistentDisk(ctx, &hostdv1.AttachPersistentDiskRequest{VmId: vm, DiskId: "pd1", Datastore: ds})
				if err == nil && !slices.ContainsFunc(info.Disks, func(d *hostdv1.DiskInfo) bool { return d.Id == "pd1" && d.Persistent && d.File == file }) {
					return fmt.Errorf("attached disk not reported: %v", info.Disks)
				}
				return err
			}
		}
		detach := func(vm, disk string) func() error {
			return func() error {
				_, err := h.DetachDisk(ctx, &hostdv1.DetachDiskRequest{VmId: vm, DiskId: disk})
				return err
			}
		}
		deleteDisk := func(wantExisted bool) func() error {
			return func() error {
				res, err := h.DeleteDisk(ctx, ref)
				if err == nil && res.Existed != wantExisted {
					return fmt.Errorf("existed = %v, want %v", res.Existed, wantExisted)
				}
				return err
			}
		}
		steps := []struct {
			name             string
			call             func() error
			want             codes.Code
			exists, attached bool
		}{
			{"attach before create", attach("vm-a"), codes.NotFound, false, false},
			{"create", func() error {
				info, err := h.CreateDisk(ctx, &hostdv1.CreateDiskRequest{DiskId: "pd1", Datastore: ds, CapacityGb: 2})
				if err == nil && (info.File != file || !info.Persistent || info.CapacityKb != 2<<20) {
					return fmt.Errorf("created %v", info)
				}
				return err
			}, codes.OK, true, false},
			{"create again", func() error {
				_, err := h.CreateDisk(ctx, &hostdv1.CreateDiskRequest{DiskId: "pd1", Datastore: ds, CapacityGb: 2})
				return err
			}, codes.OK, true, false},
			{"create without size", func() error {
				_, err := h.CreateDisk(ctx, &hostdv1.CreateDiskRequest{DiskId: "pd2", Datastore: ds})
				return err
			}, codes.InvalidArgument, true, false},
			{"create on unknown datastore", func() error {
				_, err := h.CreateDisk(ctx, &hostdv1.CreateDiskRequest{DiskId: "pd2", Datastore: "nods", CapacityGb: 1})
				return err
			}, codes.NotFound, true, false},
			{"attach", attach("vm-a"), codes.OK, true, true},
			{"attach again", attach("vm-a"), codes.OK, true, true},
			{"attach to unknown VM", attach("nope"), codes.NotFound, true, true},
			{"delete while attached", deleteDisk(true), codes.FailedPrecondition, true, true},
			{"detach keeps the file", detach("vm-a", "pd1"), codes.OK, true, false},
			{"detach again", detach("vm-a", "pd1"), codes.OK, true, false},
			{"detach boot disk", detach("vm-a", "boot"), codes.FailedPrecondition, true, false},
			{"detach by the boot disk's file name", func() error {
				if err := detach("vm-a", "vm-a")(); err != nil {
					return err
				}
				if n := len(v.disks("vm-a")); n != 1 {
					return fmt.Errorf("vm-a has %d disks, want its boot disk", n)
				}
				return nil
			}, codes.OK, true, false},
			{"attach to another VM", attach("vm-b"), codes.OK, true, false},
			{"detach from the other VM", detach("vm-b", "pd1"), codes.OK, true, false},
			{"attach once more", attach("vm-a"), codes.OK, true, true},
			{"delete the VM detaches the disk first", func() error {
				// Destroying a VM would delete its disks: a delete that cannot detach the
				// persistent disk stops before destroying anything.
				v.fail("ReconfigVM_Task", "DeleteVm")
				defer v.clearFaults()
				_, err := h.DeleteVm(ctx, &hostdv1.VmRef{VmId: "vm-a"})
				return err
			}, codes.FailedPrecondition, true, true},
			{"delete the VM keeps the disk", func() error {
				if _, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: "vm-a"}); err != nil {
					return err
				}
				_, err := h.DeleteVm(ctx, &hostdv1.VmRef{VmId: "vm-a"})
				return err
			}, codes.OK, true, false},
			{"delete", deleteDisk(true), codes.OK, false, false},
			{"delete again", deleteDisk(false), codes.OK, false, false},
		}
		for _, st := range steps {
			if err := st.call(); status.Code(err) != st.want {
				t.Fatalf("%s: got %v, want %s", st.name, err, st.want)
			}
			if got := v.exists(ds, "disks/pd1.vmdk"); got != st.exists {
				t.Fatalf("%s: disk file on the datastore = %v, want %v", st.name, got, st.exists)
			}
			if got := v.exists(ds, "disks/pd1-flat.vmdk"); got != st.exists {
				t.Fatalf("%s: disk extent on the datastore = %v, want %v", st.name, got, st.exists)
			}
			if _, err := h.GetVm(ctx, &hostdv1.VmRef{VmId: "vm-a"}); err == nil {
				if got := slices.Contains(v.disks("vm-a"), file); got != st.attached {
					t.Fatalf("%s: attached to vm-a on the host = %v, want %v (%v)", st.name, got, st.attached, v.disks("vm-a"))
				}
			} else if st.attached {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		// vm-b's boot disk and ephemeral disks are its own: detaching an ephemeral disk still
		// deletes its file.
		if _, err := h.AttachDisk(ctx, &hostdv1.AttachDiskRequest{VmId: "vm-b", DiskId: "e1", CapacityGb: 1}); err != nil {
			t.Fatal(err)
		}
		if !v.exists(ds, "vm-b/e1.vmdk") {
			t.Fatal("ephemeral disk not created")
		}
		if _, err := h.DetachDisk(ctx, &hostdv1.DetachDiskRequest{VmId: "vm-b", DiskId: "e1"}); err != nil {
			t.Fatal(err)
		}
		if v.exists(ds, "vm-b/e1.vmdk") {
			t.Fatal("ephemeral disk file kept")
		}
		if n := len(v.disks("vm-b")); n != 1 {
			t.Fatalf("vm-b has %d disks, want its boot disk only", n)
		}
	})
}
