package hostd

import (
	"crypto/sha256"
	"fmt"
	"path"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// What a request must be before any host sees it, and the defaults hostd fills in: the
// one home of both, used by the Server for every backend. A refused request is
// InvalidArgument, which the function runtime does not retry.

// BootDiskID is the id hostd reports a VM's boot disk by (the linked clone of its image);
// no other disk may take it.
const BootDiskID = "boot"

// PersistentDiskPath is where persistent disk id lives on its datastore:
// "disks/<id>.vmdk", outside any VM's folder, so destroying a VM's folder never takes it.
func PersistentDiskPath(id string) string { return "disks/" + id + ".vmdk" }

// guestInfoPrefix starts every extraConfig key a create may set: the rest of
// extraConfig holds the host's settings and hostd's own records (photon.vmId, NICs).
const guestInfoPrefix = "guestinfo."

func checkVMID(id string) error {
	if id == "" {
		return status.Error(codes.InvalidArgument, "vm_id is required")
	}
	return nil
}

// checkDiskID refuses ids that cannot name a disk file: empty, with a path separator, or
// the boot disk's reserved id.
func checkDiskID(id string) error {
	if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\\[]") || id == BootDiskID {
		return status.Errorf(codes.InvalidArgument, "invalid disk id %q", id)
	}
	return nil
}

// checkPath checks a path relative to a datastore's root: not empty, not absolute, not
// leaving the datastore, already clean.
func checkPath(p string) error {
	if p == "" || path.IsAbs(p) || path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../") ||
		strings.ContainsAny(p, "[]\\") {
		return status.Errorf(codes.InvalidArgument, "invalid datastore path %q", p)
	}
	return nil
}

// checkGuestInfo refuses a create's guest_info key outside guestinfo.
func checkGuestInfo(m map[string]string) error {
	for k := range m {
		if !strings.HasPrefix(k, guestInfoPrefix) || len(k) == len(guestInfoPrefix) {
			return status.Errorf(codes.InvalidArgument, "guest_info key %q is not %s<name>: the rest of extraConfig is not the guest's", k, guestInfoPrefix)
		}
	}
	return nil
}

// nicMAC is a stable MAC in VMware's manual range (00:50:56:00:00:00-3F:FF:FF) for a NIC.
func nicMAC(vmID, nicID string) string {
	s := sha256.Sum256([]byte(vmID + "/" + nicID))
	return fmt.Sprintf("00:50:56:%02x:%02x:%02x", s[0]&0x3f, s[1], s[2])
}

// checked checks r and fills in its defaults, returning the request a backend gets (a
// copy where a default was filled in: the caller's message is left as it was).
func checked[R proto.Message](r R) (R, error) {
	var err error
	switch m := any(r).(type) {
	case *hostdv1.CreateVmRequest:
		if err = checkVMID(m.GetVmId()); err == nil {
			err = checkGuestInfo(m.GetGuestInfo())
		}
		if err == nil && (m.GetCpuCount() < 1 || m.GetMemoryMb() < 4) {
			// A VM has one CPU and 4 MB of memory at least.
			c := proto.Clone(m).(*hostdv1.CreateVmRequest)
			c.CpuCount, c.MemoryMb = max(c.GetCpuCount(), 1), max(c.GetMemoryMb(), 4)
			r = any(c).(R)
		}
	case *hostdv1.VmRef:
		err = checkVMID(m.GetVmId())
	case *hostdv1.AttachDiskRequest:
		if err = checkVMID(m.GetVmId()); err == nil {
			err = checkDiskID(m.GetDiskId())
		}
	case *hostdv1.DetachDiskRequest:
		// Any id may be asked to go: one that names no disk has nothing to detach.
		err = checkVMID(m.GetVmId())
	case *hostdv1.AddNicRequest:
		err = checkVMID(m.GetVmId())
		if err == nil && m.GetMacAddress() == "" {
			c := proto.Clone(m).(*hostdv1.AddNicRequest)
			c.MacAddress = nicMAC(c.GetVmId(), c.GetNicId())
			r = any(c).(R)
		}
	case *hostdv1.RemoveNicRequest:
		err = checkVMID(m.GetVmId())
	case *hostdv1.ReconfigureRequest:
		if err = checkVMID(m.GetVmId()); err == nil && (m.GetCpuCount() < 0 || m.GetMemoryMb() < 0) {
			err = status.Errorf(codes.InvalidArgument, "cpu_count %d and memory_mb %d must not be negative", m.GetCpuCount(), m.GetMemoryMb())
		}
	case *hostdv1.CreateDiskRequest:
		if err = checkDiskID(m.GetDiskId()); err == nil && m.GetCapacityGb() <= 0 {
			err = status.Errorf(codes.InvalidArgument, "capacity_gb %d must be positive", m.GetCapacityGb())
		}
	case *hostdv1.DiskRef:
		err = checkDiskID(m.GetDiskId())
	case *hostdv1.AttachPersistentDiskRequest:
		if err = checkVMID(m.GetVmId()); err == nil {
			err = checkDiskID(m.GetDiskId())
		}
	case *hostdv1.UploadFileChunk:
		err = checkPath(m.GetPath())
	case *hostdv1.CopyImageRequest:
		if err = checkPath(m.GetSourcePath()); err == nil {
			err = checkPath(m.GetTargetPath())
		}
	case *hostdv1.DeleteFileRequest:
		err = checkPath(m.GetPath())
	case *hostdv1.CreateImageFromVmRequest:
		if err = checkVMID(m.GetVmId()); err == nil {
			err = checkPath(m.GetTargetPath())
		}
	case *hostdv1.AttachIsoRequest:
		if err = checkVMID(m.GetVmId()); err == nil {
			err = checkPath(m.GetPath())
		}
	case *hostdv1.GetResourcesRequest, *hostdv1.ListInventoryRequest:
	default:
		// A request type added to hostd.v1 without its checks here.
		err = status.Errorf(codes.Unimplemented, "hostd does not check a %T", r)
	}
	return r, err
}
