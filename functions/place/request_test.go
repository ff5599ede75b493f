package place

import (
	"fmt"
	"strings"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestRequest: a VM's flavor, disks, image, affinities, anti-affinity group and policy
// become its placement request; contradictory or unknown affinities are refused.
func TestRequest(t *testing.T) {
	loc := func(kind, id string) model.Locality { return model.Locality{Kind: kind, ID: id} }
	ctx := t.Context()
	s := storetest.New(t)
	task := func(id string) *model.Task {
		return &model.Task{ID: "task-" + id, Entity: model.Entity{ID: id}}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateTenant(ctx, &model.Tenant{ID: "ten", Name: "ten"}, task("ten")))
	must(s.CreateProject(ctx, &model.Project{ID: "p", TenantID: "ten", Name: "p"}, task("p")))
	must(s.CreateImage(ctx, &model.Image{ID: "img", Name: "os", DiskPath: testImage}, task("img")))
	must(s.CreateVM(ctx, &model.VM{ID: "placed", ProjectID: "p", HostID: "h7"}, task("placed")))
	must(s.CreateVM(ctx, &model.VM{ID: "unplaced", ProjectID: "p"}, task("unplaced")))
	must(s.CreateDisk(ctx, &model.PersistentDisk{ID: "pd", Name: "pd", ProjectID: "p", DatastoreID: "ds-7"}, task("pd")))
	must(s.CreateDisk(ctx, &model.PersistentDisk{ID: "new", Name: "new", ProjectID: "p"}, task("new")))
	f := New(s, DefaultPolicy)
	base := model.VM{ID: "vm", ProjectID: "p", SourceImageID: "img", CPU: 2, MemoryMB: 2048,
		Disks: []model.Disk{{Boot: true}, {CapacityGB: 3}}}
	cases := []struct {
		name    string
		aff     []model.Locality
		anti    *model.AntiAffinity
		policy  string
		want    string // the request's constraint fields
		wantErr string
	}{
		{"none", nil, nil, "", "host= zone= tags=[] ds= type= dstags=[] group= hard=false cap=0 policy=", ""},
		{"every kind", []model.Locality{loc(model.LocalityZone, "z1"), loc(model.LocalityHostTag, "gpu"), loc(model.LocalityDatastore, "ds1"),
			loc(model.LocalityDatastoreType, "NFS"), loc(model.LocalityDatastoreTag, "ssd"), loc(model.LocalityHost, "h7")},
			&model.AntiAffinity{Group: "web", Hard: true, MaxPerHost: 2}, model.PlacementPack,
			"host=h7 zone=z1 tags=[gpu] ds=ds1 type=NFS dstags=[ssd] group=" + s.GroupKey("p", "web") + " hard=true cap=2 policy=PACK", ""},
		{"vm affinity is its host", []model.Locality{loc(model.LocalityVM, "placed")}, nil, "",
			"host=h7 zone= tags=[] ds= type= dstags=[] group= hard=false cap=0 policy=", ""},
		{"vm affinity to a VM not placed", []model.Locality{loc(model.LocalityVM, "unplaced")}, nil, "", "", "not on a host yet"},
		{"two hosts", []model.Locality{loc(model.LocalityHost, "h1"), loc(model.LocalityHost, "h2")}, nil, "", "", "two different hosts"},
		{"unknown kind", []model.Locality{loc("rack", "r1")}, nil, "", "", `unknown affinity kind "rack"`},
		{"disk affinity is its datastore", []model.Locality{loc(model.LocalityDisk, "pd")}, nil, "",
			"host= zone= tags=[] ds=ds-7 type= dstags=[] group= hard=false cap=0 policy=", ""},
		{"disk not created yet", []model.Locality{loc(model.LocalityDisk, "new")}, nil, "", "", "not on a datastore yet"},
		{"missing disk", []model.Locality{loc(model.LocalityDisk, "d1")}, nil, "", "", "disk affinity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vm := base
			vm.Affinities, vm.AntiAffinity, vm.Placement = tc.aff, tc.anti, tc.policy
			req, err := f.request(ctx, &vm)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || errs.As(err).Code != errs.CodeInvalidEntity {
					t.Fatalf("error %v, want InvalidEntity with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.CPU != 2 || req.MemoryMB != 2048 || req.DiskMB != 3<<10 || req.Image != testImage || !req.ImageRequired {
				t.Fatalf("sizes and image: %+v", req)
			}
			got := fmt.Sprintf("host=%s zone=%s tags=%v ds=%s type=%s dstags=%v group=%s hard=%v cap=%d policy=%s", req.Host, req.Zone,
				req.HostTags, req.Datastore, req.DatastoreType, req.DatastoreTags, req.Group, req.GroupHard, req.GroupCap, req.Policy)
			if got != tc.want {
				t.Fatalf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
