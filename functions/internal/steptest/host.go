package steptest

import (
	"context"
	"net"
	"path"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/pki"
)

// The faults a Host can be told to answer with: a refusal retrying cannot fix (a VM in
// the wrong power state) and a host that is busy or unreachable for a while.
var (
	Refused = status.Error(codes.FailedPrecondition, "injected: the host refuses")
	Busy    = status.Error(codes.Unavailable, "injected: the host is busy")
)

// A Call is one hostd call the host served (or refused): the method's short name and a
// copy of its request.
type Call struct {
	Method  string
	Request proto.Message
}

// Host is a fake hostd: it serves hostd.v1 over mutual TLS on loopback with the host's
// own certificate, records every call, answers from a small model of its VMs and fails
// the methods it is told to. The model keeps what the steps read back (power states,
// NICs) and the persistent disk files (an attach finds its file or is refused);
// everything else answers success, as hostd does for an idempotent repeat.
type Host struct {
	hostdv1.UnimplementedHostServer
	ID   string
	Addr string

	mu     sync.Mutex
	calls  []Call
	faults map[string]error
	after  map[string]func(proto.Message)
	vms    map[string]*hostdv1.VmInfo
	disks  map[string]bool // persistent disk files, by diskKey
	// foreign are the VMs of vms made outside Photon (PutForeign).
	foreign map[string]bool
}

// serve starts h on a loopback port with the credentials the platform CA gives host id.
func serve(t testing.TB, ca *pki.CA, id string) *Host {
	t.Helper()
	cert, err := ca.HostCredentials(id, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &Host{ID: id, Addr: ln.Addr().String(), faults: map[string]error{}, after: map[string]func(proto.Message){}, vms: map[string]*hostdv1.VmInfo{},
		disks: map[string]bool{}}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.ServerTLS(ca.Pool(), pki.Static(cert), pki.Services()))),
		grpc.UnaryInterceptor(h.intercept))
	hostdv1.RegisterHostServer(srv, h)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return h
}

// intercept records the call and answers with the injected fault, if any.
func (h *Host) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	method := path.Base(info.FullMethod)
	h.mu.Lock()
	var msg proto.Message
	if m, ok := req.(proto.Message); ok {
		msg = proto.Clone(m)
	}
	h.calls = append(h.calls, Call{Method: method, Request: msg})
	fault, after := h.faults[method], h.after[method]
	h.mu.Unlock()
	if fault != nil {
		return nil, fault
	}
	resp, err := next(ctx, req)
	if err == nil && after != nil {
		after(msg)
	}
	return resp, err
}

// After has fn run after each successful call of method, with its request: what the
// host does besides answering (e.g. report a copied image at its next heartbeat).
func (h *Host) After(method string, fn func(req proto.Message)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.after[method] = fn
}

// Fail makes every later call of method (e.g. "PowerOn") answer err; nil heals it.
func (h *Host) Fail(method string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.faults, method)
		return
	}
	h.faults[method] = err
}

// Calls returns the calls served so far, oldest first.
func (h *Host) Calls() []Call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

// Methods returns the method names of the calls served so far, oldest first.
func (h *Host) Methods() []string {
	var out []string
	for _, c := range h.Calls() {
		out = append(out, c.Method)
	}
	return out
}

// Forget clears the record of calls (the VMs stay as they are).
func (h *Host) Forget() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = nil
}

// PutVM puts a VM on the host in power state (poweredOn, poweredOff, suspended), as if
// an earlier chain had made it.
func (h *Host) PutVM(id, powerState string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.vms[id] = &hostdv1.VmInfo{VmId: id, PowerState: powerState}
}

// VM returns a copy of the host's VM id, or nil.
func (h *Host) VM(id string) *hostdv1.VmInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	if vm, ok := h.vms[id]; ok {
		return proto.CloneOf(vm)
	}
	return nil
}

// vm applies fn to VM id (made if missing) and answers a copy of it.
func (h *Host) vm(id string, fn func(*hostdv1.VmInfo)) *hostdv1.VmInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	vm, ok := h.vms[id]
	if !ok {
		vm = &hostdv1.VmInfo{VmId: id, PowerState: "poweredOff"}
		h.vms[id] = vm
	}
	if fn != nil {
		fn(vm)
	}
	return proto.CloneOf(vm)
}

func power(state string) func(*hostdv1.VmInfo) {
	return func(vm *hostdv1.VmInfo) { vm.PowerState = state }
}

func (h *Host) CreateVm(_ context.Context, r *hostdv1.CreateVmRequest) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), func(vm *hostdv1.VmInfo) {
		vm.Name, vm.CpuCount, vm.MemoryMb, vm.Datastore = r.GetName(), r.GetCpuCount(), r.GetMemoryMb(), r.GetDatastore()
	}), nil
}

func (h *Host) DeleteVm(_ context.Context, r *hostdv1.VmRef) (*hostdv1.DeleteVmResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.vms[r.GetVmId()]
	delete(h.vms, r.GetVmId())
	return &hostdv1.DeleteVmResponse{Existed: ok}, nil
}

func (h *Host) GetVm(_ context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	if vm := h.VM(r.GetVmId()); vm != nil {
		return vm, nil
	}
	return nil, status.Errorf(codes.NotFound, "vm %s not found", r.GetVmId())
}

func (h *Host) PowerOn(_ context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), power("poweredOn")), nil
}

func (h *Host) PowerOff(_ context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), power("poweredOff")), nil
}

func (h *Host) Suspend(_ context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), power("suspended")), nil
}

func (h *Host) Reset(_ context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), power("poweredOn")), nil
}

