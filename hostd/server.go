package hostd

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// Server implements hostd.v1 on one host.
type Server struct {
	hostdv1.UnimplementedHostServer
	h     *host
	locks keyedMutex
	work  sync.WaitGroup // calls' govmomi work, which may outlive the calls (detach)
}

// withFiles runs f in a file-operation slot. The slot is the last thing a call takes:
// whoever holds one waits for no key lock.
func withFiles[T any](s *Server, f func(context.Context) (T, error)) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) {
		release, err := s.h.fileOp(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		defer release()
		return f(ctx)
	}
}

var tracer = otel.Tracer("photon/hostd")

// run serialises calls for one VM, traces the govmomi work and maps its errors.
func run[T any](ctx context.Context, s *Server, op, vmID string, f func(context.Context) (T, error)) (T, error) {
	return runKeyed(ctx, s, op, attribute.String("photon.vm", vmID), vmID, f)
}

// runKeyed is run for calls serialised by another key than a VM id (a disk, a file),
// traced with attr. The work runs on after its caller has gone (detach).
func runKeyed[T any](ctx context.Context, s *Server, op string, attr attribute.KeyValue, key string, f func(context.Context) (T, error)) (T, error) {
	return traced(ctx, op, attr, func(ctx context.Context) (T, error) { return detach(ctx, s, key, f) })
}

// traced runs f in a span named for op and maps its error to a gRPC status.
func traced[T any](ctx context.Context, op string, attr attribute.KeyValue, f func(context.Context) (T, error)) (T, error) {
	ctx, span := tracer.Start(ctx, "govmomi "+op, trace.WithAttributes(attr))
	defer span.End()
	out, err := f(ctx)
	if err != nil {
		err = toStatus(op, err)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return out, err
}

// workTimeout bounds the govmomi work of one call, which outlives its caller.
const workTimeout = 10 * time.Minute

// detach runs f holding key's lock, detached from the caller's cancellation: a vSphere
// task, once sent, runs to its end on the host whatever the caller does, so hostd waits
// for it too and records what it did. A caller that goes away gets its context's error
// at once; the work goes on, and the key stays locked until it ends, so a repeat of the
// call for the same VM, disk or file follows it and finds its result instead of sending
// the task again. Work whose caller left before it began is not started.
func detach[T any](ctx context.Context, s *Server, key string, f func(context.Context) (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		defer s.locks.lock(key)()
		if err := ctx.Err(); err != nil {
			done <- result{err: err}
			return
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), workTimeout)
		defer cancel()
		v, err := f(wctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func (s *Server) CreateVm(ctx context.Context, r *hostdv1.CreateVmRequest) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "create VM", r.GetVmId(), withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.createVM(ctx, r) }))
}

func (s *Server) AttachDisk(ctx context.Context, r *hostdv1.AttachDiskRequest) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "attach disk", r.GetVmId(), withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.attachDisk(ctx, r) }))
}

func (s *Server) DetachDisk(ctx context.Context, r *hostdv1.DetachDiskRequest) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "detach disk", r.GetVmId(), withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.detachDisk(ctx, r) }))
}

func (s *Server) AddNic(ctx context.Context, r *hostdv1.AddNicRequest) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "add NIC", r.GetVmId(), withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.addNIC(ctx, r) }))
}

func (s *Server) RemoveNic(ctx context.Context, r *hostdv1.RemoveNicRequest) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "remove NIC", r.GetVmId(), withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.removeNIC(ctx, r) }))
}

func (s *Server) PowerOn(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "power on", r.GetVmId(), func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.power(ctx, r.GetVmId(), true) })
}

func (s *Server) PowerOff(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "power off", r.GetVmId(), func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.power(ctx, r.GetVmId(), false) })
}

func (s *Server) DeleteVm(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.DeleteVmResponse, error) {
	return run(ctx, s, "delete VM", r.GetVmId(), withFiles(s, func(ctx context.Context) (*hostdv1.DeleteVmResponse, error) { return s.h.deleteVM(ctx, r.GetVmId()) }))
}

func (s *Server) GetVm(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "get VM", r.GetVmId(), func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.info(ctx, r.GetVmId()) })
}

func (s *Server) GetMksTicket(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.MksTicket, error) {
	return run(ctx, s, "get console ticket", r.GetVmId(), func(ctx context.Context) (*hostdv1.MksTicket, error) { return s.h.mksTicket(ctx, r.GetVmId()) })
}

func (s *Server) Suspend(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "suspend", r.GetVmId(), func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.suspend(ctx, r.GetVmId()) })
}

func (s *Server) Reset(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "reset", r.GetVmId(), func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.reset(ctx, r.GetVmId()) })
}

func (s *Server) Reconfigure(ctx context.Context, r *hostdv1.ReconfigureRequest) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "reconfigure", r.GetVmId(), withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.reconfigureSize(ctx, r) }))
}

