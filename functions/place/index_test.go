package place

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestIndexAgreesWithFeasible: the index, walking only part of its ordered sets, finds a
// host exactly when the exhaustive checkers do, and one as good as their best.
func TestIndexAgreesWithFeasible(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	hosts := randomFleet(400, 7, s.Now())
	for i := range hosts {
		if i%40 == 0 {
			hosts[i].State = model.HostMaintenance
		}
	}
	register(t, ctx, s, hosts)
	pol := DefaultPolicy
	pol.SpreadOver = 1
	idx := NewIndex(s, pol)
	if err := idx.Load(ctx); err != nil {
		t.Fatal(err)
	}
	cands := make([]Candidate, 0, len(hosts))
	for _, e := range idx.entries {
		cands = append(cands, e.cand)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 500 {
		req := randomRequest(rng, fmt.Sprint("vm", i))
		if i%50 == 0 {
			req.MemoryMB = 1 << 30 // fits nowhere
		}
		all, _ := Feasible(req, cands, pol, s.Now())
		got := idx.Candidates(&req, s.Now(), 1)
		if len(all) == 0 || len(got) == 0 {
			if len(all) != len(got) {
				t.Fatalf("request %d %+v: index found %d hosts, exhaustive %d", i, req, len(got), len(all))
			}
			continue
		}
		if got[0].Score != all[0].Score {
			t.Fatalf("request %d %+v: index chose %s (score %v), best is %s (score %v)", i, req,
				got[0].Host.ID, got[0].Score, all[0].Host.ID, all[0].Score)
		}
		if !slices.ContainsFunc(all, func(c Choice) bool { return c.Host.ID == got[0].Host.ID && c.Datastore == got[0].Datastore }) {
			t.Fatalf("request %d: index chose %s/%s, not feasible", i, got[0].Host.ID, got[0].Datastore)
		}
	}
}

// TestPlaceDeterministic: the same snapshot and the same request give the same choice.
func TestPlaceDeterministic(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	register(t, ctx, s, randomFleet(300, 11, s.Now()))
	a, b := NewIndex(s, DefaultPolicy), NewIndex(s, DefaultPolicy)
	for _, x := range []*Index{a, b} {
		if err := x.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		req := randomRequest(rng, fmt.Sprint("vm", i))
		ca, cb := a.Candidates(&req, s.Now(), 4), b.Candidates(&req, s.Now(), 4)
		if fmt.Sprint(choiceIDs(ca)) != fmt.Sprint(choiceIDs(cb)) {
			t.Fatalf("request %d: %v and %v", i, choiceIDs(ca), choiceIDs(cb))
		}
	}
}

func choiceIDs(cs []Choice) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Host.ID + "/" + c.Datastore
	}
	return out
}

