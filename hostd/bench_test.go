package hostd_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/hostd/hollow"
)

// BenchmarkCreateVm creates VMs of new ids through hostd's gRPC API on one simulated host,
// 8 callers at once: the hot path of a burst of creates. It reports the vSphere calls
// each create costs, counted on their way to the host, which the machine's load does not
// change as it changes the time; so it runs on vcsim alone.
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

// BenchmarkHollowCreatePowerOn creates and powers on VMs of new ids on one hollow host,
// straight on the backend and through hostd's gRPC API (8 callers at once), and reports
// the memory the host keeps per VM (the heap after a GC, less the heap before).
func BenchmarkHollowCreatePowerOn(b *testing.B) {
	create := func(id string) *hostdv1.CreateVmRequest {
		return &hostdv1.CreateVmRequest{VmId: id, Name: id, CpuCount: 1, MemoryMb: 32, Datastore: "LocalDS_0", ImagePath: image}
	}
	// retained reports the heap each VM left, measured around run.
	retained := func(b *testing.B, run func()) {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.ResetTimer()
		run()
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "B/VM")
	}
	b.Run("backend", func(b *testing.B) {
		host := hollow.New(hollow.Options{Images: []string{image}})
		ctx := b.Context()
		retained(b, func() {
			for i := range b.N {
				id := fmt.Sprint("bench-", i)
				if _, err := host.CreateVm(ctx, create(id)); err != nil {
					b.Fatal(err)
				}
				if _, err := host.PowerOn(ctx, &hostdv1.VmRef{VmId: id}); err != nil {
					b.Fatal(err)
				}
			}
		})
		if host.VMs() != b.N {
			b.Fatalf("the host has %d VMs, want %d", host.VMs(), b.N)
		}
	})
	b.Run("grpc", func(b *testing.B) {
		hst, h, _ := start(b, backends[1])
		var n atomic.Int64
		b.SetParallelism(8)
		retained(b, func() {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					id := fmt.Sprint("bench-", n.Add(1))
					if _, err := h.CreateVm(b.Context(), create(id)); err != nil {
						b.Error(err)
						return
					}
					if _, err := h.PowerOn(b.Context(), &hostdv1.VmRef{VmId: id}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "VMs/s")
		if got := hst.(*hollowHost).VMs(); got != b.N {
			b.Fatalf("the host has %d VMs, want %d", got, b.N)
		}
	})
}
