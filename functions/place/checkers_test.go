package place

import (
	"fmt"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestCheckers: each checker alone, on one host, answers fits or its typed reason.
func TestCheckers(t *testing.T) {
	const now = 100_000
	e := &env{pol: Policy{CPURatio: 2, MemRatio: 1, DiskRatio: 2, StaleAfterMs: 30_000}, nowMs: now}
	h := host("a", model.HostReady, now, testImage)
	h.Tags = append(h.Tags, "gpu")
	c := &Candidate{Host: h, Capacity: store.HostCapacity{CPUTotal: 4, CPUUsed: 6, MemTotal: 4096, MemUsed: 3072,
		Datastores: map[string]store.DatastoreCapacity{"ds-a": {Total: 1000, Used: 1500}}}}
	d := &h.Datastores[0]
	hostCases := []struct {
		name string
		ch   hostChecker
		req  Request
		host func(*model.Host)
		want Rejection
	}{
		{"asked host: this one", askedHost{}, Request{Host: "a"}, nil, fits},
		{"asked host: another", askedHost{}, Request{Host: "b"}, nil, Rejection{Reason: NotAskedHost}},
		{"ready", readyHost{}, Request{}, nil, fits},
		{"in maintenance", readyHost{}, Request{}, func(h *model.Host) { h.State = model.HostMaintenance }, Rejection{NotReady, model.HostMaintenance}},
		{"heartbeat within the policy", heartbeat{}, Request{}, func(h *model.Host) { h.LastHeartbeat = now - 30_000 }, fits},
		{"silent", heartbeat{}, Request{}, func(h *model.Host) { h.LastHeartbeat = now - 30_001 }, Rejection{Reason: MissedHeartbeats}},
		{"zone", zone{}, Request{Zone: "z1"}, nil, fits},
		{"other zone", zone{}, Request{Zone: "z2"}, nil, Rejection{OutsideZone, "z2"}},
		{"host tags", hostTags{}, Request{HostTags: []string{"gpu", model.HostTagCloud}}, nil, fits},
		{"host tag missing", hostTags{}, Request{HostTags: []string{"gpu", "fpga"}}, nil, Rejection{NoHostTag, "fpga"}},
		{"network", networks{}, Request{Networks: []string{"VM Network"}}, nil, fits},
		{"network missing", networks{}, Request{Networks: []string{"prod"}}, nil, Rejection{NoNetwork, "prod"}},
		{"on-demand image on the host", imageOnHost{}, Request{Image: testImage, ImageOnHost: true}, nil, fits},
		{"on-demand image not on the host", imageOnHost{}, Request{Image: "other.vmdk", ImageOnHost: true}, nil, Rejection{Reason: NoImageOnHost}},
		{"group under its cap", hardGroup{}, Request{Group: "g", GroupHard: true, GroupCap: 2, GroupCounts: map[string]int64{"a": 1}}, nil, fits},
		{"group at its cap", hardGroup{}, Request{Group: "g", GroupHard: true, GroupCounts: map[string]int64{"a": 1}}, nil, Rejection{Reason: GroupFull}},
		{"soft group at its cap", hardGroup{}, Request{Group: "g", GroupCounts: map[string]int64{"a": 1}}, nil, fits},
		{"cpu within the ratio", cpu{}, Request{CPU: 2}, nil, fits},
		{"cpu beyond the ratio", cpu{}, Request{CPU: 3}, nil, Rejection{Reason: NoCPU}},
		{"memory", memory{}, Request{MemoryMB: 1024}, nil, fits},
		{"memory is not overcommitted", memory{}, Request{MemoryMB: 1025}, nil, Rejection{Reason: NoMemory}},
	}
	for _, tc := range hostCases {
		t.Run(tc.name, func(t *testing.T) {
			hc, cc := *h, *c
			cc.Host = &hc
			if tc.host != nil {
				tc.host(&hc)
			}
			if got := tc.ch.CheckHost(&tc.req, &cc, e); got != tc.want {
				t.Fatalf("%T: %+v, want %+v", tc.ch, got, tc.want)
			}
		})
	}
	dsCases := []struct {
		name string
		ch   datastoreChecker
		req  Request
		want Rejection
	}{
		{"datastore by id", askedDatastore{}, Request{Datastore: "ds-a"}, fits},
		{"another datastore", askedDatastore{}, Request{Datastore: "ds-b"}, Rejection{NotAskedDatastore, "ds-b"}},
		{"type, any case", datastoreType{}, Request{DatastoreType: "vmfs"}, fits},
		{"another type", datastoreType{}, Request{DatastoreType: model.DatastoreNFS}, Rejection{NoDatastoreType, model.DatastoreNFS}},
		{"datastore tag", datastoreTags{}, Request{DatastoreTags: []string{"LOCAL_VMFS"}}, fits},
		{"datastore tag missing", datastoreTags{}, Request{DatastoreTags: []string{"LOCAL_VMFS", "ssd"}}, Rejection{NoDatastoreTag, "ssd"}},
		{"required image", requiredImage{}, Request{Image: testImage, ImageRequired: true}, fits},
		{"required image missing", requiredImage{}, Request{Image: "other.vmdk", ImageRequired: true}, Rejection{Reason: NoImage}},
		{"on-demand image missing is no datastore rule", requiredImage{}, Request{Image: "other.vmdk", ImageOnHost: true}, fits},
		{"space within the ratio", space{}, Request{DiskMB: 500}, fits},
		{"space beyond the ratio", space{}, Request{DiskMB: 501}, Rejection{Reason: NoDatastoreSpace}},
	}
	for _, tc := range dsCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(&tc.req, e.pol, now)
			e.look(&tc.req, c, d)
			if got := tc.ch.CheckDatastore(&tc.req, c, d, e); got != tc.want {
				t.Fatalf("%T: %+v, want %+v", tc.ch, got, tc.want)
			}
		})
	}
	t.Run("a datastore without counters takes no disk", func(t *testing.T) {
		bare := &Candidate{Host: h, Capacity: store.HostCapacity{}}
		for _, req := range []Request{{DiskMB: 1}, {}} {
			e.look(&req, bare, d)
			if got, want := (space{}).CheckDatastore(&req, bare, d, e), req.DiskMB > 0; (got.Reason == NoDatastoreSpace) != want {
				t.Fatalf("%d MB: got %+v", req.DiskMB, got)
			}
		}
	})
	t.Run("a request uses only the checkers it needs", func(t *testing.T) {
		plain := newEnv(&Request{CPU: 1, MemoryMB: 1}, e.pol, now)
		var names []string
		for _, ch := range plain.hosts {
			names = append(names, fmt.Sprintf("%T", ch))
		}
		for _, ch := range plain.datastores {
			names = append(names, fmt.Sprintf("%T", ch))
		}
		if got, want := fmt.Sprint(names), "[place.readyHost place.heartbeat place.cpu place.memory place.space]"; got != want {
			t.Fatalf("plain request: checkers %s, want %s", got, want)
		}
		full := newEnv(&Request{Host: "a", Zone: "z", HostTags: []string{"t"}, Networks: []string{"n"}, Image: "i", ImageOnHost: true,
			ImageRequired: true, Group: "g", GroupHard: true, Datastore: "d", DatastoreType: "NFS", DatastoreTags: []string{"x"}}, e.pol, now)
		if len(full.hosts) != len(hostCheckers) || len(full.datastores) != len(datastoreCheckers) {
			t.Fatalf("full request: %d host and %d datastore checkers", len(full.hosts), len(full.datastores))
		}
	})
}

