package hostd

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// Server implements hostd.v1 on one host.
type Server struct {
	hostdv1.UnimplementedHostServer
	h     *host
	locks keyedMutex
}

// withFiles runs f in a file-operation slot.
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
	ctx, span := tracer.Start(ctx, "govmomi "+op, trace.WithAttributes(attribute.String("photon.vm", vmID)))
	defer span.End()
	unlock := s.locks.lock(vmID)
	defer unlock()
	out, err := f(ctx)
	if err != nil {
		err = toStatus(op, err)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return out, err
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
