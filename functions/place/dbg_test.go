package place

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/photon-cloud/photon/shared/store/storetest"
)

func TestDbgWalk(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	register(t, ctx, s, randomFleet(10000, 42, s.Now()))
	f := New(s, DefaultPolicy)
	f.index.ensure(ctx)
	rng := rand.New(rand.NewPCG(1, 7))
	kinds := map[string][2]int{}
	for i := range 2000 {
		req := randomRequest(rng, fmt.Sprint("vm", i))
		checks = 0
		f.Place(ctx, req)
		k := fmt.Sprintf("z=%v t=%v dt=%v dy=%v n=%v p=%v", req.Zone != "", req.HostTags, req.DatastoreTags, req.DatastoreType, req.Networks, req.Policy)
		v := kinds[k]
		v[0]++
		v[1] += checks
		kinds[k] = v
	}
	t.Log(reasons)
	for k, v := range kinds {
		t.Log(k, v[0], v[1]/v[0])
	}
}