// TestRejectionsCode: the error code of a failed placement is the resource that kept out
// the most hosts (memory, then CPU, then datastore space on a tie), NoSuchResource when
// hosts only did not match.
func TestRejectionsCode(t *testing.T) {
	r := func(reason Reason, detail string) Rejection { return Rejection{reason, detail} }
	cases := []struct {
		name string
		rej  Rejections
		want string
	}{
		{"nothing rejected", Rejections{}, errs.CodeNoSuchHost},
		{"only mismatches", Rejections{r(OutsideZone, "z2"): 5, r(NotReady, model.HostMaintenance): 2, r(NoDatastoreTag, "ssd"): 1},
			errs.CodeNoSuchHost},
		{"memory", Rejections{r(NoMemory, ""): 3, r(OutsideZone, "z2"): 9}, errs.CodeNotEnoughMemory},
		{"memory wins a tie with CPU", Rejections{r(NoMemory, ""): 2, r(NoCPU, ""): 2}, errs.CodeNotEnoughMemory},
		{"more hosts short of CPU", Rejections{r(NoMemory, ""): 1, r(NoCPU, ""): 2}, errs.CodeNotEnoughCapacity},
		{"datastore space", Rejections{r(NoDatastoreSpace, ""): 4, r(NoCPU, ""): 1, r(NoImage, ""): 7}, errs.CodeNotEnoughDisk},
		{"CPU wins a tie with space", Rejections{r(NoDatastoreSpace, ""): 1, r(NoCPU, ""): 1}, errs.CodeNotEnoughCapacity},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.rej.Code(); got != tc.want {
				t.Fatalf("code %s, want %s (%s)", got, tc.want, tc.rej)
			}
		})
	}
}

