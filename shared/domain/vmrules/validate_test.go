package vmrules_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// world is what the specs of the tests below are checked against: project p1 (and p2) of
// tenant a, flavors, images, subnets, two hosts in two zones, a placed VM and persistent
// disks.
func world(t *testing.T) (*store.Store, *model.Project) {
	ctx := t.Context()
	s := storetest.New(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	task := func(kind, id string) *model.Task {
		return s.NewTask("t-"+kind+"-"+id, "CREATE", model.Entity{ID: id, Kind: kind}, model.Caller{}, nil)
	}
	must(s.CreateTenant(ctx, &model.Tenant{ID: "a", Name: "a"}, task(model.KindTenant, "a")))
	p1 := &model.Project{ID: "p1", TenantID: "a", Name: "p1", PlacementPolicy: model.PlacementSpread}
	must(s.CreateProject(ctx, p1, task(model.KindProject, "p1")))
	must(s.CreateProject(ctx, &model.Project{ID: "p2", TenantID: "a", Name: "p2"}, task(model.KindProject, "p2")))
	for _, f := range []*model.Flavor{
		{ID: "f-small", Name: "small", Kind: model.FlavorVM, Cost: items("vm.cpu", 2.0, "COUNT", "vm.memory", 4.0, "GB")},
		{ID: "f-packed", Name: "packed", Kind: model.FlavorVM, PlacementPolicy: model.PlacementPack,
			Cost: items("vm.cpu", 1.0, "COUNT", "vm.memory", 512.0, "MB", "vm.count", 2.0, "COUNT")},
		{ID: "f-hollow", Name: "hollow", Kind: model.FlavorVM, Cost: items("vm.memory", 1.0, "GB")},
		{ID: "f-eph", Name: "eph", Kind: model.FlavorEphemeralDisk, Cost: items("ephemeral-disk.cost", 1.0, "COUNT")},
		{ID: "f-pd", Name: "pd", Kind: model.FlavorPersistentDisk, Cost: items("persistent-disk.cost", 1.0, "COUNT")},
	} {
		must(s.CreateFlavor(ctx, f, task(model.KindFlavor, f.ID)))
	}
	for _, im := range []*model.Image{
		{ID: "img", Name: "img", ProjectID: "p1", TenantID: "a", State: model.ImageReady},
		{ID: "public", Name: "public", State: model.ImageReady},
		{ID: "other", Name: "other", ProjectID: "p2", TenantID: "a", State: model.ImageReady},
		{ID: "new", Name: "new", ProjectID: "p1", TenantID: "a", State: model.ImageCreating},
		{ID: "going", Name: "going", ProjectID: "p1", TenantID: "a", State: model.ImagePendingDelete},
	} {
		must(s.CreateImage(ctx, im, task(model.KindImage, im.ID)))
	}
	for _, sn := range []*model.Subnet{
		{ID: "sn-p1", Name: "sn-p1", ProjectID: "p1", State: model.NetReady},
		{ID: "sn-p2", Name: "sn-p2", ProjectID: "p2", State: model.NetReady},
		{ID: "pg", Name: "pg", State: model.NetReady},
	} {
		must(s.CreatePortGroupSubnet(ctx, sn, task(model.KindSubnet, sn.ID)))
	}
	for _, h := range []*model.Host{
		{ID: "h1", Name: "h1", AvailabilityZone: "z1", Tags: []string{"CLOUD"}, State: "READY",
			Datastores: []model.Datastore{{ID: "ds-1", Name: "local", Type: model.DatastoreVMFS}, {ID: "ds-s", Name: "shared", Type: model.DatastoreNFS}}},
		{ID: "h2", Name: "h2", AvailabilityZone: "z2", State: "READY",
			Datastores: []model.Datastore{{ID: "ds-2", Name: "local", Type: model.DatastoreVMFS}, {ID: "ds-s", Name: "shared", Type: model.DatastoreNFS}}},
	} {
		must(s.PutHost(ctx, h))
	}
	must(s.CreateVM(ctx, &model.VM{ID: "vm-h1", Name: "vm-h1", TenantID: "a", ProjectID: "p1", State: model.VMStarted, HostID: "h1"},
		task(model.KindVM, "vm-h1")))
	must(s.CreateVM(ctx, &model.VM{ID: "vm-new", Name: "vm-new", TenantID: "a", ProjectID: "p1", State: model.VMCreating},
		task(model.KindVM, "vm-new")))
	for _, d := range []*model.PersistentDisk{
		{ID: "pd-1", Name: "pd-1", TenantID: "a", ProjectID: "p1", State: model.DiskDetached, HostID: "h1", Datastore: "local", DatastoreID: "ds-1"},
		{ID: "pd-s", Name: "pd-s", TenantID: "a", ProjectID: "p1", State: model.DiskDetached, HostID: "h2", Datastore: "shared", DatastoreID: "ds-s"},
		{ID: "pd-new", Name: "pd-new", TenantID: "a", ProjectID: "p1", State: model.DiskCreating},
	} {
		must(s.CreateDisk(ctx, d, task(model.KindDisk, d.ID)))
	}
	return s, p1
}

func boot() []vmrules.DiskSpec {
	return []vmrules.DiskSpec{{Name: "boot", Kind: "ephemeral", Flavor: "eph", Boot: true}}
}

func aff(kv ...string) []model.Locality {
	var out []model.Locality
	for i := 0; i < len(kv); i += 2 {
		out = append(out, model.Locality{Kind: kv[i], ID: kv[i+1]})
	}
	return out
}

func TestValidate(t *testing.T) {
	s, p1 := world(t)
	root := model.Caller{Subject: "root", Groups: []string{policy.SystemAdminsGroup}}
	cases := []struct {
		name string
		edit func(*vmrules.Spec)
		want string // a part of the InvalidEntity message; "" when the spec is valid
	}{
		{"valid", nil, ""},
		{"a public image", func(sp *vmrules.Spec) { sp.SourceImageID = "public" }, ""},
		{"port-group and own subnets", func(sp *vmrules.Spec) { sp.Subnets = []string{"pg", "sn-p1"} }, ""},
		{"unknown flavor", func(sp *vmrules.Spec) { sp.Flavor = "huge" }, `vm flavor "huge" not found`},
		{"a disk flavor is no vm flavor", func(sp *vmrules.Spec) { sp.Flavor = "eph" }, `vm flavor "eph" not found`},
		{"a vm flavor without cpu", func(sp *vmrules.Spec) { sp.Flavor = "hollow" }, "needs vm.cpu and vm.memory"},
		{"unknown image", func(sp *vmrules.Spec) { sp.SourceImageID = "nope" }, `image "nope" not found`},
		{"another project's image, not shared", func(sp *vmrules.Spec) { sp.SourceImageID = "other" }, `image "other" not found`},
		{"an image being created", func(sp *vmrules.Spec) { sp.SourceImageID = "new" }, "image new is CREATING"},
		{"an image waiting to be deleted", func(sp *vmrules.Spec) { sp.SourceImageID = "going" }, "image going is PENDING_DELETE"},
		{"unknown subnet", func(sp *vmrules.Spec) { sp.Subnets = []string{"pg", "nope"} }, `subnets[1]: subnet "nope" not found`},
		{"another project's subnet", func(sp *vmrules.Spec) { sp.Subnets = []string{"sn-p2"} }, `subnets[0]: subnet "sn-p2" not found`},
		{"a persistent disk in the spec", func(sp *vmrules.Spec) {
			sp.Disks = append(sp.Disks, vmrules.DiskSpec{Kind: "persistent-disk", Flavor: "pd", CapacityGB: 1})
		}, `attachedDisks[1]: kind "persistent-disk"`},
		{"unknown disk flavor", func(sp *vmrules.Spec) { sp.Disks[0].Flavor = "nope" }, `ephemeral-disk flavor "nope" not found`},
		{"no boot disk", func(sp *vmrules.Spec) { sp.Disks[0].Boot = false; sp.Disks[0].CapacityGB = 1 }, "exactly one attached disk must be the boot disk (found 0)"},
		{"two boot disks", func(sp *vmrules.Spec) { sp.Disks = append(sp.Disks, sp.Disks[0]) }, "(found 2)"},
		{"a data disk without capacity", func(sp *vmrules.Spec) {
			sp.Disks = append(sp.Disks, vmrules.DiskSpec{Kind: "ephemeral-disk", Flavor: "eph"})
		}, "attachedDisks[1]: capacityGb must be above 0"},

		// Affinities that can hold together.
		{"host in its zone with its tag", func(sp *vmrules.Spec) {
			sp.Affinities = aff("host", "h1", "availabilityZone", "z1", "hostTag", "CLOUD", "datastoreType", "VMFS")
		}, ""},
		{"beside a VM on the named host", func(sp *vmrules.Spec) { sp.Affinities = aff("vm", "vm-h1", "host", "h1") }, ""},
		{"beside a VM not placed yet", func(sp *vmrules.Spec) { sp.Affinities = aff("vm", "vm-new", "host", "h2") }, ""},
		{"a disk and its datastore by name", func(sp *vmrules.Spec) { sp.Affinities = aff("disk", "pd-s", "datastore", "shared", "host", "h1") }, ""},
		{"a disk not on a datastore yet", func(sp *vmrules.Spec) { sp.Affinities = aff("disk", "pd-new", "datastore", "ds-2") }, ""},
		{"tags are checked only against a named host", func(sp *vmrules.Spec) { sp.Affinities = aff("hostTag", "GPU", "datastoreTag", "ssd") }, ""},

		// Affinities that contradict each other, or name what does not exist.
		{"a host outside the asked zone", func(sp *vmrules.Spec) { sp.Affinities = aff("host", "h1", "availabilityZone", "z2") },
			"host h1 is not in availability zone z2"},
		{"a disk on another datastore", func(sp *vmrules.Spec) { sp.Affinities = aff("disk", "pd-1", "datastore", "ds-2") },
			"name two different datastores"},
		{"a disk on a datastore the host does not mount", func(sp *vmrules.Spec) { sp.Affinities = aff("disk", "pd-1", "host", "h2") },
			"host h2 mounts no such datastore"},
		{"two hosts", func(sp *vmrules.Spec) { sp.Affinities = aff("host", "h1", "host", "h2") }, "name two different hosts"},
		{"a VM on another host", func(sp *vmrules.Spec) { sp.Affinities = aff("host", "h2", "vm", "vm-h1") }, "name two different hosts"},
		{"a VM outside the asked zone", func(sp *vmrules.Spec) { sp.Affinities = aff("vm", "vm-h1", "availabilityZone", "z2") },
			"host h1 is not in availability zone z2"},
		{"two zones", func(sp *vmrules.Spec) { sp.Affinities = aff("availabilityZone", "z1", "availabilityZone", "z2") },
			"name two different availability zones"},
		{"two datastore types", func(sp *vmrules.Spec) { sp.Affinities = aff("datastoreType", "VMFS", "datastoreType", "NFS") },
			"name two different datastore types"},
		{"a host without the tag", func(sp *vmrules.Spec) { sp.Affinities = aff("host", "h2", "hostTag", "CLOUD") },
			"host h2 does not carry tag CLOUD"},
		{"a datastore of another type", func(sp *vmrules.Spec) {
			sp.Affinities = aff("host", "h1", "datastore", "shared", "datastoreType", "VMFS")
		},
			"host h1 mounts no such datastore of type VMFS"},
		{"a datastore type the host lacks", func(sp *vmrules.Spec) { sp.Affinities = aff("host", "h2", "datastoreType", "vsan") },
			"host h2 mounts no vsan datastore"},
		{"an unknown host", func(sp *vmrules.Spec) { sp.Affinities = aff("host", "h9") }, "host h9 not found"},
		{"an unknown VM", func(sp *vmrules.Spec) { sp.Affinities = aff("vm", "vm-9") }, "VM vm-9 not found"},
		{"an unknown disk", func(sp *vmrules.Spec) { sp.Affinities = aff("disk", "pd-9") }, "persistent disk pd-9 not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := vmrules.Spec{Name: "web", Flavor: "small", SourceImageID: "img", Disks: boot()}
			if tc.edit != nil {
				tc.edit(&spec)
			}
			vm, err := vmrules.Validate(t.Context(), s, root, p1, spec)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if vm.State != model.VMCreating || vm.FlavorID != "f-small" || vm.CPU != 2 || vm.MemoryMB != 4096 ||
					vm.Placement != model.PlacementSpread || !slices.Equal(vm.Affinities, spec.Affinities) {
					t.Fatalf("VM %+v", vm)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) || e.Code != errs.CodeInvalidEntity || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("got %v, want InvalidEntity %q", err, tc.want)
			}
		})
	}
}

