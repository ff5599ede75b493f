package place

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

const testImage = "images/os.vmdk"

// randomHost is host i of a mixed fleet: ten zones, a tenth with a gpu tag, half with a
// prod network, one or two datastores of mixed types, half tagged ssd, most with the image.
func randomHost(rng *rand.Rand, i int, now int64) model.Host {
	h := model.Host{ID: fmt.Sprintf("h%06d", i), State: model.HostReady, LastHeartbeat: now,
		AvailabilityZone: fmt.Sprintf("z%d", i%10), Tags: []string{model.HostTagCloud}, Networks: []string{"VM Network"},
		CPUCores: int32(16 << rng.IntN(3)), MemoryMB: int64(64<<rng.IntN(4)) << 10}
	if rng.IntN(10) == 0 {
		h.Tags = append(h.Tags, "gpu")
	}
	if rng.IntN(2) == 0 {
		h.Networks = append(h.Networks, "prod")
	}
	types := []string{model.DatastoreVMFS, model.DatastoreNFS, model.DatastoreVSAN}
	for d := range 1 + rng.IntN(2) {
		ds := model.Datastore{ID: fmt.Sprintf("%s-ds%d", h.ID, d), Name: fmt.Sprintf("ds%d", d), Type: types[rng.IntN(3)],
			CapacityBytes: int64(1+rng.IntN(4)) << 40}
		if rng.IntN(2) == 0 {
			ds.Tags = []string{"ssd"}
		}
		if rng.IntN(10) != 0 {
			ds.Images = []string{testImage}
		}
		h.Datastores = append(h.Datastores, ds)
	}
	return h
}

// randomRequest mixes constraints: none, a zone, a host tag, a datastore tag, a zone and a
// datastore type, a network; sizes 1-8 vCPU, 1-16 GB, 10-100 GB of disk; a tenth pack.
func randomRequest(rng *rand.Rand, vm string) Request {
	r := Request{VM: vm, CPU: int64(1 << rng.IntN(4)), MemoryMB: int64(1<<rng.IntN(5)) << 10,
		DiskMB: int64(10+rng.IntN(91)) << 10, Image: testImage, ImageRequired: true}
	switch k := rng.IntN(20); {
	case k < 8:
	case k < 12:
		r.Zone = fmt.Sprintf("z%d", rng.IntN(10))
	case k < 15:
		r.HostTags = []string{"gpu"}
	case k < 18:
		r.DatastoreTags = []string{"ssd"}
	case k < 19:
		r.Zone, r.DatastoreType = fmt.Sprintf("z%d", rng.IntN(10)), model.DatastoreVSAN
	default:
		r.Networks = []string{"prod"}
	}
	if rng.IntN(10) == 0 {
		r.Policy = model.PlacementPack
	}
	return r
}

// register writes hosts into s from a few goroutines.
func register(tb testing.TB, ctx context.Context, s *store.Store, hosts []model.Host) {
	tb.Helper()
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(hosts); i += 8 {
				if err := s.PutHost(ctx, &hosts[i]); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		tb.Fatal(err)
	}
}

func randomFleet(n int, seed uint64, now int64) []model.Host {
	rng := rand.New(rand.NewPCG(seed, 1))
	hosts := make([]model.Host, n)
	for i := range hosts {
		hosts[i] = randomHost(rng, i, now)
	}
	return hosts
}
