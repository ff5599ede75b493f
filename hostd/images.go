package hostd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// Image files: uploads through the host's datastore HTTP file access, disk copies between
// datastores, deletes, and images made from a VM's boot disk. Calls on one target file
// are serialised by its key (fileKey).

func fileKey(ds, p string) string { return "file:[" + ds + "] " + p }

// upload writes the stream's data to the file the first chunk names. The data goes to a
// hidden file beside it (".<name>.part", which no image listing matches) and is moved into
// place once complete, so an upload cut short never looks like a whole file.
func (h *host) upload(ctx context.Context, first *hostdv1.UploadFileChunk, recv func() (*hostdv1.UploadFileChunk, error)) (*hostdv1.UploadFileResponse, error) {
	p := first.GetPath()
	ds, err := h.datastore(ctx, first.GetDatastore())
	if err != nil {
		return nil, err
	}
	if err := h.makeDir(ctx, ds, path.Dir(p)); err != nil {
		return nil, err
	}
	part := path.Join(path.Dir(p), "."+path.Base(p)+".part")

	// The stream feeds the HTTP request body through a pipe; this function waits for the
	// feeding goroutine, so the stream is never read after the call returns.
	pr, pw := io.Pipe()
	var n int64
	done := make(chan error, 1)
	go func() {
		chunk := first
		for {
			if len(chunk.GetData()) > 0 {
				if _, err := pw.Write(chunk.GetData()); err != nil {
					done <- nil // the upload stopped reading; it says why
					return
				}
				n += int64(len(chunk.GetData()))
			}
			var err error
			if chunk, err = recv(); err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				pw.CloseWithError(err)
				done <- err
				return
			}
		}
	}()
	param := soap.DefaultUpload
	param.ContentLength = first.GetSize() // 0: unknown, sent chunked
	err = ds.Upload(ctx, pr, part, &param)
	pr.CloseWithError(errors.New("upload ended"))
	recvErr := <-done
	if recvErr != nil { // the stream broke, or carried other than its announced size (Server.UploadFile)
		err = fmt.Errorf("read upload stream: %w", recvErr)
	}
	fm := object.NewFileManager(h.c)
	if err == nil {
		// The data is all there: the move runs to its end whatever the caller does, as a
		// detached call's work does (detach).
		mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), workTimeout)
		defer cancel()
		var t *object.Task
		if t, err = fm.MoveDatastoreFile(mctx, ds.Path(part), h.dc, ds.Path(p), h.dc, true); err == nil {
			_, err = h.wait(mctx, t)
		}
	}
	if err != nil {
		if t, delErr := fm.DeleteDatastoreFile(context.WithoutCancel(ctx), ds.Path(part), h.dc); delErr == nil {
			_, _ = h.wait(context.WithoutCancel(ctx), t)
		}
		return nil, fmt.Errorf("upload %s: %w", ds.Path(p), err)
	}
	h.imageSeen.forget(ds.Path(p))
	return &hostdv1.UploadFileResponse{Bytes: n}, nil
}

// copyImage copies an image disk with VirtualDiskManager (descriptor and extents). The
// target's descriptor is what makes it whole: a copy that died half way is copied again
// over its leftovers.
func (h *host) copyImage(ctx context.Context, r *hostdv1.CopyImageRequest) (*hostdv1.CopyImageResponse, error) {
	sp, tp := r.GetSourcePath(), r.GetTargetPath()
	src, err := h.datastore(ctx, r.GetSourceDatastore())
	if err != nil {
		return nil, err
	}
	dst, err := h.datastore(ctx, r.GetTargetDatastore())
	if err != nil {
		return nil, err
	}
	existed, err := h.copyDisk(ctx, src.Path(sp), dst, tp)
	if err != nil {
		return nil, err
	}
	return &hostdv1.CopyImageResponse{Existed: existed}, nil
}

