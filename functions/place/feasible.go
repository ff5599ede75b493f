package place

import (
	"slices"
	"strings"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Request is what a VM or a persistent disk needs from a host, and where it may go.
type Request struct {
	VM       string // the VM or disk id: keys the reservation, seeds the choice among equally good hosts
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

	Policy string // model.PlacementSpread (default) or model.PlacementPack
	// ByDatastore ranks hosts by the room left on the chosen datastore rather than by
	// CPU and memory: a persistent disk, which needs datastore space alone.
	ByDatastore bool

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
	Host      *model.Host
	Datastore string
	// Score orders hosts: the free share of the host's scarcer resource (CPU or memory),
	// or for a request ranked by datastore, of the chosen datastore's space.
	Score float64
}

// Candidate is a host with the capacity Photon has reserved on it.
type Candidate struct {
	Host     *model.Host
	Capacity store.HostCapacity
}

// env is what the checkers read besides the request and the host, and the checkers that
// apply to the request (Nomad builds its stack per job): a rule the request does not use
// (no zone asked, no tags) costs nothing per host. One env serves a whole placement;
// passed to the checkers through an interface it lives on the heap, so it is made once
// per placement, not once per host. The datastore checkers also find in it what
// chooseDatastore read once about the datastore they check.
type env struct {
	pol        Policy
	nowMs      int64
	hosts      []hostChecker
	datastores []datastoreChecker

	free     float64 // the datastore's room within the disk ratio, in MB
	known    bool    // whether the datastore has counters yet
	hasImage bool    // whether it holds the request's image (or none is asked)

	hostBuf      [16]hostChecker
	datastoreBuf [8]datastoreChecker
}

// newEnv picks the checkers req needs.
func newEnv(req *Request, pol Policy, nowMs int64) *env {
	e := &env{pol: pol, nowMs: nowMs}
	e.hosts, e.datastores = e.hostBuf[:0], e.datastoreBuf[:0]
	for _, r := range hostCheckers {
		if r.applies == nil || r.applies(req) {
			e.hosts = append(e.hosts, r.hostChecker)
		}
	}
	for _, r := range datastoreCheckers {
		if r.applies == nil || r.applies(req) {
			e.datastores = append(e.datastores, r.datastoreChecker)
		}
	}
	return e
}

// A hostChecker is one feasibility rule on a host as a whole (Nomad's
// FeasibilityChecker): it answers fits or why the host cannot take the request.
type hostChecker interface {
	CheckHost(req *Request, c *Candidate, e *env) Rejection
}

// A datastoreChecker is one feasibility rule on one of a host's datastores.
type datastoreChecker interface {
	CheckDatastore(req *Request, c *Candidate, d *model.Datastore, e *env) Rejection
}

// The host checkers, in the order they run: the cheap and the most selective first, and
// the ones a user can fix by freeing resources (CPU, memory) last, so that a host is
// counted against a resource only when it matches the request otherwise. applies (nil:
// always) tells whether a request uses the rule at all.
var hostCheckers = []struct {
	hostChecker
	applies func(*Request) bool
}{
	{askedHost{}, func(r *Request) bool { return r.Host != "" }},
	{readyHost{}, nil},
	{heartbeat{}, nil},
	{zone{}, func(r *Request) bool { return r.Zone != "" }},
	{hostTags{}, func(r *Request) bool { return len(r.HostTags) > 0 }},
	{networks{}, func(r *Request) bool { return len(r.Networks) > 0 }},
	{imageOnHost{}, func(r *Request) bool { return r.ImageOnHost && r.Image != "" }},
	{hardGroup{}, func(r *Request) bool { return r.Group != "" && r.GroupHard }},
	{cpu{}, nil},
	{memory{}, nil},
}

// The datastore checkers; a host is feasible when one of its datastores passes them all.
var datastoreCheckers = []struct {
	datastoreChecker
	applies func(*Request) bool
}{
	{askedDatastore{}, func(r *Request) bool { return r.Datastore != "" }},
	{datastoreType{}, func(r *Request) bool { return r.DatastoreType != "" }},
	{datastoreTags{}, func(r *Request) bool { return len(r.DatastoreTags) > 0 }},
	{requiredImage{}, func(r *Request) bool { return r.ImageRequired && r.Image != "" }},
	{space{}, nil},
}

type (
	askedHost      struct{}
	readyHost      struct{}
	heartbeat      struct{}
	zone           struct{}
	hostTags       struct{}
	networks       struct{}
	imageOnHost    struct{}
	hardGroup      struct{}
	cpu            struct{}
	memory         struct{}
	askedDatastore struct{}
	datastoreType  struct{}
	datastoreTags  struct{}
	requiredImage  struct{}
	space          struct{}
)

func (askedHost) CheckHost(req *Request, c *Candidate, _ *env) Rejection {
	if req.Host != "" && c.Host.ID != req.Host {
		return Rejection{Reason: NotAskedHost}
	}
	return fits
}

func (readyHost) CheckHost(_ *Request, c *Candidate, _ *env) Rejection {
	if c.Host.State != model.HostReady {
		return Rejection{NotReady, c.Host.State}
	}
	return fits
}

// heartbeat: a host silent for longer than the policy allows takes nothing, before the
// index's sync has marked it ERROR.
func (heartbeat) CheckHost(_ *Request, c *Candidate, e *env) Rejection {
	if e.pol.StaleAfterMs > 0 && e.nowMs-c.Host.LastHeartbeat > e.pol.StaleAfterMs {
		return Rejection{Reason: MissedHeartbeats}
	}
	return fits
}

func (zone) CheckHost(req *Request, c *Candidate, _ *env) Rejection {
	if req.Zone != "" && c.Host.AvailabilityZone != req.Zone {
		return Rejection{OutsideZone, req.Zone}
	}
	return fits
}

func (hostTags) CheckHost(req *Request, c *Candidate, _ *env) Rejection {
	for _, t := range req.HostTags {
		if !c.Host.HasTag(t) {
			return Rejection{NoHostTag, t}
		}
	}
	return fits
}

func (networks) CheckHost(req *Request, c *Candidate, _ *env) Rejection {
	for _, n := range req.Networks {
		if !slices.Contains(c.Host.Networks, n) {
			return Rejection{NoNetwork, n}
		}
	}
	return fits
}

// imageOnHost: an ON_DEMAND image is copied from one of the host's datastores, so one
// of them must hold it.
func (imageOnHost) CheckHost(req *Request, c *Candidate, _ *env) Rejection {
	if !req.ImageOnHost || req.Image == "" {
		return fits
	}
	for i := range c.Host.Datastores {
		if slices.Contains(c.Host.Datastores[i].Images, req.Image) {
			return fits
		}
	}
	return Rejection{Reason: NoImageOnHost}
}

func (hardGroup) CheckHost(req *Request, c *Candidate, _ *env) Rejection {
	if req.Group != "" && req.GroupHard && req.GroupCounts[c.Host.ID] >= req.groupCap() {
		return Rejection{Reason: GroupFull}
	}
	return fits
}

func (cpu) CheckHost(req *Request, c *Candidate, e *env) Rejection {
	if float64(c.Capacity.CPUTotal)*e.pol.CPURatio-float64(c.Capacity.CPUUsed) < float64(req.CPU) {
		return Rejection{Reason: NoCPU}
	}
	return fits
}

func (memory) CheckHost(req *Request, c *Candidate, e *env) Rejection {
	if float64(c.Capacity.MemTotal)*e.pol.MemRatio-float64(c.Capacity.MemUsed) < float64(req.MemoryMB) {
		return Rejection{Reason: NoMemory}
	}
	return fits
}

// askedDatastore: a datastore or disk affinity names the datastore by id or by name.
func (askedDatastore) CheckDatastore(req *Request, _ *Candidate, d *model.Datastore, _ *env) Rejection {
	if req.Datastore != "" && d.ID != req.Datastore && d.Name != req.Datastore {
		return Rejection{NotAskedDatastore, req.Datastore}
	}
	return fits
}

func (datastoreType) CheckDatastore(req *Request, _ *Candidate, d *model.Datastore, _ *env) Rejection {
	if req.DatastoreType != "" && !strings.EqualFold(d.Type, req.DatastoreType) {
		return Rejection{NoDatastoreType, req.DatastoreType}
	}
	return fits
}

func (datastoreTags) CheckDatastore(req *Request, _ *Candidate, d *model.Datastore, _ *env) Rejection {
	for _, t := range req.DatastoreTags {
		if !slices.Contains(d.Tags, t) {
			return Rejection{NoDatastoreTag, t}
		}
	}
	return fits
}

func (requiredImage) CheckDatastore(req *Request, _ *Candidate, _ *model.Datastore, e *env) Rejection {
	if req.ImageRequired && !e.hasImage {
		return Rejection{Reason: NoImage}
	}
	return fits
}

// space: the datastore's free space within the disk ratio; a datastore without counters
// (not reported yet) takes no disk.
func (space) CheckDatastore(req *Request, _ *Candidate, _ *model.Datastore, e *env) Rejection {
	if (!e.known && req.DiskMB > 0) || e.free < float64(req.DiskMB) {
		return Rejection{Reason: NoDatastoreSpace}
	}
	return fits
}

// look reads once what the datastore checkers and the ranking need of d.
func (e *env) look(req *Request, c *Candidate, d *model.Datastore) {
	e.free, e.known = datastoreFree(c, d, e.pol)
	e.hasImage = req.Image == "" || slices.Contains(d.Images, req.Image)
}

// datastoreFree is the MB a datastore can still take, within the disk ratio.
func datastoreFree(c *Candidate, d *model.Datastore, pol Policy) (float64, bool) {
	cap, ok := c.Capacity.Datastores[d.Name]
	if !ok {
		return 0, false
	}
	return float64(cap.Total)*pol.DiskRatio - float64(cap.Used), true
}

// check runs e's checkers on one host. It returns the datastore to use, its score (see
// rank.go) and fits, or why the host was rejected.
func check(req *Request, c *Candidate, e *env) (string, float64, Rejection) {
	for _, ch := range e.hosts {
		if r := ch.CheckHost(req, c, e); r.Reason != Fits {
			return "", 0, r
		}
	}
	return chooseDatastore(req, c, e)
}

// chooseDatastore runs the datastore checkers on each of the host's datastores and ranks
// those that pass. A host none of whose datastores passes is rejected for the reason of
// the last one tried.
func chooseDatastore(req *Request, c *Candidate, e *env) (string, float64, Rejection) {
	why := Rejection{Reason: NoDatastore}
	var best *model.Datastore
	bestFree, bestImage := -1.0, false
	for i := range c.Host.Datastores {
		d := &c.Host.Datastores[i]
		e.look(req, c, d)
		r := fits
		for _, ch := range e.datastores {
			if r = ch.CheckDatastore(req, c, d, e); r.Reason != Fits {
				break
			}
		}
		if r.Reason != Fits {
			why = r
			continue
		}
		if betterDatastore(e.hasImage, e.free, bestImage, bestFree, best == nil) {
			best, bestFree, bestImage = d, e.free, e.hasImage
		}
	}
	if best == nil {
		return "", 0, why
	}
	return best.Name, rank(req, c, best, e.pol), fits
}

// Feasible runs the checkers over every candidate and ranks the feasible ones by the
// policy (spread: most free first; pack: least free first; ties by host id). It is the
// exhaustive form of what the index does, and explains a failed placement.
func Feasible(req Request, cands []Candidate, pol Policy, nowMs int64) ([]Choice, Rejections) {
	rej := Rejections{}
	var out []Choice
	e := newEnv(&req, pol, nowMs)
	for i := range cands {
		ds, score, why := check(&req, &cands[i], e)
		if why.Reason != Fits {
			rej[why]++
			continue
		}
		out = append(out, Choice{Host: cands[i].Host, Datastore: ds, Score: score})
	}
	sortChoices(out, &req)
	return out, rej
}