func (s *Server) CreateDisk(ctx context.Context, r *hostdv1.CreateDiskRequest) (*hostdv1.DiskInfo, error) {
	return runKeyed(ctx, s, "create disk", attribute.String("photon.disk", r.GetDiskId()), diskKey(r.GetDatastore(), r.GetDiskId()),
		withFiles(s, func(ctx context.Context) (*hostdv1.DiskInfo, error) { return s.h.createDisk(ctx, r) }))
}

func (s *Server) DeleteDisk(ctx context.Context, r *hostdv1.DiskRef) (*hostdv1.DeleteDiskResponse, error) {
	return runKeyed(ctx, s, "delete disk", attribute.String("photon.disk", r.GetDiskId()), diskKey(r.GetDatastore(), r.GetDiskId()),
		withFiles(s, func(ctx context.Context) (*hostdv1.DeleteDiskResponse, error) { return s.h.deleteDisk(ctx, r) }))
}

func (s *Server) AttachPersistentDisk(ctx context.Context, r *hostdv1.AttachPersistentDiskRequest) (*hostdv1.VmInfo, error) {
	// The disk is not deleted while it is being attached. Keys are locked before the file
	// slot is taken, never while holding it: a call holding the slot never waits for a key.
	return run(ctx, s, "attach persistent disk", r.GetVmId(), func(ctx context.Context) (*hostdv1.VmInfo, error) {
		defer s.locks.lock(diskKey(r.GetDatastore(), r.GetDiskId()))()
		return withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.attachPersistentDisk(ctx, r) })(ctx)
	})
}

func (s *Server) UploadFile(stream grpc.ClientStreamingServer[hostdv1.UploadFileChunk, hostdv1.UploadFileResponse]) error {
	first, err := stream.Recv()
	if errors.Is(err, io.EOF) {
		return status.Error(grpccodes.InvalidArgument, "upload: empty stream; the first message names the datastore and path")
	}
	if err != nil {
		return err
	}
	// An upload's data comes from its caller: it ends with the stream, not detached.
	res, err := traced(stream.Context(), "upload file", attribute.String("photon.file", first.GetPath()),
		func(ctx context.Context) (*hostdv1.UploadFileResponse, error) {
			defer s.locks.lock(fileKey(first.GetDatastore(), first.GetPath()))()
			return withFiles(s, func(ctx context.Context) (*hostdv1.UploadFileResponse, error) {
				return s.h.upload(ctx, first, stream.Recv)
			})(ctx)
		})
	if err != nil {
		return err
	}
	return stream.SendAndClose(res)
}

func (s *Server) CopyImage(ctx context.Context, r *hostdv1.CopyImageRequest) (*hostdv1.CopyImageResponse, error) {
	return runKeyed(ctx, s, "copy image", attribute.String("photon.file", r.GetTargetPath()), fileKey(r.GetTargetDatastore(), r.GetTargetPath()),
		withFiles(s, func(ctx context.Context) (*hostdv1.CopyImageResponse, error) { return s.h.copyImage(ctx, r) }))
}

func (s *Server) DeleteFile(ctx context.Context, r *hostdv1.DeleteFileRequest) (*hostdv1.DeleteFileResponse, error) {
	return runKeyed(ctx, s, "delete file", attribute.String("photon.file", r.GetPath()), fileKey(r.GetDatastore(), r.GetPath()),
		withFiles(s, func(ctx context.Context) (*hostdv1.DeleteFileResponse, error) { return s.h.deleteFile(ctx, r) }))
}

func (s *Server) CreateImageFromVm(ctx context.Context, r *hostdv1.CreateImageFromVmRequest) (*hostdv1.CreateImageFromVmResponse, error) {
	return run(ctx, s, "create image from VM", r.GetVmId(), func(ctx context.Context) (*hostdv1.CreateImageFromVmResponse, error) {
		defer s.locks.lock(fileKey(r.GetDatastore(), r.GetTargetPath()))()
		return withFiles(s, func(ctx context.Context) (*hostdv1.CreateImageFromVmResponse, error) {
			return s.h.createImageFromVM(ctx, r)
		})(ctx)
	})
}

func (s *Server) AttachIso(ctx context.Context, r *hostdv1.AttachIsoRequest) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "attach ISO", r.GetVmId(), withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.attachISO(ctx, r) }))
}

func (s *Server) DetachIso(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return run(ctx, s, "detach ISO", r.GetVmId(), withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.h.detachISO(ctx, r.GetVmId()) }))
}

func (s *Server) GetResources(ctx context.Context, _ *hostdv1.GetResourcesRequest) (*hostdv1.Resources, error) {
	return run(ctx, s, "get resources", "", s.h.resources)
}

// keyedMutex serialises work per key and forgets keys nobody holds.
type keyedMutex struct {
	mu    sync.Mutex
	locks map[string]*refLock
}

type refLock struct {
	sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	if key == "" {
		return func() {}
	}
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*refLock{}
	}
	l, ok := k.locks[key]
	if !ok {
		l = &refLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
