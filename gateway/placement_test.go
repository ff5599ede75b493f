package gateway

import (
	"errors"
	"reflect"
	"testing"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

func TestAffinities(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   []*pb.LocalitySpec
		want []model.Locality
		err  bool
	}{
		{"none", nil, nil, false},
		{"every kind", []*pb.LocalitySpec{{Kind: "host", Id: "h"}, {Kind: "availabilityZone", Id: "z"}, {Kind: "vm", Id: "v"},
			{Kind: "disk", Id: "d"}, {Kind: "datastore", Id: "ds"}, {Kind: "hostTag", Id: "CLOUD"},
			{Kind: "datastoreTag", Id: "SSD"}, {Kind: " datastoreType ", Id: " VMFS "}},
			[]model.Locality{{Kind: "host", ID: "h"}, {Kind: "availabilityZone", ID: "z"}, {Kind: "vm", ID: "v"}, {Kind: "disk", ID: "d"}, {Kind: "datastore", ID: "ds"},
				{Kind: "hostTag", ID: "CLOUD"}, {Kind: "datastoreTag", ID: "SSD"}, {Kind: "datastoreType", ID: "VMFS"}}, false},
		{"unknown kind", []*pb.LocalitySpec{{Kind: "rack", Id: "r"}}, nil, true},
		{"kinds are case-sensitive", []*pb.LocalitySpec{{Kind: "Host", Id: "h"}}, nil, true},
		{"no id", []*pb.LocalitySpec{{Kind: "host", Id: " "}}, nil, true},
	}
	for _, tc := range cases {
		got, err := affinities(tc.in)
		if tc.err != errors.Is(err, errs.ErrInvalid) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, %v", tc.name, got, err)
		}
	}
}

func TestAntiAffinity(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   *pb.AntiAffinityGroup
		want *model.AntiAffinity
		err  bool
	}{
		{"none", nil, nil, false},
		{"defaults", &pb.AntiAffinityGroup{Name: "web"}, &model.AntiAffinity{Group: "web", Hard: true, MaxPerHost: 1}, false},
		{"soft", &pb.AntiAffinityGroup{Name: "web", Mode: "soft", MaxPerHost: 3}, &model.AntiAffinity{Group: "web", MaxPerHost: 3}, false},
		{"no name", &pb.AntiAffinityGroup{Mode: "HARD"}, nil, true},
		{"bad mode", &pb.AntiAffinityGroup{Name: "web", Mode: "MAYBE"}, nil, true},
		{"negative cap", &pb.AntiAffinityGroup{Name: "web", MaxPerHost: -1}, nil, true},
	}
	for _, tc := range cases {
		got, err := antiAffinity(tc.in)
		if tc.err != errors.Is(err, errs.ErrInvalid) || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: got %+v, %v", tc.name, got, err)
		}
	}
}

func TestPlacementPolicy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "spread": "SPREAD", "PACK": "PACK", "random": "!"} {
		got, err := placementPolicy(in)
		if want == "!" {
			if !errors.Is(err, errs.ErrInvalid) {
				t.Errorf("placementPolicy(%q) = %q, %v; want InvalidEntity", in, got, err)
			}
		} else if got != want || err != nil {
			t.Errorf("placementPolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