func (h *Host) Reconfigure(_ context.Context, r *hostdv1.ReconfigureRequest) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), func(vm *hostdv1.VmInfo) { vm.CpuCount, vm.MemoryMb = r.GetCpuCount(), r.GetMemoryMb() }), nil
}

func (h *Host) AttachDisk(_ context.Context, r *hostdv1.AttachDiskRequest) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), nil), nil
}

func (h *Host) DetachDisk(_ context.Context, r *hostdv1.DetachDiskRequest) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), func(vm *hostdv1.VmInfo) {
		vm.Disks = slices.DeleteFunc(vm.Disks, func(d *hostdv1.DiskInfo) bool { return d.GetId() == r.GetDiskId() })
	}), nil
}

// MAC is the MAC address the fake host gives NIC nicID.
func MAC(nicID string) string { return "00:50:56:" + nicID }

func (h *Host) AddNic(_ context.Context, r *hostdv1.AddNicRequest) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), func(vm *hostdv1.VmInfo) {
		if !slices.ContainsFunc(vm.Nics, func(n *hostdv1.NicInfo) bool { return n.GetId() == r.GetNicId() }) {
			vm.Nics = append(vm.Nics, &hostdv1.NicInfo{Id: r.GetNicId(), Network: r.GetNetwork(), MacAddress: MAC(r.GetNicId())})
		}
	}), nil
}

func (h *Host) RemoveNic(_ context.Context, r *hostdv1.RemoveNicRequest) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), func(vm *hostdv1.VmInfo) {
		vm.Nics = slices.DeleteFunc(vm.Nics, func(n *hostdv1.NicInfo) bool { return n.GetId() == r.GetNicId() })
	}), nil
}

// Ticket is the console ticket the fake host hands out.
var Ticket = &hostdv1.MksTicket{Ticket: "ticket-1", Host: "esx.example", Port: 902, SslThumbprint: "AA:BB", CfgFile: "vm.vmx"}

func (h *Host) GetMksTicket(context.Context, *hostdv1.VmRef) (*hostdv1.MksTicket, error) {
	return proto.CloneOf(Ticket), nil
}

func (h *Host) CopyImage(context.Context, *hostdv1.CopyImageRequest) (*hostdv1.CopyImageResponse, error) {
	return &hostdv1.CopyImageResponse{}, nil
}

func (h *Host) DeleteFile(context.Context, *hostdv1.DeleteFileRequest) (*hostdv1.DeleteFileResponse, error) {
	return &hostdv1.DeleteFileResponse{Existed: true}, nil
}

func (h *Host) CreateImageFromVm(_ context.Context, r *hostdv1.CreateImageFromVmRequest) (*hostdv1.CreateImageFromVmResponse, error) {
	return &hostdv1.CreateImageFromVmResponse{Source: r.GetVmId()}, nil
}

func (h *Host) AttachIso(_ context.Context, r *hostdv1.AttachIsoRequest) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), func(vm *hostdv1.VmInfo) { vm.Iso = r.GetPath() }), nil
}

func (h *Host) DetachIso(_ context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return h.vm(r.GetVmId(), func(vm *hostdv1.VmInfo) { vm.Iso = "" }), nil
}

func diskKey(ds, id string) string { return ds + "/" + id }

// PutDisk puts persistent disk id's file on the host's datastore ds, as if CreateDisk had
// made it.
func (h *Host) PutDisk(ds, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.disks[diskKey(ds, id)] = true
}

// HasDisk reports whether persistent disk id's file is on the host's datastore ds.
func (h *Host) HasDisk(ds, id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.disks[diskKey(ds, id)]
}

func (h *Host) CreateDisk(_ context.Context, r *hostdv1.CreateDiskRequest) (*hostdv1.DiskInfo, error) {
	h.PutDisk(r.GetDatastore(), r.GetDiskId())
	return &hostdv1.DiskInfo{Id: r.GetDiskId(), CapacityKb: r.GetCapacityGb() << 20, Persistent: true,
		File: "[" + r.GetDatastore() + "] disks/" + r.GetDiskId() + ".vmdk"}, nil
}

// DeleteDisk deletes the file; a missing one is no error, as in hostd.
func (h *Host) DeleteDisk(_ context.Context, r *hostdv1.DiskRef) (*hostdv1.DeleteDiskResponse, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := diskKey(r.GetDatastore(), r.GetDiskId())
	existed := h.disks[k]
	delete(h.disks, k)
	return &hostdv1.DeleteDiskResponse{Existed: existed}, nil
}

// AttachPersistentDisk attaches an existing file, as hostd does: NotFound when the host
// has no such disk on the datastore (it does not mount it, or the disk was never made).
func (h *Host) AttachPersistentDisk(_ context.Context, r *hostdv1.AttachPersistentDiskRequest) (*hostdv1.VmInfo, error) {
	if !h.HasDisk(r.GetDatastore(), r.GetDiskId()) {
		return nil, status.Errorf(codes.NotFound, "no disk %s on datastore %s", r.GetDiskId(), r.GetDatastore())
	}
	return h.vm(r.GetVmId(), func(vm *hostdv1.VmInfo) {
		if !slices.ContainsFunc(vm.Disks, func(d *hostdv1.DiskInfo) bool { return d.GetId() == r.GetDiskId() }) {
			vm.Disks = append(vm.Disks, &hostdv1.DiskInfo{Id: r.GetDiskId(), Persistent: true,
				File: "[" + r.GetDatastore() + "] disks/" + r.GetDiskId() + ".vmdk"})
		}
	}), nil
}
