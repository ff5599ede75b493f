package place

import (
	"strings"
	"testing"

	"github.com/photon-cloud/photon/shared/store"
)

func host(id, state string, heartbeat int64, images ...string) *store.Host {
	return &store.Host{ID: id, State: state, LastHeartbeat: heartbeat,
		Datastores: []store.Datastore{{Name: "ds-" + id, Images: images}}}
}

func TestFeasible(t *testing.T) {
	const now = 100_000
	pol := Policy{CPURatio: 2, MemRatio: 1, StaleAfterMs: 30_000}
	req := Request{CPU: 2, MemoryMB: 1024, Image: "images/os.vmdk"}
	capy := func(memUsed int64) store.HostCapacity {
		return store.HostCapacity{CPUTotal: 4, MemTotal: 4096, MemUsed: memUsed}
	}
	cases := []struct {
		name       string
		cands      []Candidate
		want       []string // chosen hosts, best first
		wantReject string
	}{
		{"spread: most free memory first", []Candidate{
			{host("a", store.HostReady, now, req.Image), capy(2048)},
			{host("b", store.HostReady, now, req.Image), capy(0)},
		}, []string{"b", "a"}, ""},
		{"maintenance and stale hosts take nothing", []Candidate{
			{host("a", store.HostMaintenance, now, req.Image), capy(0)},
			{host("b", store.HostReady, now-60_000, req.Image), capy(0)},
		}, nil, "1 rejected for missed heartbeats, 1 rejected for state MAINTENANCE"},
		{"image locality", []Candidate{
			{host("a", store.HostReady, now), capy(0)},
			{host("b", store.HostReady, now, req.Image), capy(0)},
		}, []string{"b"}, "1 rejected for image not on any datastore"},
		{"memory is not overcommitted", []Candidate{
			{host("a", store.HostReady, now, req.Image), capy(3500)},
		}, nil, "1 rejected for memory"},
		{"cpu within its ratio", []Candidate{
			{host("a", store.HostReady, now, req.Image), store.HostCapacity{CPUTotal: 4, CPUUsed: 7, MemTotal: 4096}},
		}, nil, "1 rejected for cpu"},
		{"ties break by host id", []Candidate{
			{host("b", store.HostReady, now, req.Image), capy(0)},
			{host("a", store.HostReady, now, req.Image), capy(0)},
		}, []string{"a", "b"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, rej := Feasible(req, tc.cands, pol, now)
			var ids []string
			for _, c := range got {
				ids = append(ids, c.Host.ID)
				if c.Datastore != "ds-"+c.Host.ID {
					t.Errorf("host %s: datastore %q", c.Host.ID, c.Datastore)
				}
			}
			if strings.Join(ids, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("chose %v, want %v", ids, tc.want)
			}
			if rej.String() != tc.wantReject {
				t.Fatalf("rejections %q, want %q", rej.String(), tc.wantReject)
			}
		})
	}
}
