package place

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/photon-cloud/photon/shared/errs"
)

// Reason is why a checker rejected a host or a datastore. A failed placement counts the
// rejections by reason, and the reasons, not their wording, choose its error code.
type Reason int

// The reasons, one per checker.
const (
	Fits              Reason = iota // not rejected
	NotAskedHost                    // a host or vm affinity names another host
	NotReady                        // Detail: the host's state
	MissedHeartbeats                // silent longer than the policy's StaleAfterMs
	OutsideZone                     // Detail: the zone asked for
	NoHostTag                       // Detail: the tag
	NoNetwork                       // Detail: the port group
	NoImageOnHost                   // an ON_DEMAND image is on none of the host's datastores
	GroupFull                       // a hard anti-affinity group is at its cap on the host
	NoCPU                           // not enough vCPUs within the CPU ratio
	NoMemory                        // not enough memory within the memory ratio
	NoDatastore                     // the host has no datastore
	NotAskedDatastore               // Detail: the datastore asked for
	NoDatastoreType                 // Detail: the type asked for
	NoDatastoreTag                  // Detail: the tag
	NoImage                         // the image is on none of the matching datastores
	NoDatastoreSpace                // not enough space within the datastore ratio
)

// Rejection is one checker's answer: a reason and the value it is about (a state, a
// zone, a tag), kept apart so that rejecting a host builds no string.
type Rejection struct {
	Reason Reason
	Detail string
}

var fits Rejection

// String reads after a count of hosts: "412 rejected for memory", "3 in state MAINTENANCE".
func (r Rejection) String() string {
	switch r.Reason {
	case Fits:
		return "feasible"
	case NotAskedHost:
		return "not the host asked for"
	case NotReady:
		return "in state " + r.Detail
	case MissedHeartbeats:
		return "with missed heartbeats"
	case OutsideZone:
		return "not in zone " + r.Detail
	case NoHostTag:
		return "without host tag " + r.Detail
	case NoNetwork:
		return "without network " + r.Detail
	case NoImageOnHost:
		return "without the image on the host"
	case GroupFull:
		return "full for anti-affinity group"
	case NoCPU:
		return "rejected for CPU"
	case NoMemory:
		return "rejected for memory"
	case NoDatastore:
		return "without a datastore"
	case NotAskedDatastore:
		return "without datastore " + r.Detail
	case NoDatastoreType:
		return "without a " + r.Detail + " datastore"
	case NoDatastoreTag:
		return "without a datastore tagged " + r.Detail
	case NoImage:
		return "without the image on a datastore"
	case NoDatastoreSpace:
		return "rejected for datastore space"
	}
	return fmt.Sprintf("rejected (reason %d)", int(r.Reason))
}

// Code is the Photon error code of a placement that failed for want of this reason's
// resource, or "" when the reason is not a shortage (a host that does not match is not
// a resource a user can free).
func (r Reason) Code() string {
	switch r {
	case NoMemory:
		return errs.CodeNotEnoughMemory
	case NoCPU:
		return errs.CodeNotEnoughCapacity
	case NoDatastoreSpace:
		return errs.CodeNotEnoughDisk
	}
	return ""
}

// Rejections counts why hosts were rejected, for the error a user reads.
type Rejections map[Rejection]int

// Count is the number of hosts rejected for reason, whatever the detail.
func (r Rejections) Count(reason Reason) int {
	n := 0
	for k, v := range r {
		if k.Reason == reason {
			n += v
		}
	}
	return n
}

// shortages rank the resource reasons when as many hosts lack each: memory, the one
// overcommitted least, first.
var shortages = []Reason{NoMemory, NoCPU, NoDatastoreSpace}

// Code is the error code of a placement rejected so: the code of the resource that kept
// out the most hosts, or NoSuchResource when no host lacked a resource (every one was in
// the wrong zone, tagged otherwise, in maintenance...).
func (r Rejections) Code() string {
	best, most := Fits, 0
	for _, reason := range shortages {
		if n := r.Count(reason); n > most {
			best, most = reason, n
		}
	}
	if best == Fits {
		return errs.CodeNoSuchHost
	}
	return best.Code()
}

func (r Rejections) String() string {
	keys := make([]Rejection, 0, len(r))
	parts := make(map[Rejection]string, len(r))
	for k := range r {
		keys = append(keys, k)
		parts[k] = k.String()
	}
	slices.SortFunc(keys, func(a, b Rejection) int {
		return cmp.Or(cmp.Compare(r[b], r[a]), strings.Compare(parts[a], parts[b]))
	})
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%d %s", r[k], parts[k])
	}
	return strings.Join(out, ", ")
}
