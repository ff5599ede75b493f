package place

import (
	"strings"
	"testing"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

func host(id, state string, heartbeat int64, images ...string) *model.Host {
	return &model.Host{ID: id, State: state, LastHeartbeat: heartbeat, AvailabilityZone: "z1", Tags: []string{model.HostTagCloud},
		Networks:   []string{"VM Network"},
		Datastores: []model.Datastore{{ID: "ds-" + id, Name: "ds-" + id, Type: model.DatastoreVMFS, Tags: []string{"LOCAL_VMFS"}, Images: images}}}
}

func TestFeasible(t *testing.T) {
	const now = 100_000
	pol := Policy{CPURatio: 2, MemRatio: 1, DiskRatio: 1, StaleAfterMs: 30_000}
	req := Request{CPU: 2, MemoryMB: 1024, DiskMB: 100, Image: "images/os.vmdk", ImageRequired: true}
	capy := func(memUsed int64) store.HostCapacity {
		return store.HostCapacity{CPUTotal: 4, MemTotal: 4096, MemUsed: memUsed}
	}
	withDS := func(h *model.Host, c store.HostCapacity, total, used int64) Candidate {
		c.Datastores = map[string]store.DatastoreCapacity{h.Datastores[0].Name: {Total: total, Used: used}}
		return Candidate{h, c}
	}
	ready := func(id string) *model.Host { return host(id, model.HostReady, now, req.Image) }
	cases := []struct {
		name       string
		req        func(Request) Request
		cands      []Candidate
		want       []string // chosen hosts, best first
		wantReject string
	}{
		{"spread: most free first", nil, []Candidate{
			withDS(ready("a"), capy(2048), 1000, 0),
			withDS(ready("b"), capy(0), 1000, 0),
		}, []string{"b", "a"}, ""},
		{"pack: least free first", func(r Request) Request { r.Policy = model.PlacementPack; return r }, []Candidate{
			withDS(ready("a"), capy(0), 1000, 0),
			withDS(ready("b"), capy(2048), 1000, 0),
		}, []string{"b", "a"}, ""},
		{"maintenance and stale hosts take nothing", nil, []Candidate{
			withDS(host("a", model.HostMaintenance, now, req.Image), capy(0), 1000, 0),
			withDS(host("b", model.HostReady, now-60_000, req.Image), capy(0), 1000, 0),
		}, nil, "1 in state MAINTENANCE, 1 with missed heartbeats"},
		{"image locality", nil, []Candidate{
			withDS(host("a", model.HostReady, now), capy(0), 1000, 0),
			withDS(ready("b"), capy(0), 1000, 0),
		}, []string{"b"}, "1 without the image on a datastore"},
		{"memory is not overcommitted", nil, []Candidate{withDS(ready("a"), capy(3500), 1000, 0)}, nil, "1 rejected for memory"},
		{"cpu within its ratio", nil, []Candidate{
			withDS(ready("a"), store.HostCapacity{CPUTotal: 4, CPUUsed: 7, MemTotal: 4096}, 1000, 0),
		}, nil, "1 rejected for CPU"},
		{"datastore space within its ratio", nil, []Candidate{withDS(ready("a"), capy(0), 1000, 901)}, nil, "1 rejected for datastore space"},
		{"zone", func(r Request) Request { r.Zone = "z2"; return r }, []Candidate{withDS(ready("a"), capy(0), 1000, 0)}, nil, "1 not in zone z2"},
		{"host tag", func(r Request) Request { r.HostTags = []string{"gpu"}; return r }, []Candidate{withDS(ready("a"), capy(0), 1000, 0)},
			nil, "1 without host tag gpu"},
		{"network", func(r Request) Request { r.Networks = []string{"prod"}; return r }, []Candidate{withDS(ready("a"), capy(0), 1000, 0)},
			nil, "1 without network prod"},
		{"datastore tag and type", func(r Request) Request { r.DatastoreTags = []string{"LOCAL_VMFS"}; r.DatastoreType = "vmfs"; return r },
			[]Candidate{withDS(ready("a"), capy(0), 1000, 0)}, []string{"a"}, ""},
		{"datastore type", func(r Request) Request { r.DatastoreType = model.DatastoreNFS; return r },
			[]Candidate{withDS(ready("a"), capy(0), 1000, 0)}, nil, "1 without a NFS datastore"},
		{"pinned host", func(r Request) Request { r.Host = "b"; return r }, []Candidate{
			withDS(ready("a"), capy(0), 1000, 0), withDS(ready("b"), capy(0), 1000, 0),
		}, []string{"b"}, "1 not the host asked for"},
		{"hard anti-affinity", func(r Request) Request {
			r.Group, r.GroupHard, r.GroupCounts = "g", true, map[string]int64{"a": 1}
			return r
		}, []Candidate{withDS(ready("a"), capy(0), 1000, 0), withDS(ready("b"), capy(0), 1000, 0)},
			[]string{"b"}, "1 full for anti-affinity group"},
		{"ties break by host id", nil, []Candidate{
			withDS(ready("b"), capy(0), 1000, 0),
			withDS(ready("a"), capy(0), 1000, 0),
		}, []string{"a", "b"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := req
			if tc.req != nil {
				r = tc.req(r)
			}
			got, rej := Feasible(r, tc.cands, pol, now)
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
