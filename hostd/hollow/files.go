package hollow

import (
	"cmp"
	"context"
	"errors"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// datastore is one datastore and the files on it that are no VM's (image disks,
// persistent disks, uploads, copies), with their folders.
type datastore struct {
	id, name       string
	capacity, used int64
	files          map[string]*file // by path; folders too
}

// file is a file or folder on a datastore. A disk is its descriptor ("x.vmdk") and, as on
// VMFS, an extent beside it ("x-flat.vmdk") that is not kept apart.
type file struct {
	at        string // its path
	dir, disk bool
	capKB     int64  // a disk's capacity
	size      int64  // bytes it takes on the datastore
	data      []byte // an upload's first MaxKept bytes
}

func (ds *datastore) path(p string) string { return "[" + ds.name + "] " + p }

// key is p as the datastore holds it, so that VMs share one copy of their image's path.
func (ds *datastore) key(p string) string {
	if f, ok := ds.files[p]; ok {
		return f.at
	}
	return p
}

// put makes or replaces the file at p, and the folders on its way.
func (ds *datastore) put(p string, f *file) {
	if f.disk && f.size == 0 {
		f.size = f.capKB << 10
	}
	for dir := path.Dir(p); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if _, ok := ds.files[dir]; !ok {
			ds.files[dir] = &file{at: dir, dir: true}
		}
	}
	ds.remove(p)
	f.at = p
	ds.files[p] = f
	ds.used += f.size
}

// remove deletes the file at p, if any.
func (ds *datastore) remove(p string) {
	if f, ok := ds.files[p]; ok {
		ds.used -= f.size
		delete(ds.files, p)
	}
}

func (ds *datastore) capKB(p string) int64 {
	if f, ok := ds.files[p]; ok {
		return cmp.Or(f.capKB, f.size>>10)
	}
	return 0
}