// TestPlaceNeverOvercommits places from two place instances (two indexes) and many
// goroutines at once, releasing some as it goes, more than the fleet holds: no host,
// datastore or hard anti-affinity group ends beyond its ratio or cap, and the counters
// equal the sum of the reservations left.
func TestPlaceNeverOvercommits(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	pol := Policy{CPURatio: 2, MemRatio: 1, DiskRatio: 1.5, StaleAfterMs: 60_000}
	hosts := randomFleet(30, 13, s.Now())
	for i := range hosts {
		hosts[i].CPUCores, hosts[i].MemoryMB = 8, 32<<10
		for j := range hosts[i].Datastores {
			hosts[i].Datastores[j].CapacityBytes = 400 << 30
		}
	}
	register(t, ctx, s, hosts)
	fns := []*Function{New(s, pol), New(s, pol)}
	const groupCap = 2
	var (
		mu   sync.Mutex
		kept = map[string]model.HostReservation{}
		wg   sync.WaitGroup
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			f := fns[w%2]
			for i := range 150 {
				vm := fmt.Sprintf("vm-%d-%d", w, i)
				req := randomRequest(rng, vm)
				if i%5 == 0 {
					req.Group, req.GroupHard, req.GroupCap = s.GroupKey("p", "g"), true, groupCap
				}
				r, err := f.Place(ctx, req)
				if err != nil {
					if e := errs.As(err); e == nil || e.HTTPStatus() != 400 {
						t.Error(err)
					}
					continue
				}
				if i%3 == 0 {
					if ok, err := s.ReleaseHost(ctx, vm); err != nil || !ok {
						t.Errorf("release %s: %v %v", vm, ok, err)
					}
					continue
				}
				mu.Lock()
				kept[vm] = r
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	type sum struct{ cpu, mem, vms int64 }
	want := map[string]*sum{}
	wantDS := map[string]int64{}
	groups := map[string]int64{}
	for _, r := range kept {
		if want[r.HostID] == nil {
			want[r.HostID] = &sum{}
		}
		w := want[r.HostID]
		w.cpu, w.mem, w.vms = w.cpu+r.CPU, w.mem+r.MemoryMB, w.vms+1
		wantDS[r.HostID+"/"+r.Datastore] += r.DiskMB
		if r.Group != "" {
			groups[r.HostID]++
		}
	}
	if len(kept) < 100 {
		t.Fatalf("only %d placements kept", len(kept))
	}
	gotGroups, err := s.GroupCounts(ctx, s.GroupKey("p", "g"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		c, err := s.GetHostCapacity(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		w := want[h.ID]
		if w == nil {
			w = &sum{}
		}
		if c.CPUUsed != w.cpu || c.MemUsed != w.mem || c.VMs != w.vms {
			t.Errorf("host %s counters %+v, reservations sum to %+v", h.ID, c, *w)
		}
		if float64(c.CPUUsed) > float64(c.CPUTotal)*pol.CPURatio || float64(c.MemUsed) > float64(c.MemTotal)*pol.MemRatio {
			t.Errorf("host %s over-committed: %+v", h.ID, c)
		}
		for name, d := range c.Datastores {
			if d.Used != wantDS[h.ID+"/"+name] || float64(d.Used) > float64(d.Total)*pol.DiskRatio {
				t.Errorf("datastore %s/%s: %+v, reservations sum to %d", h.ID, name, d, wantDS[h.ID+"/"+name])
			}
		}
		if gotGroups[h.ID] != groups[h.ID] || gotGroups[h.ID] > groupCap {
			t.Errorf("host %s holds %d of the group (reservations: %d), cap %d", h.ID, gotGroups[h.ID], groups[h.ID], groupCap)
		}
	}
}

// TestSpreadEvenness: 10,000 placements on 1,000 equal hosts, eight at a time, leave the
// most and the least loaded host at most 2 VMs apart.
func TestSpreadEvenness(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	hosts := make([]model.Host, 1000)
	for i := range hosts {
		hosts[i] = model.Host{ID: fmt.Sprintf("h%04d", i), State: model.HostReady, LastHeartbeat: s.Now(), CPUCores: 64,
			MemoryMB: 256 << 10, Datastores: []model.Datastore{{Name: "ds", Type: model.DatastoreVMFS, CapacityBytes: 4 << 40, Images: []string{testImage}}}}
	}
	register(t, ctx, s, hosts)
	f := New(s, DefaultPolicy)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 10_000; i += 8 {
				req := Request{VM: fmt.Sprint("vm", i), CPU: 1, MemoryMB: 1024, DiskMB: 1024, Image: testImage, ImageRequired: true}
				if _, err := f.Place(ctx, req); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ids := make([]string, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
	}
	caps, err := s.HostCapacities(ctx, ids...)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := caps[0].VMs, caps[0].VMs
	for _, c := range caps {
		lo, hi = min(lo, c.VMs), max(hi, c.VMs)
	}
	if hi-lo > 2 {
		t.Fatalf("most loaded host has %d VMs, least %d", hi, lo)
	}
	t.Logf("VMs per host: %d to %d", lo, hi)
}

// TestPlaceErrors: a failed placement says what was asked and why hosts were rejected,
// with the Photon code of the scarcest resource.
func TestPlaceErrors(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	now := s.Now()
	var hosts []model.Host
	for i := range 6 {
		h := model.Host{ID: fmt.Sprintf("h%d", i), State: model.HostReady, LastHeartbeat: now, AvailabilityZone: "z1",
			CPUCores: 8, MemoryMB: 16 << 10, Tags: []string{model.HostTagCloud},
			Datastores: []model.Datastore{{Name: "ds", Type: model.DatastoreVMFS, CapacityBytes: 100 << 30, Images: []string{testImage}}}}
		if i >= 4 {
			h.State = model.HostMaintenance
		}
		hosts = append(hosts, h)
	}
	register(t, ctx, s, hosts)
	f := New(s, DefaultPolicy)
	base := Request{CPU: 1, MemoryMB: 1024, DiskMB: 1024, Image: testImage, ImageRequired: true}
	cases := []struct {
		name, code string
		req        func(*Request)
		want       []string
	}{
		{"memory", errs.CodeNotEnoughMemory, func(r *Request) { r.MemoryMB = 64 << 10 },
			[]string{"no host can take 1 vCPU, 65536 MB memory", "6 hosts", "4 rejected for memory", "2 in state MAINTENANCE"}},
		{"cpu", errs.CodeNotEnoughCapacity, func(r *Request) { r.CPU = 128 }, []string{"4 rejected for CPU"}},
		{"disk", errs.CodeNotEnoughDisk, func(r *Request) { r.DiskMB = 1 << 20 }, []string{"4 rejected for datastore space"}},
		{"zone", errs.CodeNoSuchHost, func(r *Request) { r.Zone = "z2" }, []string{"no host in zone z2 can take", "4 not in zone z2"}},
		{"host tag", errs.CodeNoSuchHost, func(r *Request) { r.HostTags = []string{"gpu"} }, []string{"tagged gpu", "4 without host tag gpu"}},
		{"host in maintenance", errs.CodeNoSuchHost, func(r *Request) { r.Host = "h5" }, []string{"on host h5", "1 in state MAINTENANCE"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := base
			req.VM = fmt.Sprint("vm", i)
			tc.req(&req)
			_, err := f.Place(ctx, req)
			e := errs.As(err)
			if err == nil || e.Code != tc.code {
				t.Fatalf("error %v, want code %s", err, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q lacks %q", e.Message, w)
				}
			}
		})
	}
}

// TestAntiAffinity: a hard group takes one host per member and refuses the member too
// many; a soft group places it anyway, on the host with the fewest members.
func TestAntiAffinity(t *testing.T) {
	for _, hard := range []bool{true, false} {
		t.Run(fmt.Sprint("hard=", hard), func(t *testing.T) {
			ctx := t.Context()
			s := storetest.New(t)
			register(t, ctx, s, randomFleet(3, 17, s.Now()))
			f := New(s, DefaultPolicy)
			seen := map[string]int{}
			for i := range 4 {
				req := Request{VM: fmt.Sprint("vm", i), CPU: 1, MemoryMB: 512, Group: s.GroupKey("p", "web"), GroupHard: hard}
				r, err := f.Place(ctx, req)
				if i == 3 && hard {
					if errs.As(err).Code != errs.CodeNoSuchHost || !strings.Contains(err.Error(), "3 full for anti-affinity group") {
						t.Fatalf("fourth member of a hard group on 3 hosts: %v", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				seen[r.HostID]++
			}
			if len(seen) != 3 {
				t.Fatalf("soft group spread %v, want all 3 hosts used", seen)
			}
		})
	}
}

// TestMissedHeartbeats: the index's sync puts a silent host in ERROR, placement skips it,
// and its next heartbeat brings it back.
func TestMissedHeartbeats(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	hosts := randomFleet(2, 19, s.Now())
	hosts[1].LastHeartbeat = s.Now() - 120_000
	register(t, ctx, s, hosts)
	f := New(s, DefaultPolicy)
	if err := f.index.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.index.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := s.GetHost(ctx, hosts[1].ID)
	if err != nil || h.State != model.HostError || h.StateReason != model.ReasonMissedHeartbeats {
		t.Fatalf("silent host: %+v %v", h, err)
	}
	pin := Request{VM: "vm1", CPU: 1, MemoryMB: 512, Host: hosts[1].ID}
	if _, err := f.Place(ctx, pin); err == nil || !strings.Contains(err.Error(), "1 in state ERROR") {
		t.Fatalf("placement on a silent host: %v", err)
	}
	if _, err := s.HeartbeatHost(ctx, hosts[1].ID, model.HostUsage{}); err != nil {
		t.Fatal(err)
	}
	if err := f.index.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := f.Place(ctx, pin); err != nil || r.HostID != hosts[1].ID {
		t.Fatalf("after a heartbeat: %+v %v", r, err)
	}
}

// TestHeartbeatsWithoutReload: the index takes the times of heartbeats from the
// heartbeat index, without reloading host records (a heartbeat that changes nothing
// placement reads writes none): a host that beats stays feasible past StaleAfterMs from
// its record's heartbeat, and one that stopped is rejected for missed heartbeats before
// the sync marks it ERROR, even after a heartbeat stamped an hour ahead (by a gateway
// whose clock is). Choices handed out keep the record they were made with.
func TestHeartbeatsWithoutReload(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	now := s.Now()
	hosts := randomFleet(3, 29, now-50_000) // last heard of 50 s ago
	hosts[2].LastHeartbeat = now + time.Hour.Milliseconds()
	register(t, ctx, s, hosts)
	x := NewIndex(s, DefaultPolicy)
	if err := x.Load(ctx); err != nil {
		t.Fatal(err)
	}
	pin := func(host string) *Request { return &Request{VM: "vm1", CPU: 1, MemoryMB: 64, Host: host} }
	held := x.Candidates(pin(hosts[0].ID), now, 1)
	if len(held) != 1 {
		t.Fatalf("before the beat: %+v", held)
	}
	if err := x.Sync(ctx); err != nil { // it reads the heartbeat an hour ahead
		t.Fatal(err)
	}
	gen := x.gen.Load()
	if _, err := s.HeartbeatHost(ctx, hosts[0].ID, model.HostUsage{CPUUsedMhz: 100}); err != nil {
		t.Fatal(err)
	}
	if err := x.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if g := x.gen.Load(); g != gen {
		t.Fatalf("a heartbeat went through the change feed: generation %d → %d", gen, g)
	}
	at := now + 20_000 // 70 s after the hosts were last heard of, 20 s after host 0 beat
	cases := []struct {
		host string
		want Reason
	}{{hosts[0].ID, Fits}, {hosts[1].ID, MissedHeartbeats}}
	for _, tc := range cases {
		got := x.Candidates(pin(tc.host), at, 1)
		_, rej := x.Explain(pin(tc.host), at)
		if tc.want == Fits && (len(got) != 1 || got[0].Host.ID != tc.host) || tc.want != Fits && (len(got) != 0 || rej.Count(tc.want) != 1) {
			t.Errorf("%s at +20s: %+v, rejections %v, want %v", tc.host, got, rej, tc.want)
		}
	}
	if held[0].Host.LastHeartbeat != now-50_000 {
		t.Errorf("a choice made before the sync changed under its holder: heartbeat %d", held[0].Host.LastHeartbeat)
	}
	if h, err := s.GetHost(ctx, hosts[1].ID); err != nil || h.State != model.HostReady {
		t.Fatalf("the silent host was marked before StaleAfterMs: %+v %v", h, err)
	}
}

// TestReservationChecksState: a host put in maintenance after the index last looked is
// refused by the reservation itself.
func TestReservationChecksState(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	hosts := randomFleet(1, 23, s.Now())
	register(t, ctx, s, hosts)
	f := New(s, DefaultPolicy)
	if err := f.index.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateHost(ctx, hosts[0].ID, func(h *model.Host) error { h.State = model.HostMaintenance; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Place(ctx, Request{VM: "vm1", CPU: 1, MemoryMB: 512}); err == nil || !strings.Contains(err.Error(), "taken by other placements") {
		t.Fatalf("placement on a host gone to maintenance: %v", err)
	}
	if _, ok, _ := s.HostReservationOf(ctx, "vm1"); ok {
		t.Fatal("reserved on a host in maintenance")
	}
	if c, _ := s.GetHostCapacity(ctx, hosts[0].ID); c.VMs != 0 || c.CPUUsed != 0 {
		t.Fatalf("counters changed: %+v", c)
	}
}

// TestBackgroundMarksSilentHosts: with no placement running, the function's background
// work still puts a host that stopped heartbeating in ERROR.
func TestBackgroundMarksSilentHosts(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	hosts := randomFleet(1, 29, s.Now())
	hosts[0].LastHeartbeat = s.Now() - 120_000
	register(t, ctx, s, hosts)
	f := New(s, DefaultPolicy)
	f.index.SyncEvery = 10 * time.Millisecond
	bgCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Background(bgCtx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := s.GetHost(ctx, hosts[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if h.State == model.HostError {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("host still %s", h.State)
		}
		time.Sleep(5 * time.Millisecond) // polling the store with a deadline
	}
}

// TestOnDemandImage: an ON_DEMAND image needs to be on the host, on any of its datastores
// (a copy is made from there), and a datastore with it is preferred; a required image
// takes only the datastores that hold it.
func TestOnDemandImage(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	now := s.Now()
	ds := func(name string, images ...string) model.Datastore {
		return model.Datastore{ID: name, Name: name, Type: model.DatastoreVMFS, CapacityBytes: 100 << 30, Images: images}
	}
	host := func(id string, dss ...model.Datastore) model.Host {
		return model.Host{ID: id, State: model.HostReady, LastHeartbeat: now, CPUCores: 8, MemoryMB: 16 << 10,
			Tags: []string{model.HostTagCloud}, Datastores: dss}
	}
	register(t, ctx, s, []model.Host{
		host("with", ds("with-a", testImage), ds("with-b")),
		host("without", ds("without-a"), ds("without-b")),
	})
	f := New(s, DefaultPolicy)
	cases := []struct {
		name             string
		required, onHost bool
		datastore        string
		wantHost, wantDS string
		wantErr          bool
	}{
		{"on demand prefers the datastore with it", false, true, "", "with", "with-a", false},
		{"on demand copies to another datastore of the host", false, true, "with-b", "with", "with-b", false},
		{"on demand needs the image on the host", false, true, "without-a", "", "", true},
		{"required takes only datastores with it", true, false, "with-b", "", "", true},
		{"required", true, false, "", "with", "with-a", false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := Request{VM: fmt.Sprint("od", i), CPU: 1, MemoryMB: 512, Image: testImage,
				ImageRequired: tc.required, ImageOnHost: tc.onHost, Datastore: tc.datastore}
			r, err := f.Place(ctx, req)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("placed on %s/%s, want a refusal", r.HostID, r.Datastore)
				}
				return
			}
			if err != nil || r.HostID != tc.wantHost || r.Datastore != tc.wantDS {
				t.Fatalf("placed on %s/%s (%v), want %s/%s", r.HostID, r.Datastore, err, tc.wantHost, tc.wantDS)
			}
		})
	}
}
