package place

import (
	"cmp"
	"slices"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Ranking, after the checkers (Nomad's RankIterator): a feasible host scores in [0, 1],
// the share of its capacity still free; spread takes the highest first, pack the lowest.
// A VM ranks hosts by their scarcer resource of CPU and memory, which is also the order
// the index keeps its sets in; a persistent disk (Request.ByDatastore) by the room left
// on the datastore chosen for it. On a host, the datastore holding the image comes first,
// then the one with the most room.

// score is the free share of the host's scarcer resource, in [0, 1].
func score(c *store.HostCapacity, pol Policy) float64 {
	cpu := float64(c.CPUTotal) * pol.CPURatio
	mem := float64(c.MemTotal) * pol.MemRatio
	if cpu <= 0 || mem <= 0 {
		return 0
	}
	return max(0, min((cpu-float64(c.CPUUsed))/cpu, (mem-float64(c.MemUsed))/mem))
}

// datastoreScore is the free share of a datastore's space within the disk ratio.
func datastoreScore(c *Candidate, d *model.Datastore, pol Policy) float64 {
	cap, ok := c.Capacity.Datastores[d.Name]
	total := float64(cap.Total) * pol.DiskRatio
	if !ok || total <= 0 {
		return 0
	}
	return max(0, (total-float64(cap.Used))/total)
}

// rank scores a feasible host and the datastore chosen on it.
func rank(req *Request, c *Candidate, d *model.Datastore, pol Policy) float64 {
	if req.ByDatastore {
		return datastoreScore(c, d, pol)
	}
	return score(&c.Capacity, pol)
}

// betterDatastore: one holding the image over one without, then the one with more room.
func betterDatastore(image bool, free float64, bestImage bool, bestFree float64, none bool) bool {
	return none || image && !bestImage || image == bestImage && free > bestFree
}

// sortChoices orders choices by the request's policy, ties by host id.
func sortChoices(cs []Choice, req *Request) {
	pack := req.Policy == model.PlacementPack
	slices.SortStableFunc(cs, func(a, b Choice) int {
		if a.Score != b.Score {
			if (a.Score > b.Score) != pack {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Host.ID, b.Host.ID)
	})
}