// copyDisk copies the disk file src ("[datastore] path") to path tp on dst unless tp is
// there already (existed).
func (h *host) copyDisk(ctx context.Context, src string, dst *object.Datastore, tp string) (existed bool, err error) {
	if src == dst.Path(tp) {
		return true, nil
	}
	if _, ok, err := h.exists(ctx, dst, tp); err != nil || ok {
		return ok, err
	}
	if err := h.makeDir(ctx, dst, path.Dir(tp)); err != nil {
		return false, err
	}
	// No destination spec: vCenter does not implement one, and without it the host keeps
	// the source's format.
	t, err := object.NewVirtualDiskManager(h.c).CopyVirtualDisk(ctx, src, h.dc, dst.Path(tp), h.dc, nil, true)
	if err != nil {
		return false, err
	}
	if _, err := h.wait(ctx, t); err != nil {
		return false, fmt.Errorf("copy %s to %s: %w", src, dst.Path(tp), err)
	}
	h.imageSeen.forget(dst.Path(tp))
	return false, nil
}

// deleteFile deletes a file from a datastore, a *.vmdk as a disk with its extents. It
// refuses folders: a recursive delete of images/ or a VM's folder is never what a caller
// of this means.
func (h *host) deleteFile(ctx context.Context, r *hostdv1.DeleteFileRequest) (*hostdv1.DeleteFileResponse, error) {
	p := r.GetPath()
	ds, err := h.datastore(ctx, r.GetDatastore())
	if err != nil {
		return nil, err
	}
	fi, ok, err := h.exists(ctx, ds, p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &hostdv1.DeleteFileResponse{}, nil
	}
	if _, dir := fi.(*types.FolderFileInfo); dir {
		return nil, status.Errorf(codes.InvalidArgument, "%s is a folder, not a file", ds.Path(p))
	}
	h.imageSeen.forget(ds.Path(p))
	if strings.HasSuffix(p, ".vmdk") {
		t, err := object.NewVirtualDiskManager(h.c).DeleteVirtualDisk(ctx, ds.Path(p), h.dc)
		if err == nil {
			_, err = h.wait(ctx, t)
		}
		if err == nil || vimFault(err) == nil {
			return &hostdv1.DeleteFileResponse{Existed: err == nil}, err
		}
		// Not a disk the host can open (an uploaded file that is not yet a disk of its
		// own, a descriptor without its extent): delete it as a plain file.
	}
	t, err := object.NewFileManager(h.c).DeleteDatastoreFile(ctx, ds.Path(p), h.dc)
	if err != nil {
		return nil, err
	}
	if _, err := h.wait(ctx, t); err != nil {
		if isFault[*types.FileNotFound](err) {
			return &hostdv1.DeleteFileResponse{}, nil
		}
		return nil, err
	}
	return &hostdv1.DeleteFileResponse{Existed: true}, nil
}

// createImageFromVM copies the VM's boot disk to a standalone image disk. Copying a child
// disk consolidates it with its parents, so the image has no parent. The VM must be
// powered off, read afresh: a running VM holds its disk locked and writes to it.
func (h *host) createImageFromVM(ctx context.Context, r *hostdv1.CreateImageFromVmRequest) (_ *hostdv1.CreateImageFromVmResponse, err error) {
	id := r.GetVmId()
	defer h.forgetOnError(id, &err)
	tp := r.GetTargetPath()
	_, m, err := h.freshProps(ctx, id)
	if err != nil {
		return nil, err
	}
	h.state.put(id, m)
	if s := m.Runtime.PowerState; s != types.VirtualMachinePowerStatePoweredOff {
		return nil, status.Errorf(codes.FailedPrecondition, "VM %s is %s: an image is made from a powered-off VM", id, s)
	}
	boot := findDisk(m.Config.Hardware.Device, BootDiskID)
	if boot == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "VM %s has no boot disk", id)
	}
	ds, err := h.datastore(ctx, r.GetDatastore())
	if err != nil {
		return nil, err
	}
	existed, err := h.copyDisk(ctx, diskFileOf(boot), ds, tp)
	if err != nil {
		return nil, err
	}
	return &hostdv1.CreateImageFromVmResponse{Source: diskFileOf(boot), Existed: existed}, nil
}
