package place

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/photon-cloud/photon/shared/store"
)

// Request is what a VM needs from a host, and where it may go.
type Request struct {
	VM       string // seeds the choice among equally good hosts
	CPU      int64
	MemoryMB int64
	DiskMB   int64 // datastore space of the VM's disks

	Image         string // image disk path a datastore should hold
	ImageRequired bool   // only datastores holding Image will do (no copy on demand)
	// ImageOnHost: the host must hold Image on one of its datastores, which a datastore
	// without it gets a copy from (ON_DEMAND images); those with it are preferred.
	ImageOnHost bool

	Zone          string   // availability zone id
	Host          string   // a host id (host and vm affinities)
	HostTags      []string // every one required on the host
	Networks      []string // port groups the host must reach
	Datastore     string   // datastore id or name (datastore and disk affinities)
	DatastoreType string   // VMFS, NFS, vsan
	DatastoreTags []string // every one required on the datastore

	Policy string // store.PlacementSpread (default) or store.PlacementPack

	// Anti-affinity: Group is the group's key; GroupCounts its members per host, as read
	// before placing. Hard keeps hosts at GroupCap out; soft prefers hosts under it.
	Group       string
	GroupHard   bool
	GroupCap    int32
	GroupCounts map[string]int64
}

func (r *Request) groupCap() int64 {
	if r.GroupCap <= 0 {
		return 1
	}
	return int64(r.GroupCap)
}

// Policy holds the placement knobs.
type Policy struct {
	CPURatio, MemRatio, DiskRatio float64 // overcommit ratios
	// StaleAfter (ms): a host whose last heartbeat is older takes no placements, and the
	// index marks it ERROR.
	StaleAfterMs int64
	// SpreadOver: each spread placement starts at one of this many best hosts (by VM id),
	// so placements running at once do not all land on the same host; 0 means 4.
	SpreadOver int
}

func (p Policy) spreadOver() int {
	if p.SpreadOver <= 0 {
		return 4
	}
	return p.SpreadOver
}

// Ratios are the policy's overcommit ratios, as reservations check them.
func (p Policy) Ratios() store.Ratios {
	return store.Ratios{CPU: p.CPURatio, Mem: p.MemRatio, Disk: p.DiskRatio}
}

// DefaultPolicy overcommits CPU 8:1, memory 1:1 and datastore space 4:1 (thin and linked-
// clone disks) and takes hosts silent for a minute out of placement.
var DefaultPolicy = Policy{CPURatio: 8, MemRatio: 1, DiskRatio: 4, StaleAfterMs: 60_000}

// Choice is a feasible host and the datastore to use on it.
type Choice struct {
	Host      *store.Host
	Datastore string
	// Score orders hosts: the free share of the host's scarcer resource (CPU or memory).
	Score float64
}

// Rejections counts why hosts were rejected, for the error a user reads.
type Rejections map[string]int

