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
	"google.golang.org/protobuf/proto"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// Server implements hostd.v1 on one host: it checks requests, serialises and detaches
// the calls, and leaves the host work to its Backend.
type Server struct {
	hostdv1.UnimplementedHostServer
	b     Backend
	files slots
	locks keyedMutex
	work  sync.WaitGroup // calls' host work, which may outlive the calls (detach)
}

// withFiles runs f in a file-operation slot. The slot is the last thing a call takes:
// whoever holds one waits for no key lock.
func withFiles[T any](s *Server, f func(context.Context) (T, error)) func(context.Context) (T, error) {
	return func(ctx context.Context) (T, error) {
		release, err := s.files.take(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		defer release()
		return f(ctx)
	}
}

var tracer = otel.Tracer("photon/hostd")

// vmRequest is a request about one VM.
type vmRequest interface {
	proto.Message
	GetVmId() string
}

// Whether a call takes a file-operation slot (Options.FileOps).
const (
	noFiles   = false
	fileSlots = true
)

// onVM checks r and runs f with it as run does, in a file-operation slot if files.
func onVM[R vmRequest, T any](ctx context.Context, s *Server, op string, r R, files bool, f func(context.Context, R) (T, error)) (T, error) {
	r, err := checked(r)
	if err != nil {
		var zero T
		return zero, err
	}
	work := func(ctx context.Context) (T, error) { return f(ctx, r) }
	if files {
		work = withFiles(s, work)
	}
	return run(ctx, s, op, r.GetVmId(), work)
}

// run serialises calls for one VM, traces the host work and maps its errors.
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
	ctx, span := tracer.Start(ctx, "hostd "+op, trace.WithAttributes(attr))
	defer span.End()
	out, err := f(ctx)
	if err != nil {
		err = toStatus(op, err)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return out, err
}

// workTimeout bounds the host work of one call, which outlives its caller.
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
	return onVM(ctx, s, "create VM", r, fileSlots, s.b.CreateVm)
}

func (s *Server) AttachDisk(ctx context.Context, r *hostdv1.AttachDiskRequest) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "attach disk", r, fileSlots, s.b.AttachDisk)
}

func (s *Server) DetachDisk(ctx context.Context, r *hostdv1.DetachDiskRequest) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "detach disk", r, fileSlots, s.b.DetachDisk)
}

func (s *Server) AddNic(ctx context.Context, r *hostdv1.AddNicRequest) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "add NIC", r, fileSlots, s.b.AddNic)
}

func (s *Server) RemoveNic(ctx context.Context, r *hostdv1.RemoveNicRequest) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "remove NIC", r, fileSlots, s.b.RemoveNic)
}

func (s *Server) PowerOn(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "power on", r, noFiles, s.b.PowerOn)
}

func (s *Server) PowerOff(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "power off", r, noFiles, s.b.PowerOff)
}

func (s *Server) DeleteVm(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.DeleteVmResponse, error) {
	return onVM(ctx, s, "delete VM", r, fileSlots, s.b.DeleteVm)
}

func (s *Server) GetVm(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "get VM", r, noFiles, s.b.GetVm)
}

func (s *Server) GetMksTicket(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.MksTicket, error) {
	return onVM(ctx, s, "get console ticket", r, noFiles, s.b.GetMksTicket)
}

func (s *Server) Suspend(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "suspend", r, noFiles, s.b.Suspend)
}

func (s *Server) Reset(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "reset", r, noFiles, s.b.Reset)
}

func (s *Server) Reconfigure(ctx context.Context, r *hostdv1.ReconfigureRequest) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "reconfigure", r, fileSlots, s.b.Reconfigure)
}

func (s *Server) AttachIso(ctx context.Context, r *hostdv1.AttachIsoRequest) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "attach ISO", r, fileSlots, s.b.AttachIso)
}

func (s *Server) DetachIso(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return onVM(ctx, s, "detach ISO", r, fileSlots, s.b.DetachIso)
}

func (s *Server) CreateDisk(ctx context.Context, r *hostdv1.CreateDiskRequest) (*hostdv1.DiskInfo, error) {
	r, err := checked(r)
	if err != nil {
		return nil, err
	}
	return runKeyed(ctx, s, "create disk", attribute.String("photon.disk", r.GetDiskId()), diskKey(r.GetDatastore(), r.GetDiskId()),
		withFiles(s, func(ctx context.Context) (*hostdv1.DiskInfo, error) { return s.b.CreateDisk(ctx, r) }))
}

func (s *Server) DeleteDisk(ctx context.Context, r *hostdv1.DiskRef) (*hostdv1.DeleteDiskResponse, error) {
	r, err := checked(r)
	if err != nil {
		return nil, err
	}
	return runKeyed(ctx, s, "delete disk", attribute.String("photon.disk", r.GetDiskId()), diskKey(r.GetDatastore(), r.GetDiskId()),
		withFiles(s, func(ctx context.Context) (*hostdv1.DeleteDiskResponse, error) { return s.b.DeleteDisk(ctx, r) }))
}