// TestValidateBuilds checks what a valid spec makes: the VM's size, placement, power
// (off unless the spec asks, as Photon left a new VM STOPPED), disks and cost (one
// vm.count, though its flavor says two).
func TestValidateBuilds(t *testing.T) {
	s, p1 := world(t)
	who := model.Caller{Subject: "root", Groups: []string{policy.SystemAdminsGroup}}
	for _, powerOn := range []bool{false, true} {
		vm, err := vmrules.Validate(t.Context(), s, who, p1, vmrules.Spec{Name: "db", Flavor: "packed", SourceImageID: "img",
			PowerOn: powerOn, Disks: append(boot(), vmrules.DiskSpec{Kind: "ephemeral-disk", Flavor: "eph", CapacityGB: 5})})
		if err != nil {
			t.Fatal(err)
		}
		wantCost := items("ephemeral-disk.capacity", 5.0, "GB", "ephemeral-disk.cost", 2.0, "COUNT",
			"vm.count", 1.0, "COUNT", "vm.cpu", 1.0, "COUNT", "vm.memory", 0.5, "GB")
		if vm.CPU != 1 || vm.MemoryMB != 512 || vm.PowerOn != powerOn || vm.Placement != model.PlacementPack || len(vm.Disks) != 2 ||
			vm.Disks[1].Name != "disk-1" || vm.Disks[0].State != model.DiskDetached || !slices.Equal(vm.Cost, wantCost) {
			t.Fatalf("powerOn %v: VM %+v", powerOn, vm)
		}
	}
}