func (r Rejections) String() string {
	keys := make([]string, 0, len(r))
	for k := range r {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if r[keys[i]] != r[keys[j]] {
			return r[keys[i]] > r[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d %s", r[k], k)
	}
	return strings.Join(parts, ", ")
}

// Candidate is a host with the capacity Photon has reserved on it.
type Candidate struct {
	Host     *store.Host
	Capacity store.HostCapacity
}

// score is the free share of the host's scarcer resource, in [0, 1].
func score(c *store.HostCapacity, pol Policy) float64 {
	cpu := float64(c.CPUTotal) * pol.CPURatio
	mem := float64(c.MemTotal) * pol.MemRatio
	if cpu <= 0 || mem <= 0 {
		return 0
	}
	return max(0, min((cpu-float64(c.CPUUsed))/cpu, (mem-float64(c.MemUsed))/mem))
}

// check runs the feasibility checkers on one host. It returns the datastore to use, or
// why the host was rejected: a phrase that reads after a count of hosts ("412 rejected
// for memory", "3 in state MAINTENANCE").
func check(req *Request, c *Candidate, pol Policy, nowMs int64) (ds string, reason string) {
	h := c.Host
	switch {
	case req.Host != "" && h.ID != req.Host:
		return "", "not the host asked for"
	case h.State != store.HostReady:
		return "", "in state " + h.State
	case pol.StaleAfterMs > 0 && nowMs-h.LastHeartbeat > pol.StaleAfterMs:
		return "", "with missed heartbeats"
	case req.Zone != "" && h.AvailabilityZone != req.Zone:
		return "", "not in zone " + req.Zone
	}
	for _, t := range req.HostTags {
		if !h.HasTag(t) {
			return "", "without host tag " + t
		}
	}
	for _, n := range req.Networks {
		if !slices.Contains(h.Networks, n) {
			return "", "without network " + n
		}
	}
	if req.Group != "" && req.GroupHard && req.GroupCounts[h.ID] >= req.groupCap() {
		return "", "full for anti-affinity group"
	}
	if float64(c.Capacity.CPUTotal)*pol.CPURatio-float64(c.Capacity.CPUUsed) < float64(req.CPU) {
		return "", "rejected for CPU"
	}
	if float64(c.Capacity.MemTotal)*pol.MemRatio-float64(c.Capacity.MemUsed) < float64(req.MemoryMB) {
		return "", "rejected for memory"
	}
	return chooseDatastore(req, c, pol)
}

// chooseDatastore picks the datastore with room, matching the request, that holds the
// image (or, when the image need not be there, the one with most room).
func chooseDatastore(req *Request, c *Candidate, pol Policy) (string, string) {
	reason := "without a datastore"
	best, bestFree, bestImage := "", -1.0, false
	for i := range c.Host.Datastores {
		d := &c.Host.Datastores[i]
		switch {
		case req.Datastore != "" && d.ID != req.Datastore && d.Name != req.Datastore:
			reason = "without datastore " + req.Datastore
			continue
		case req.DatastoreType != "" && !strings.EqualFold(d.Type, req.DatastoreType):
			reason = "without a " + req.DatastoreType + " datastore"
			continue
		}
		if t, ok := missingTag(d.Tags, req.DatastoreTags); !ok {
			reason = "without a datastore tagged " + t
			continue
		}
		hasImage := req.Image == "" || slices.Contains(d.Images, req.Image)
		if req.ImageRequired && !hasImage {
			reason = "without the image on a datastore"
			continue
		}
		free := 0.0
		if cap, ok := c.Capacity.Datastores[d.Name]; ok {
			free = float64(cap.Total)*pol.DiskRatio - float64(cap.Used)
		} else if req.DiskMB > 0 {
			reason = "rejected for datastore space"
			continue
		}
		if free < float64(req.DiskMB) {
			reason = "rejected for datastore space"
			continue
		}
		if best == "" || hasImage && !bestImage || hasImage == bestImage && free > bestFree {
			best, bestFree, bestImage = d.Name, free, hasImage
		}
	}
	if best == "" {
		return "", reason
	}
	return best, ""
}

func missingTag(have, want []string) (string, bool) {
	for _, t := range want {
		if !slices.Contains(have, t) {
			return t, false
		}
	}
	return "", true
}

// Feasible runs the checkers over every candidate and ranks the feasible ones by the
// policy (spread: most free first; pack: least free first; ties by host id). It is the
// exhaustive form of what the index does, and explains a failed placement.
func Feasible(req Request, cands []Candidate, pol Policy, nowMs int64) ([]Choice, Rejections) {
	rej := Rejections{}
	var out []Choice
	for i := range cands {
		ds, why := check(&req, &cands[i], pol, nowMs)
		if why != "" {
			rej[why]++
			continue
		}
		out = append(out, Choice{Host: cands[i].Host, Datastore: ds, Score: score(&cands[i].Capacity, pol)})
	}
	pack := req.Policy == store.PlacementPack
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score != pack
		}
		return out[i].Host.ID < out[j].Host.ID
	})
	return out, rej
}
