package hostd_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/pki"
)

// BenchmarkCreateVm creates VMs of new ids through hostd's gRPC API on one simulated host,
// 8 callers at once: the hot path of a burst of creates. It reports the vSphere calls
// each create costs, counted on their way to the host, which the machine's load does not
// change as it changes the time.
func BenchmarkCreateVm(b *testing.B) {
	sim := startSim(b)
	p := newHoldProxy(b, sim.URL)
	ca := testCA(b)
	d, reg := daemonOn(b, p.u, hostd.Options{ID: "h1", TLS: hostTLS(b, ca, "h1"), Heartbeat: time.Hour})
	h := dial(b, d.Addr(), pki.ForHost(serviceTLS(b, ca), "h1"))
	ds := reg.host.Datastores[0].Name
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	calls := p.calls.Load()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprint("bench-", n.Add(1))
			if _, err := h.CreateVm(b.Context(), &hostdv1.CreateVmRequest{VmId: id, Name: id, CpuCount: 1, MemoryMb: 16,
				Datastore: ds, ImagePath: image}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "VMs/s")
	b.ReportMetric(float64(p.calls.Load()-calls)/float64(b.N), "calls/VM")
}
