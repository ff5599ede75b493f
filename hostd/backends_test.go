package hostd_test

import (
	"context"
	"testing"

	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/hostd/hollow"
)

// host is a host of one backend, read and changed beside hostd as an operator or a guest
// would, so that tests check what the host has rather than what hostd answers. Every
// contract test runs on each of backends (forBackends). Those that are about vSphere
// itself run on vcsim alone: TestInterruptedCalls and TestCreateAfterRestart (a proxy
// holds or loses SOAP calls between hostd and the host), BenchmarkCreateVm (it counts
// SOAP calls), and the simulated guests' tests (hostdsim).
type host interface {
	// start starts a hostd on the host as o says.
	start(ctx context.Context, o hostd.Options) (*hostd.Daemon, error)
	vmCount(name string) int
	powerState(id string) string
	hardware(id string) (cpus, memoryMB int32)
	// boots grows with every boot of the VM: a power-on or a reset.
	boots(id string) int64
	disks(id string) []string
	diskCount(id, diskID string) int
	nicCount(id string) int
	iso(id string) string
	cdroms(id string) int
	extraConfig(id string) map[string]string
	exists(ds, p string) bool
	read(ds, p string) []byte
	// createForeign makes a VM beside Photon; destroy destroys one behind hostd's back.
	createForeign(ds, name string)
	destroy(id string)
	setGuestIP(id, ip string)
	guestMAC(id string) string
	// fail makes the host refuse the vSphere method (vcsim) or the hostd.v1 call (the
	// hollow host) from now on, with an InvalidState fault; clearFaults ends it.
	fail(vsphereMethod, call string)
	clearFaults()
	// settle waits until the host has ended the work it started.
	settle()
}

// backend is a kind of host hostd drives.
type backend struct {
	name string
	run  func(t testing.TB) host
}

var backends = []backend{
	{"vsphere", func(t testing.TB) host { return newVsphere(t, startSim(t)) }},
	{"hollow", func(t testing.TB) host {
		return &hollowHost{t: t, Host: hollow.New(hollow.Options{Images: []string{image}})}
	}},
}

// createVM creates VM id from the test image on the first datastore with hostd.
func createVM(t *testing.T, h hostdv1.HostClient, ds, id string) *hostdv1.VmInfo {
	t.Helper()
	info, err := h.CreateVm(t.Context(), &hostdv1.CreateVmRequest{VmId: id, Name: id, CpuCount: 1, MemoryMb: 32, Datastore: ds, ImagePath: image})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return info
}