// images are the disk descriptors under images/, as vSphere's datastore search lists them.
func (ds *datastore) images() []string {
	var out []string
	for p, f := range ds.files {
		if !f.dir && path.Dir(p) == "images" && strings.HasSuffix(p, ".vmdk") && !strings.HasPrefix(path.Base(p), ".") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

func isPersistent(p string) bool { return path.Dir(p) == "disks" && strings.HasSuffix(p, ".vmdk") }

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// found is what a datastore path names.
type found struct {
	f  *file // a file or folder of the datastore's own (a disk for a disk's extent)
	vm *vm   // else the VM whose folder or disk file it is
	at string
}

func (x found) none() bool { return x.f == nil && x.vm == nil }

// lookup finds what p on ds is; h.mu is held.
func (h *Host) lookup(ds *datastore, p string) found {
	if f, ok := ds.files[p]; ok {
		return found{f: f, at: p}
	}
	if base, ok := strings.CutSuffix(p, "-flat.vmdk"); ok {
		if f, ok := ds.files[base+".vmdk"]; ok && f.disk {
			return found{f: f, at: base + ".vmdk"}
		}
	}
	dir, name, _ := strings.Cut(p, "/")
	v, ok := h.vms[dir]
	if !ok || v.ds != ds {
		return found{}
	}
	if name == "" {
		return found{vm: v}
	}
	id, ok := strings.CutSuffix(name, "-flat.vmdk")
	if !ok {
		id, ok = strings.CutSuffix(name, ".vmdk")
	}
	if !ok || strings.Contains(id, "/") {
		return found{}
	}
	if id == v.name && v.image != "" {
		return found{vm: v}
	}
	if i := v.findDisk(id); i >= 0 && v.disks[i].ds == nil {
		return found{vm: v}
	}
	return found{}
}

// CreateDisk makes persistent disk "disks/<id>.vmdk"; one that exists is reported with the
// capacity asked for, as on vSphere: the id names the disk, and a create is no resize.
func (h *Host) CreateDisk(ctx context.Context, r *hostdv1.CreateDiskRequest) (*hostdv1.DiskInfo, error) {
	unlock, err := h.begin(ctx, "CreateDisk")
	if err != nil {
		return nil, err
	}
	defer unlock()
	ds, err := h.datastore(r.GetDatastore())
	if err != nil {
		return nil, err
	}
	p := hostd.PersistentDiskPath(r.GetDiskId())
	if h.lookup(ds, p).none() {
		ds.put(p, &file{disk: true, capKB: r.GetCapacityGb() << 20})
	}
	return &hostdv1.DiskInfo{Id: r.GetDiskId(), File: ds.path(p), CapacityKb: r.GetCapacityGb() << 20, Persistent: true}, nil
}

func (h *Host) DeleteDisk(ctx context.Context, r *hostdv1.DiskRef) (*hostdv1.DeleteDiskResponse, error) {
	unlock, err := h.begin(ctx, "DeleteDisk")
	if err != nil {
		return nil, err
	}
	defer unlock()
	ds, err := h.datastore(r.GetDatastore())
	if err != nil {
		return nil, err
	}
	p := hostd.PersistentDiskPath(r.GetDiskId())
	for _, v := range h.vms {
		if slices.ContainsFunc(v.disks, func(d disk) bool { return d.ds == ds && d.id == r.GetDiskId() }) {
			return nil, status.Errorf(codes.FailedPrecondition, "disk %s is attached to VM %s: detach it first", ds.path(p), v.name)
		}
	}
	if _, ok := ds.files[p]; !ok {
		return &hostdv1.DeleteDiskResponse{}, nil
	}
	ds.remove(p)
	return &hostdv1.DeleteDiskResponse{Existed: true}, nil
}

// AttachPersistentDisk adds the existing disk file to the VM, creating nothing.
func (h *Host) AttachPersistentDisk(ctx context.Context, r *hostdv1.AttachPersistentDiskRequest) (*hostdv1.VmInfo, error) {
	unlock, err := h.begin(ctx, "AttachPersistentDisk")
	if err != nil {
		return nil, err
	}
	defer unlock()
	v, err := h.mustVM(r.GetVmId())
	if err != nil {
		return nil, err
	}
	ds, err := h.datastore(r.GetDatastore())
	if err != nil {
		return nil, err
	}
	p := hostd.PersistentDiskPath(r.GetDiskId())
	if i := v.findDisk(r.GetDiskId()); i >= 0 {
		if v.disks[i].ds == ds {
			return v.report(), nil
		}
		return nil, status.Errorf(codes.AlreadyExists, "VM %s has another disk named %s (%s)", v.name, r.GetDiskId(), v.disks[i].file(v))
	}
	f, ok := ds.files[p]
	if !ok || f.dir {
		return nil, status.Errorf(codes.NotFound, "disk file %s not found", ds.path(p))
	}
	v.disks = append(v.disks, disk{id: r.GetDiskId(), ds: ds, capKB: ds.capKB(p)})
	return v.report(), nil
}

// UploadFile writes the stream's data to the file the first chunk names once the stream
// has ended whole: a stream cut short leaves nothing.
func (h *Host) UploadFile(ctx context.Context, first *hostdv1.UploadFileChunk, recv func() (*hostdv1.UploadFileChunk, error)) (*hostdv1.UploadFileResponse, error) {
	unlock, err := h.begin(ctx, "UploadFile")
	if err != nil {
		return nil, err
	}
	_, err = h.datastore(first.GetDatastore())
	unlock()
	if err != nil {
		return nil, err
	}
	// The stream is read without the host's lock: it comes at its caller's pace.
	var data []byte
	var n int64
	for chunk := first; ; {
		b := chunk.GetData()
		n += int64(len(b))
		if keep := min(len(b), MaxKept-len(data)); keep > 0 {
			data = append(data, b[:keep]...)
		}
		if chunk, err = recv(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ds := h.dss[first.GetDatastore()]
	at := h.lookup(ds, first.GetPath())
	switch {
	case at.vm != nil:
		return nil, status.Errorf(codes.FailedPrecondition, "%s is VM %s's", ds.path(first.GetPath()), at.vm.name)
	case at.f != nil && at.f.dir:
		return nil, status.Errorf(codes.InvalidArgument, "%s is a folder, not a file", ds.path(first.GetPath()))
	}
	ds.put(first.GetPath(), &file{size: n, data: data})
	return &hostdv1.UploadFileResponse{Bytes: n}, nil
}

func (h *Host) CopyImage(ctx context.Context, r *hostdv1.CopyImageRequest) (*hostdv1.CopyImageResponse, error) {
	unlock, err := h.begin(ctx, "CopyImage")
	if err != nil {
		return nil, err
	}
	defer unlock()
	src, err := h.datastore(r.GetSourceDatastore())
	if err != nil {
		return nil, err
	}
	dst, err := h.datastore(r.GetTargetDatastore())
	if err != nil {
		return nil, err
	}
	existed, err := h.copyDisk(src, r.GetSourcePath(), dst, r.GetTargetPath())
	if err != nil {
		return nil, err
	}
	return &hostdv1.CopyImageResponse{Existed: existed}, nil
}

// copyDisk copies the disk at sp on src to tp on dst unless tp is there already
// (existed); h.mu is held.
func (h *Host) copyDisk(src *datastore, sp string, dst *datastore, tp string) (existed bool, err error) {
	if src == dst && sp == tp {
		return true, nil
	}
	if !h.lookup(dst, tp).none() {
		return true, nil
	}
	from := h.lookup(src, sp)
	var capKB int64
	switch {
	case from.none():
		return false, status.Errorf(codes.NotFound, "copy %s: file not found", src.path(sp))
	case from.f != nil && from.f.dir:
		return false, status.Errorf(codes.InvalidArgument, "copy %s: a folder is no disk", src.path(sp))
	case from.f != nil:
		capKB = src.capKB(from.at)
	default: // a VM's boot disk, consolidated with its image
		capKB = src.capKB(from.vm.image)
	}
	dst.put(tp, &file{disk: true, capKB: capKB})
	return false, nil
}

// DeleteFile deletes a file from a datastore, a disk with its extent. It refuses folders
// and a VM's own files, which go with the VM.
func (h *Host) DeleteFile(ctx context.Context, r *hostdv1.DeleteFileRequest) (*hostdv1.DeleteFileResponse, error) {
	unlock, err := h.begin(ctx, "DeleteFile")
	if err != nil {
		return nil, err
	}
	defer unlock()
	ds, err := h.datastore(r.GetDatastore())
	if err != nil {
		return nil, err
	}
	at := h.lookup(ds, r.GetPath())
	switch {
	case at.none():
		return &hostdv1.DeleteFileResponse{}, nil
	case at.vm != nil && r.GetPath() == at.vm.name, at.f != nil && at.f.dir:
		return nil, status.Errorf(codes.InvalidArgument, "%s is a folder, not a file", ds.path(r.GetPath()))
	case at.vm != nil:
		return nil, status.Errorf(codes.FailedPrecondition, "%s is a disk of VM %s, which holds it", ds.path(r.GetPath()), at.vm.name)
	}
	ds.remove(at.at)
	return &hostdv1.DeleteFileResponse{Existed: true}, nil
}

// CreateImageFromVm copies the powered-off VM's boot disk to a standalone image disk.
func (h *Host) CreateImageFromVm(ctx context.Context, r *hostdv1.CreateImageFromVmRequest) (*hostdv1.CreateImageFromVmResponse, error) {
	unlock, err := h.begin(ctx, "CreateImageFromVm")
	if err != nil {
		return nil, err
	}
	defer unlock()
	v, err := h.mustVM(r.GetVmId())
	if err != nil {
		return nil, err
	}
	if v.power != poweredOff {
		return nil, status.Errorf(codes.FailedPrecondition, "VM %s is %s: an image is made from a powered-off VM", v.name, v.power)
	}
	if v.image == "" {
		return nil, status.Errorf(codes.FailedPrecondition, "VM %s has no boot disk", v.name)
	}
	ds, err := h.datastore(r.GetDatastore())
	if err != nil {
		return nil, err
	}
	existed, err := h.copyDisk(v.ds, v.name+"/"+v.name+".vmdk", ds, r.GetTargetPath())
	if err != nil {
		return nil, err
	}
	return &hostdv1.CreateImageFromVmResponse{Source: v.bootFile(), Existed: existed}, nil
}
