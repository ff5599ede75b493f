package hostd

import (
	"context"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/vim25/methods"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// Backend is the host work behind hostd.v1: what differs between the vSphere host that
// Start drives with govmomi and the in-memory hollow host (package hollow) that
// StartBackend serves. The Server does the rest for both: it checks every request and
// fills in its defaults (requests.go), serialises calls per VM, disk and file, runs the
// work on when the caller leaves, bounds file operations, maps errors to gRPC codes and
// traces; the Daemon registers the host and heartbeats.
//
// A Backend's calls get checked requests, one at a time per key. Each must be idempotent
// by the id or path it names, as the package doc says, and answer with the codes
// faults.go gives vSphere's faults: NotFound for a VM, datastore, network or file the
// host lacks, FailedPrecondition for a state the call cannot act in, and so on; an
// error that is no gRPC status is Unavailable, which callers retry.
type Backend interface {
	CreateVm(context.Context, *hostdv1.CreateVmRequest) (*hostdv1.VmInfo, error)
	AttachDisk(context.Context, *hostdv1.AttachDiskRequest) (*hostdv1.VmInfo, error)
	DetachDisk(context.Context, *hostdv1.DetachDiskRequest) (*hostdv1.VmInfo, error)
	AddNic(context.Context, *hostdv1.AddNicRequest) (*hostdv1.VmInfo, error)
	RemoveNic(context.Context, *hostdv1.RemoveNicRequest) (*hostdv1.VmInfo, error)
	PowerOn(context.Context, *hostdv1.VmRef) (*hostdv1.VmInfo, error)
	PowerOff(context.Context, *hostdv1.VmRef) (*hostdv1.VmInfo, error)
	Suspend(context.Context, *hostdv1.VmRef) (*hostdv1.VmInfo, error)
	Reset(context.Context, *hostdv1.VmRef) (*hostdv1.VmInfo, error)
	Reconfigure(context.Context, *hostdv1.ReconfigureRequest) (*hostdv1.VmInfo, error)
	DeleteVm(context.Context, *hostdv1.VmRef) (*hostdv1.DeleteVmResponse, error)
	GetVm(context.Context, *hostdv1.VmRef) (*hostdv1.VmInfo, error)
	GetMksTicket(context.Context, *hostdv1.VmRef) (*hostdv1.MksTicket, error)
	CreateDisk(context.Context, *hostdv1.CreateDiskRequest) (*hostdv1.DiskInfo, error)
	DeleteDisk(context.Context, *hostdv1.DiskRef) (*hostdv1.DeleteDiskResponse, error)
	AttachPersistentDisk(context.Context, *hostdv1.AttachPersistentDiskRequest) (*hostdv1.VmInfo, error)
	// UploadFile writes the file first names with the data of first and of every chunk
	// recv returns until io.EOF. recv fails when the stream carries other than the size
	// first announced.
	UploadFile(ctx context.Context, first *hostdv1.UploadFileChunk, recv func() (*hostdv1.UploadFileChunk, error)) (*hostdv1.UploadFileResponse, error)
	CopyImage(context.Context, *hostdv1.CopyImageRequest) (*hostdv1.CopyImageResponse, error)
	DeleteFile(context.Context, *hostdv1.DeleteFileRequest) (*hostdv1.DeleteFileResponse, error)
	CreateImageFromVm(context.Context, *hostdv1.CreateImageFromVmRequest) (*hostdv1.CreateImageFromVmResponse, error)
	AttachIso(context.Context, *hostdv1.AttachIsoRequest) (*hostdv1.VmInfo, error)
	DetachIso(context.Context, *hostdv1.VmRef) (*hostdv1.VmInfo, error)
	// GetResources reads the host's capacity, usage, datastores with the image disks under
	// images/ on each, networks, VM count and the VMs' power states: what registration
	// and heartbeats report.
	GetResources(context.Context) (*hostdv1.Resources, error)
	ListInventory(context.Context) (*hostdv1.Inventory, error)
	// Ping checks that the host answers: a heartbeat's proof of life.
	Ping(context.Context) error
	// Version is the host's ESXi version, registered with it.
	Version() string
	// Close ends the backend's session with its host, once the Server is done with it.
	Close(context.Context) error
}

// vsphere is the Backend of an ESXi host (or vcsim) driven with govmomi.
type vsphere struct {
	h *host
	c *govmomi.Client
}

var _ Backend = vsphere{}

func (v vsphere) CreateVm(ctx context.Context, r *hostdv1.CreateVmRequest) (*hostdv1.VmInfo, error) {
	return v.h.createVM(ctx, r)
}

func (v vsphere) AttachDisk(ctx context.Context, r *hostdv1.AttachDiskRequest) (*hostdv1.VmInfo, error) {
	return v.h.attachDisk(ctx, r)
}

func (v vsphere) DetachDisk(ctx context.Context, r *hostdv1.DetachDiskRequest) (*hostdv1.VmInfo, error) {
	return v.h.detachDisk(ctx, r)
}

func (v vsphere) AddNic(ctx context.Context, r *hostdv1.AddNicRequest) (*hostdv1.VmInfo, error) {
	return v.h.addNIC(ctx, r)
}

func (v vsphere) RemoveNic(ctx context.Context, r *hostdv1.RemoveNicRequest) (*hostdv1.VmInfo, error) {
	return v.h.removeNIC(ctx, r)
}

func (v vsphere) PowerOn(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return v.h.power(ctx, r.GetVmId(), true)
}

func (v vsphere) PowerOff(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return v.h.power(ctx, r.GetVmId(), false)
}

func (v vsphere) Suspend(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return v.h.suspend(ctx, r.GetVmId())
}

func (v vsphere) Reset(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return v.h.reset(ctx, r.GetVmId())
}

func (v vsphere) Reconfigure(ctx context.Context, r *hostdv1.ReconfigureRequest) (*hostdv1.VmInfo, error) {
	return v.h.reconfigureSize(ctx, r)
}

func (v vsphere) DeleteVm(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.DeleteVmResponse, error) {
	return v.h.deleteVM(ctx, r.GetVmId())
}

func (v vsphere) GetVm(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return v.h.info(ctx, r.GetVmId())
}

func (v vsphere) GetMksTicket(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.MksTicket, error) {
	return v.h.mksTicket(ctx, r.GetVmId())
}

func (v vsphere) CreateDisk(ctx context.Context, r *hostdv1.CreateDiskRequest) (*hostdv1.DiskInfo, error) {
	return v.h.createDisk(ctx, r)
}

func (v vsphere) DeleteDisk(ctx context.Context, r *hostdv1.DiskRef) (*hostdv1.DeleteDiskResponse, error) {
	return v.h.deleteDisk(ctx, r)
}

func (v vsphere) AttachPersistentDisk(ctx context.Context, r *hostdv1.AttachPersistentDiskRequest) (*hostdv1.VmInfo, error) {
	return v.h.attachPersistentDisk(ctx, r)
}

func (v vsphere) UploadFile(ctx context.Context, first *hostdv1.UploadFileChunk, recv func() (*hostdv1.UploadFileChunk, error)) (*hostdv1.UploadFileResponse, error) {
	return v.h.upload(ctx, first, recv)
}

func (v vsphere) CopyImage(ctx context.Context, r *hostdv1.CopyImageRequest) (*hostdv1.CopyImageResponse, error) {
	return v.h.copyImage(ctx, r)
}

func (v vsphere) DeleteFile(ctx context.Context, r *hostdv1.DeleteFileRequest) (*hostdv1.DeleteFileResponse, error) {
	return v.h.deleteFile(ctx, r)
}

func (v vsphere) CreateImageFromVm(ctx context.Context, r *hostdv1.CreateImageFromVmRequest) (*hostdv1.CreateImageFromVmResponse, error) {
	return v.h.createImageFromVM(ctx, r)
}

func (v vsphere) AttachIso(ctx context.Context, r *hostdv1.AttachIsoRequest) (*hostdv1.VmInfo, error) {
	return v.h.attachISO(ctx, r)
}

func (v vsphere) DetachIso(ctx context.Context, r *hostdv1.VmRef) (*hostdv1.VmInfo, error) {
	return v.h.detachISO(ctx, r.GetVmId())
}

func (v vsphere) GetResources(ctx context.Context) (*hostdv1.Resources, error) {
	return v.h.resources(ctx)
}

func (v vsphere) ListInventory(ctx context.Context) (*hostdv1.Inventory, error) {
	return v.h.inventory(ctx)
}

func (v vsphere) Ping(ctx context.Context) error {
	_, err := methods.GetCurrentTime(ctx, v.c)
	return err
}

func (v vsphere) Version() string { return v.c.ServiceContent.About.Version }

func (v vsphere) Close(ctx context.Context) error { return v.c.Logout(ctx) }

// slots bound how many file operations run at once (Options.FileOps); nil: no bound.
type slots chan struct{}

func newSlots(n int) slots {
	if n <= 0 {
		return nil
	}
	return make(slots, n)
}

// take holds a slot until the returned func is called.
func (s slots) take(ctx context.Context) (func(), error) {
	if s == nil {
		return func() {}, nil
	}
	select {
	case s <- struct{}{}:
		return func() { <-s }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
