package diskrules_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/photon-cloud/photon/shared/domain/diskrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

func TestValidate(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	task := func(id string) *model.Task {
		return s.NewTask("t-"+id, "CREATE", model.Entity{ID: id}, model.Caller{}, nil)
	}
	must(s.CreateTenant(ctx, &model.Tenant{ID: "a", Name: "a"}, task("a")))
	p1 := &model.Project{ID: "p1", TenantID: "a", Name: "p1"}
	must(s.CreateProject(ctx, p1, task("p1")))
	must(s.CreateProject(ctx, &model.Project{ID: "p2", TenantID: "a", Name: "p2"}, task("p2")))
	must(s.CreateFlavor(ctx, &model.Flavor{ID: "f-pd", Name: "pd", Kind: model.FlavorPersistentDisk,
		Cost: []model.QuotaLineItem{{Key: "persistent-disk.cost", Value: 1, Unit: "COUNT"}}}, task("f-pd")))
	must(s.CreateFlavor(ctx, &model.Flavor{ID: "f-vm", Name: "small", Kind: model.FlavorVM}, task("f-vm")))
	must(s.CreateVM(ctx, &model.VM{ID: "vm-1", Name: "vm-1", TenantID: "a", ProjectID: "p1"}, task("vm-1")))
	must(s.CreateVM(ctx, &model.VM{ID: "vm-2", Name: "vm-2", TenantID: "a", ProjectID: "p2"}, task("vm-2")))

	cases := []struct {
		name string
		spec diskrules.Spec
		want string // a part of the InvalidEntity message; "" when valid
	}{
		{"valid", diskrules.Spec{Name: "data", Flavor: "pd", CapacityGB: 2048, NearVMs: []string{"vm-1"}}, ""},
		{"unknown flavor", diskrules.Spec{Name: "data", Flavor: "nope", CapacityGB: 1}, `persistent-disk flavor "nope" not found`},
		{"a vm flavor", diskrules.Spec{Name: "data", Flavor: "small", CapacityGB: 1}, `persistent-disk flavor "small" not found`},
		{"beside another project's VM", diskrules.Spec{Name: "data", Flavor: "pd", CapacityGB: 1, NearVMs: []string{"vm-2"}},
			`affinities[0]: vm "vm-2" not found in project p1`},
		{"beside no VM", diskrules.Spec{Name: "data", Flavor: "pd", CapacityGB: 1, NearVMs: []string{"vm-1", "vm-9"}},
			`affinities[1]: vm "vm-9" not found`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := diskrules.Validate(ctx, s, p1, tc.spec)
			if tc.want == "" {
				want := []model.QuotaLineItem{{Key: "persistent-disk.capacity", Value: 2048, Unit: "GB"}, {Key: "persistent-disk.cost", Value: 1, Unit: "COUNT"}}
				if err != nil || d.State != model.DiskCreating || d.FlavorID != "f-pd" || !slices.Equal(d.Cost, want) ||
					!slices.Equal(d.Affinities, []model.Locality{{Kind: model.LocalityVM, ID: "vm-1"}}) {
					t.Fatalf("got %+v %v", d, err)
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