// TestMayCreate: what authorize decides again when the create chain runs.
func TestMayCreate(t *testing.T) {
	s, _ := world(t)
	ctx := context.Background()
	pat := model.Caller{Subject: "pat"}
	root := model.Caller{Subject: "root", Groups: []string{policy.SystemAdminsGroup}}
	cases := []struct {
		name     string
		who      model.Caller
		vm       model.VM
		wantCode string
	}{
		{"own image", root, model.VM{ProjectID: "p1", FlavorID: "f-small", SourceImageID: "img"}, ""},
		{"flavor gone", root, model.VM{ProjectID: "p1", FlavorID: "f-gone", SourceImageID: "img"}, errs.CodeNotFound},
		{"another project's image", root, model.VM{ProjectID: "p1", FlavorID: "f-small", SourceImageID: "other"}, errs.CodeAccessForbidden},
		{"a caller without a role", pat, model.VM{ProjectID: "p1", FlavorID: "f-small", SourceImageID: "img"}, errs.CodeAccessForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := vmrules.MayCreate(ctx, s, tc.who, &tc.vm)
			var e *errs.Error
			if (tc.wantCode == "") != (err == nil) || (err != nil && (!errors.As(err, &e) || e.Code != tc.wantCode)) {
				t.Fatalf("got %v, want %q", err, tc.wantCode)
			}
		})
	}
}
