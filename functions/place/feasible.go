package place

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/photon-cloud/photon/shared/store"
)

// Request is what a VM needs from a host.
type Request struct {
	CPU      int64
	MemoryMB int64
	Image    string // image disk path that a datastore must hold
}

// Candidate is a host with the capacity Photon has reserved on it.
type Candidate struct {
	Host     *store.Host
	Capacity store.HostCapacity
}

// Policy holds the placement knobs.
type Policy struct {
	CPURatio, MemRatio float64 // overcommit ratios
	// StaleAfter (ms): a host whose last heartbeat is older takes no placements.
	StaleAfterMs int64
	// SpreadOver: each placement starts at one of this many best hosts (by VM id), so
	// placements running at once do not all land on the same host; 0 means 4.
	SpreadOver int
}

func (p Policy) spreadOver() int {
	if p.SpreadOver <= 0 {
		return 4
	}
	return p.SpreadOver
}

// Choice is a feasible host and the datastore to use on it.
type Choice struct {
	Host      *store.Host
	Datastore string
	FreeMem   float64
}

// Rejections counts why hosts were rejected, for the error a user reads.
type Rejections map[string]int

func (r Rejections) String() string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d rejected for %s", r[k], k)
	}
	return strings.Join(parts, ", ")
}

// Feasible filters candidates and ranks the rest, most free memory first (spread).
func Feasible(req Request, cands []Candidate, pol Policy, nowMs int64) ([]Choice, Rejections) {
	rej := Rejections{}
	var out []Choice
	for _, c := range cands {
		h := c.Host
		switch {
		case h.State != store.HostReady:
			rej["state "+h.State]++
			continue
		case pol.StaleAfterMs > 0 && nowMs-h.LastHeartbeat > pol.StaleAfterMs:
			rej["missed heartbeats"]++
			continue
		}
		ds := ""
		for _, d := range h.Datastores {
			if req.Image == "" || slices.Contains(d.Images, req.Image) {
				ds = d.Name
				break
			}
		}
		if ds == "" {
			rej["image not on any datastore"]++
			continue
		}
		freeCPU := float64(c.Capacity.CPUTotal)*pol.CPURatio - float64(c.Capacity.CPUUsed)
		freeMem := float64(c.Capacity.MemTotal)*pol.MemRatio - float64(c.Capacity.MemUsed)
		if freeCPU < float64(req.CPU) {
			rej["cpu"]++
			continue
		}
		if freeMem < float64(req.MemoryMB) {
			rej["memory"]++
			continue
		}
		out = append(out, Choice{Host: h, Datastore: ds, FreeMem: freeMem})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].FreeMem != out[j].FreeMem {
			return out[i].FreeMem > out[j].FreeMem
		}
		return out[i].Host.ID < out[j].Host.ID
	})
	return out, rej
}
