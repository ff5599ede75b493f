// Package hostdsim runs simulated ESXi hosts (govmomi's vcsim, ESX model) in process, for
// the dev cloud, the load test and tests: hostd drives one as it drives a real host. It is
// no part of production hostd.
//
// vcsim runs no guest OS, so a simulated host also plays the guests' part that Photon
// sees: the cloud-init of a VM powered on with a #cloud-config user data in its guestinfo
// phones home as that user data says, and the node re-reports while it runs
// (GuestOptions, BreakGuest). It watches the VMs through govmomi, as any client would.
package hostdsim

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/url"
	"path"
	"sync"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Sim is an in-process simulated ESXi host (govmomi's vcsim, ESX model) for the dev cloud
// and tests. Several run side by side in one process.
type Sim struct {
	URL   *url.URL
	model *simulator.Model
	srv   *simulator.Server
	guest *guest
}

// Options size a simulated host. vcsim's own ESX model is a 2-core, 4 GB machine; the
// defaults make it a server of the size Photon clouds ran on.
type Options struct {
	CPUCores int16 // default 32
	MemoryGB int64 // default 256
	// Images are image disk paths (e.g. "images/photon-os.vmdk") put on every datastore.
	Images []string
	// Listen is the address the simulator serves its SDK on (default: a free loopback
	// port), so that a client outside the process can find it again at a known address.
	Listen string
	// Guest is how the simulated guests of the host's VMs phone home.
	Guest GuestOptions
}

// Start starts a default-sized simulated ESXi host serving HTTP on 127.0.0.1 with the
// given image disks on each of its datastores.
func Start(ctx context.Context, images ...string) (*Sim, error) {
	return StartWith(ctx, Options{Images: images})
}

// StartWith starts a simulated ESXi host as o describes.
func StartWith(ctx context.Context, o Options) (*Sim, error) {
	if o.CPUCores <= 0 {
		o.CPUCores = 32
	}
	if o.MemoryGB <= 0 {
		o.MemoryGB = 256
	}
	m := simulator.ESX()
	m.Machine = 0 // no sample VMs: the host starts empty
	// vcsim fills some package-level defaults while it builds a model: build one at a time.
	simMu.Lock()
	err := m.Create()
	simMu.Unlock()
	if err != nil {
		return nil, err
	}
	for _, e := range m.Map().All("HostSystem") {
		h := e.(*simulator.HostSystem)
		h.Summary.Hardware.NumCpuCores, h.Summary.Hardware.MemorySize = o.CPUCores, o.MemoryGB<<30
		if h.Hardware != nil {
			h.Hardware.CpuInfo.NumCpuCores, h.Hardware.MemorySize = o.CPUCores, o.MemoryGB<<30
		}
	}
	// Plain HTTP on loopback: TLS handshakes to vcsim cost more CPU than the simulation.
	if o.Listen != "" {
		m.Service.Listen = &url.URL{Host: o.Listen}
	}
	srv := m.Service.NewServer()
	// Before any call reaches it: the server reads its handler per request.
	srv.Server.Config.Handler = &gate{next: srv.Server.Config.Handler, model: m, sdk: m.Map().Path}
	s := &Sim{URL: srv.URL, model: m, srv: srv}
	if err := s.seed(ctx, o.Images); err != nil {
		s.Close()
		return nil, fmt.Errorf("seed images: %w", err)
	}
	s.guest = startGuest(s.URL, o.Guest)
	return s, nil
}

func (s *Sim) seed(ctx context.Context, images []string) error {
	if len(images) == 0 {
		return nil
	}
	c, err := govmomi.NewClient(ctx, s.URL, true)
	if err != nil {
		return err
	}
	defer c.Logout(ctx)
	f := find.NewFinder(c.Client, false)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		return err
	}
	f.SetDatacenter(dc)
	dss, err := f.DatastoreList(ctx, "*")
	if err != nil {
		return err
	}
	fm := object.NewFileManager(c.Client)
	vdm := object.NewVirtualDiskManager(c.Client)
	for _, ds := range dss {
		for _, img := range images {
			if err := fm.MakeDirectory(ctx, ds.Path(path.Dir(img)), dc, true); err != nil {
				return err
			}
			t, err := vdm.CreateVirtualDisk(ctx, ds.Path(img), dc, &types.FileBackedVirtualDiskSpec{
				VirtualDiskSpec: types.VirtualDiskSpec{DiskType: string(types.VirtualDiskTypeThin),
					AdapterType: string(types.VirtualDiskAdapterTypeLsiLogic)},
				CapacityKb: 4 * 1024 * 1024})
			if err != nil {
				return err
			}
			if err := t.Wait(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// FailMethod makes every later call of the vSphere method (e.g. "PowerOnVM_Task") fail
// with an InvalidState fault, through vcsim's fault injection. ClearFaults undoes it.
func (s *Sim) FailMethod(method string) {
	s.model.Service.AddFaultRule(&simulator.FaultInjectionRule{MethodName: method, ObjectType: "*", ObjectName: "*",
		Probability: 1, FaultType: simulator.FaultTypeInvalidState, Message: "injected fault", Enabled: true})
}

// ClearFaults removes every injected fault.
func (s *Sim) ClearFaults() { s.model.Service.ClearFaultRules() }

// BreakGuest makes the guest of VM vmID (its Photon id: the photon.vmId in its
// extraConfig, else its name) report no more, as a node that hangs or loses its network
// would: it never phones home if it has not yet, and stops re-reporting. A report under
// way when it is called has ended when it returns. The guest stays broken when the VM is
// powered off and on again.
func (s *Sim) BreakGuest(vmID string) { s.guest.breakGuest(vmID) }

// SetGuestDelay sets the time from a VM's power-on to its first phone_home for the VMs
// powered on from now on (GuestOptions.Delay).
func (s *Sim) SetGuestDelay(d time.Duration) { s.guest.setDelay(d) }

// SetGuestRootCAs sets the roots the guests trust https phone-home URLs by, for their
// next POSTs (GuestOptions.RootCAs): for a simulator started before the server it
// reports to.
func (s *Sim) SetGuestRootCAs(roots *x509.CertPool) { s.guest.setRootCAs(roots) }

// Close stops the simulator and its guests. vcsim runs a task (a VM's creation, say) on
// a goroutine of its own that outlives the request which started it, so Close waits for
// the tasks still running before it removes the host's files from under them.
func (s *Sim) Close() {
	if s.guest != nil {
		s.guest.close()
	}
	s.srv.Close()
	for _, t := range s.model.Map().AllReference("Task") {
		if t, ok := t.(*simulator.Task); ok {
			t.Wait()
		}
	}
	simMu.Lock()
	defer simMu.Unlock()
	s.model.Remove()
}

var simMu sync.Mutex