// TestRejectionStrings: every reason reads after a count of hosts, none falls back to the
// bare number.
func TestRejectionStrings(t *testing.T) {
	for reason := NotAskedHost; reason <= NoDatastoreSpace; reason++ {
		s := Rejection{reason, "x"}.String()
		if s == fmt.Sprintf("rejected (reason %d)", int(reason)) {
			t.Errorf("reason %d has no wording", int(reason))
		}
	}
	got := Rejections{{NotReady, model.HostMaintenance}: 1, {Reason: NoMemory}: 3, {NoHostTag, "gpu"}: 1}.String()
	if want := "3 rejected for memory, 1 in state MAINTENANCE, 1 without host tag gpu"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}

// TestRanking: the datastore a host offers and the order of the feasible hosts, for a VM
// (by the host's CPU and memory) and for a persistent disk (by the datastore's room).
func TestRanking(t *testing.T) {
	const now = 100_000
	pol := Policy{CPURatio: 1, MemRatio: 1, DiskRatio: 1}
	ds := func(name string, images ...string) model.Datastore {
		return model.Datastore{ID: name, Name: name, Type: model.DatastoreVMFS, Images: images}
	}
	cand := func(id string, memUsed int64, dss []model.Datastore, used ...int64) Candidate {
		h := &model.Host{ID: id, State: model.HostReady, LastHeartbeat: now, Datastores: dss}
		c := store.HostCapacity{CPUTotal: 8, MemTotal: 1000, MemUsed: memUsed, Datastores: map[string]store.DatastoreCapacity{}}
		for i, d := range dss {
			c.Datastores[d.Name] = store.DatastoreCapacity{Total: 1000, Used: used[i]}
		}
		return Candidate{Host: h, Capacity: c}
	}
	// a: most free memory, little datastore room; b: the roomiest datastore; c: in between.
	fleet := []Candidate{
		cand("a", 0, []model.Datastore{ds("a1", testImage), ds("a2")}, 900, 800),
		cand("b", 600, []model.Datastore{ds("b1"), ds("b2", testImage)}, 100, 700),
		cand("c", 300, []model.Datastore{ds("c1")}, 500),
	}
	cases := []struct {
		name string
		req  Request
		want string
	}{
		{"VM spread: most free memory first, roomiest datastore", Request{CPU: 1, MemoryMB: 100}, "[a/a2 c/c1 b/b1]"},
		{"VM pack: least free first", Request{CPU: 1, MemoryMB: 100, Policy: model.PlacementPack}, "[b/b1 c/c1 a/a2]"},
		{"VM with an image: the datastore with it over a roomier one", Request{CPU: 1, MemoryMB: 100, Image: testImage},
			"[a/a1 c/c1 b/b2]"},
		{"disk: the roomiest datastore first", Request{DiskMB: 100, ByDatastore: true}, "[b/b1 c/c1 a/a2]"},
		{"disk pack: the fullest datastore that fits", Request{DiskMB: 100, ByDatastore: true, Policy: model.PlacementPack},
			"[a/a2 c/c1 b/b1]"},
		{"disk too large for a", Request{DiskMB: 250, ByDatastore: true}, "[b/b1 c/c1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := Feasible(tc.req, fleet, pol, now)
			if s := fmt.Sprint(choiceIDs(got)); s != tc.want {
				t.Fatalf("ranked %s, want %s", s, tc.want)
			}
		})
	}
}
