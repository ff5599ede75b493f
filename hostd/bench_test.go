package hostd_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// BenchmarkCreateVm creates VMs of new ids through hostd's gRPC API on one simulated host,
// 8 callers at once: the hot path of a burst of creates. It reports the vSphere calls
// each create costs, counted on their way to the host, which the machine's load does not
// change as it changes the time.
func BenchmarkCreateVm(b *testing.B) {
	p, h, _, ds := proxied(b, time.Hour)
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