func (s *Server) AttachPersistentDisk(ctx context.Context, r *hostdv1.AttachPersistentDiskRequest) (*hostdv1.VmInfo, error) {
	// The disk is not deleted while it is being attached. Keys are locked before the file
	// slot is taken, never while holding it: a call holding the slot never waits for a key.
	return onVM(ctx, s, "attach persistent disk", r, noFiles, func(ctx context.Context, r *hostdv1.AttachPersistentDiskRequest) (*hostdv1.VmInfo, error) {
		defer s.locks.lock(diskKey(r.GetDatastore(), r.GetDiskId()))()
		return withFiles(s, func(ctx context.Context) (*hostdv1.VmInfo, error) { return s.b.AttachPersistentDisk(ctx, r) })(ctx)
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
	if first, err = checked(first); err != nil {
		return err
	}
	// The stream must carry the size it announced (0: unknown): a backend reads an error
	// instead of the end of a stream that carried other.
	n := int64(len(first.GetData()))
	recv := func() (*hostdv1.UploadFileChunk, error) {
		m, err := stream.Recv()
		n += int64(len(m.GetData()))
		size := first.GetSize()
		switch {
		case size > 0 && n > size:
			return nil, status.Errorf(grpccodes.InvalidArgument, "upload of %s carried more than the %d bytes announced", first.GetPath(), size)
		case size > 0 && errors.Is(err, io.EOF) && n != size:
			return nil, status.Errorf(grpccodes.InvalidArgument, "upload of %s carried %d bytes, not the %d announced", first.GetPath(), n, size)
		}
		return m, err
	}
	// An upload's data comes from its caller: it ends with the stream, not detached.
	res, err := traced(stream.Context(), "upload file", attribute.String("photon.file", first.GetPath()),
		func(ctx context.Context) (*hostdv1.UploadFileResponse, error) {
			defer s.locks.lock(fileKey(first.GetDatastore(), first.GetPath()))()
			return withFiles(s, func(ctx context.Context) (*hostdv1.UploadFileResponse, error) {
				return s.b.UploadFile(ctx, first, recv)
			})(ctx)
		})
	if err != nil {
		return err
	}
	return stream.SendAndClose(res)
}

func (s *Server) CopyImage(ctx context.Context, r *hostdv1.CopyImageRequest) (*hostdv1.CopyImageResponse, error) {
	r, err := checked(r)
	if err != nil {
		return nil, err
	}
	return runKeyed(ctx, s, "copy image", attribute.String("photon.file", r.GetTargetPath()), fileKey(r.GetTargetDatastore(), r.GetTargetPath()),
		withFiles(s, func(ctx context.Context) (*hostdv1.CopyImageResponse, error) { return s.b.CopyImage(ctx, r) }))
}

func (s *Server) DeleteFile(ctx context.Context, r *hostdv1.DeleteFileRequest) (*hostdv1.DeleteFileResponse, error) {
	r, err := checked(r)
	if err != nil {
		return nil, err
	}
	return runKeyed(ctx, s, "delete file", attribute.String("photon.file", r.GetPath()), fileKey(r.GetDatastore(), r.GetPath()),
		withFiles(s, func(ctx context.Context) (*hostdv1.DeleteFileResponse, error) { return s.b.DeleteFile(ctx, r) }))
}

func (s *Server) CreateImageFromVm(ctx context.Context, r *hostdv1.CreateImageFromVmRequest) (*hostdv1.CreateImageFromVmResponse, error) {
	return onVM(ctx, s, "create image from VM", r, noFiles, func(ctx context.Context, r *hostdv1.CreateImageFromVmRequest) (*hostdv1.CreateImageFromVmResponse, error) {
		defer s.locks.lock(fileKey(r.GetDatastore(), r.GetTargetPath()))()
		return withFiles(s, func(ctx context.Context) (*hostdv1.CreateImageFromVmResponse, error) {
			return s.b.CreateImageFromVm(ctx, r)
		})(ctx)
	})
}

func (s *Server) GetResources(ctx context.Context, _ *hostdv1.GetResourcesRequest) (*hostdv1.Resources, error) {
	return run(ctx, s, "get resources", "", s.b.GetResources)
}

// ListInventory reads every VM on the host and the persistent disk files on its
// datastores. It is not serialised with other calls: it reads, and the reconciler acts
// only on what two reads in a row find.
func (s *Server) ListInventory(ctx context.Context, _ *hostdv1.ListInventoryRequest) (*hostdv1.Inventory, error) {
	return traced(ctx, "list inventory", attribute.Bool("photon.inventory", true), s.b.ListInventory)
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
