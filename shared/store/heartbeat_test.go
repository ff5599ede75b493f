package store_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestHeartbeatFeed: a heartbeat that changes nothing placement reads leaves the host
// change feed alone, yet every reader of the host sees what it measured and when; one that
// changes a datastore's tags or images, or brings a host back from missed heartbeats,
// publishes the change.
func TestHeartbeatFeed(t *testing.T) {
	for name, newStore := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx := t.Context()
			var clock atomic.Int64
			clock.Store(time.Now().UnixMilli())
			s.SetClock(func() time.Time { return time.UnixMilli(clock.Load()) })
			ds := func(free int64, tags []string, images ...string) []model.Datastore {
				return []model.Datastore{{ID: "ds-1", Name: "LocalDS_0", Type: "VMFS", Tags: tags, CapacityBytes: 1 << 40,
					FreeBytes: free, Images: images}}
			}
			h := model.Host{ID: "h1", CPUCores: 16, MemoryMB: 1 << 16, State: model.HostReady,
				Datastores: ds(1<<39, []string{"LOCAL_VMFS"}, "images/a.vmdk")}
			if err := s.RegisterHost(ctx, h); err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name    string
				before  func() error // what happens to the host before the beat
				usage   model.HostUsage
				publish bool
				want    func(*model.Host) bool
			}{
				{"the first beat reports what the registration did", nil,
					model.HostUsage{CPUUsedMhz: 10, Datastores: ds(1<<39, []string{"LOCAL_VMFS"}, "images/a.vmdk")}, false,
					func(h *model.Host) bool { return h.Usage.CPUUsedMhz == 10 }},
				{"usage and space", nil,
					model.HostUsage{CPUUsedMhz: 20, MemoryUsedMB: 300, VMCount: 4, Datastores: ds(1<<38, []string{"LOCAL_VMFS"}, "images/a.vmdk")}, false,
					func(h *model.Host) bool {
						return h.Usage.CPUUsedMhz == 20 && h.Usage.MemoryUsedMB == 300 && h.Usage.VMCount == 4 &&
							h.Datastores[0].FreeBytes == 1<<38 && h.Datastores[0].Images[0] == "images/a.vmdk"
					}},
				{"no datastores reported", nil, model.HostUsage{CPUUsedMhz: 30}, false,
					func(h *model.Host) bool { return h.Usage.CPUUsedMhz == 30 && len(h.Datastores) == 1 }},
				{"an image copied", nil,
					model.HostUsage{CPUUsedMhz: 40, Datastores: ds(1<<38, []string{"LOCAL_VMFS"}, "images/a.vmdk", "images/b.vmdk")}, true,
					func(h *model.Host) bool { return len(h.Datastores[0].Images) == 2 && h.Usage.CPUUsedMhz == 40 }},
				{"a datastore tag", nil,
					model.HostUsage{Datastores: ds(1<<38, []string{"LOCAL_VMFS", "GOLD"}, "images/a.vmdk", "images/b.vmdk")}, true,
					func(h *model.Host) bool { return h.Datastores[0].Tags[1] == "GOLD" }},
				{"the same again", nil,
					model.HostUsage{Datastores: ds(1<<37, []string{"LOCAL_VMFS", "GOLD"}, "images/a.vmdk", "images/b.vmdk")}, false,
					func(h *model.Host) bool { return h.Datastores[0].FreeBytes == 1<<37 }},
				{"back from missed heartbeats", func() error {
					clock.Add(120_000)
					marked, err := s.MarkStaleHosts(ctx, s.Now()-60_000)
					if err == nil && len(marked) != 1 {
						t.Fatalf("marked %v", marked)
					}
					return err
				}, model.HostUsage{CPUUsedMhz: 50}, true,
					func(h *model.Host) bool { return h.State == model.HostReady && h.StateReason == "" }},
				{"in maintenance", func() error {
					_, err := s.UpdateHost(ctx, "h1", func(h *model.Host) error { h.State = model.HostMaintenance; return nil })
					return err
				}, model.HostUsage{CPUUsedMhz: 60}, false,
					func(h *model.Host) bool { return h.State == model.HostMaintenance && h.Usage.CPUUsedMhz == 60 }},
			}
			for _, tc := range cases {
				if tc.before != nil {
					if err := tc.before(); err != nil {
						t.Fatalf("%s: %v", tc.name, err)
					}
				}
				clock.Add(10_000)
				gen, err := s.HostGeneration(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := s.HeartbeatHost(ctx, "h1", tc.usage); err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				after, err := s.HostGeneration(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if published := after != gen; published != tc.publish {
					t.Errorf("%s: published %v (generation %d → %d), want %v", tc.name, published, gen, after, tc.publish)
				}
				got, err := s.GetHost(ctx, "h1")
				if err != nil || got.LastHeartbeat != s.Now() || !tc.want(got) {
					t.Fatalf("%s: host %+v %v, last heartbeat want %d", tc.name, got, err, s.Now())
				}
				hs, err := s.ListHosts(ctx)
				if err != nil || len(hs) != 1 || hs[0].LastHeartbeat != s.Now() || !tc.want(hs[0]) {
					t.Fatalf("%s: listed %+v %v", tc.name, hs, err)
				}
				page, err := s.ListHostsPage(ctx, 10, "")
				if err != nil || len(page.Items) != 1 || page.Items[0].LastHeartbeat != s.Now() {
					t.Fatalf("%s: page %+v %v", tc.name, page, err)
				}
				beats, err := s.HeartbeatsSince(ctx, s.Now()-1)
				if err != nil || len(beats) != 1 || beats[0] != (store.HostBeat{ID: "h1", At: s.Now()}) {
					t.Fatalf("%s: heartbeats %+v %v", tc.name, beats, err)
				}
			}

			// A write of the record, which holds an older heartbeat, does not make the host
			// look silent.
			if _, err := s.UpdateHost(ctx, "h1", func(h *model.Host) error { h.State = model.HostReady; return nil }); err != nil {
				t.Fatal(err)
			}
			if marked, err := s.MarkStaleHosts(ctx, s.Now()-1); err != nil || len(marked) != 0 {
				t.Fatalf("a beating host marked stale after a write of its record: %v %v", marked, err)
			}
			if beats, err := s.HeartbeatsSince(ctx, s.Now()-1); err != nil || len(beats) != 1 {
				t.Fatalf("heartbeat after a write of the record: %+v %v", beats, err)
			}
		})
	}
}
