package gateway

import (
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// localityKinds are the affinity kinds a VM create may name.
var localityKinds = []string{model.LocalityHost, model.LocalityZone, model.LocalityVM, model.LocalityDisk,
	model.LocalityDatastore, model.LocalityHostTag, model.LocalityDatastoreTag, model.LocalityDatastoreType}

// affinities checks a create spec's affinities: a known kind and an id each.
func affinities(in []*pb.LocalitySpec) ([]model.Locality, error) {
	var out []model.Locality
	for i, a := range in {
		kind, id := strings.TrimSpace(a.GetKind()), strings.TrimSpace(a.GetId())
		known := false
		for _, k := range localityKinds {
			known = known || k == kind
		}
		if !known {
			return nil, errs.Invalid("affinities[%d]: kind %q is not one of %s", i, a.GetKind(), strings.Join(localityKinds, ", ")).
				WithData("field", "affinities")
		}
		if id == "" {
			return nil, errs.Invalid("affinities[%d]: a %s affinity needs an id", i, kind).WithData("field", "affinities")
		}
		out = append(out, model.Locality{Kind: kind, ID: id})
	}
	return out, nil
}

// Anti-affinity modes.
const (
	antiAffinityHard = "HARD"
	antiAffinitySoft = "SOFT"
)

// antiAffinity checks a create spec's anti-affinity group: a name, mode HARD (the
// default) or SOFT, at most max_per_host (default 1) members of the group on a host.
func antiAffinity(g *pb.AntiAffinityGroup) (*model.AntiAffinity, error) {
	if g == nil {
		return nil, nil
	}
	name := strings.TrimSpace(g.GetName())
	if name == "" {
		return nil, errs.Invalid("antiAffinity: name is required").WithData("field", "antiAffinity")
	}
	mode := strings.ToUpper(strings.TrimSpace(g.GetMode()))
	if mode == "" {
		mode = antiAffinityHard
	}
	if mode != antiAffinityHard && mode != antiAffinitySoft {
		return nil, errs.Invalid("antiAffinity: mode %q is not HARD or SOFT", g.GetMode()).WithData("field", "antiAffinity")
	}
	n := g.GetMaxPerHost()
	if n < 0 {
		return nil, errs.Invalid("antiAffinity: maxPerHost must be 1 or more").WithData("field", "antiAffinity")
	}
	if n == 0 {
		n = 1
	}
	return &model.AntiAffinity{Group: name, Hard: mode == antiAffinityHard, MaxPerHost: n}, nil
}

// placementPolicy checks a flavor's or project's placement policy: SPREAD, PACK or none.
func placementPolicy(p string) (string, error) {
	switch up := strings.ToUpper(strings.TrimSpace(p)); up {
	case "", model.PlacementSpread, model.PlacementPack:
		return up, nil
	}
	return "", errs.Invalid("placementPolicy %q is not SPREAD or PACK", p).WithData("field", "placementPolicy")
}
