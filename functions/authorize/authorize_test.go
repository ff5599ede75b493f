package authorize_test

import (
	"errors"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/authorize"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestAuthorize: each chain is held to the rights of the caller its task names, whoever
// started it.
func TestAuthorize(t *testing.T) {
	s := storetest.New(t)
	ctx := t.Context()
	task := func(kind, id string) *model.Task {
		return s.NewTask("", "SETUP", model.Entity{ID: id, Kind: kind}, model.Caller{Subject: "root"}, nil)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateTenant(ctx, &model.Tenant{ID: "a", Name: "a", SecurityGroups: []string{"a\\admins"}}, task(model.KindTenant, "a")))
	must(s.CreateProject(ctx, &model.Project{ID: "p1", TenantID: "a", Name: "p1", SecurityGroups: []string{"a\\p1"}}, task(model.KindProject, "p1")))
	must(s.CreateProject(ctx, &model.Project{ID: "p2", TenantID: "a", Name: "p2", SecurityGroups: []string{"a\\p2"}}, task(model.KindProject, "p2")))
	must(s.CreateFlavor(ctx, &model.Flavor{ID: "small", Name: "small", Kind: model.FlavorVM}, task(model.KindFlavor, "small")))
	images := []*model.Image{
		{ID: "public", Name: "public"},
		{ID: "own", Name: "own", ProjectID: "p1", TenantID: "a"},
		{ID: "other", Name: "other", ProjectID: "p2", TenantID: "a"},
		{ID: "shared", Name: "shared", ProjectID: "p2", TenantID: "a", IAM: []model.PolicyEntry{{Principal: "pat", Roles: []string{"contributor"}}}},
		{ID: "mine", Name: "mine", ProjectID: "p1", TenantID: "a", IAM: []model.PolicyEntry{{Principal: "pat", Roles: []string{"owner"}}}},
	}
	for _, im := range images {
		im.State = model.ImageReady
		must(s.CreateImage(ctx, im, task(model.KindImage, im.ID)))
	}
	vm := func(id, image string) {
		must(s.CreateVM(ctx, &model.VM{ID: id, Name: id, TenantID: "a", ProjectID: "p1", FlavorID: "small", SourceImageID: image, State: model.VMCreating},
			task(model.KindVM, id)))
	}
	vm("vm-public", "public")
	vm("vm-other", "other")
	vm("vm-shared", "shared")
	must(s.CreateDisk(ctx, &model.PersistentDisk{ID: "disk", Name: "disk", TenantID: "a", ProjectID: "p1", State: model.DiskCreating}, task(model.KindDisk, "disk")))
	must(s.CreateRouter(ctx, &model.Router{ID: "router", Name: "r", TenantID: "a", ProjectID: "p2", State: model.NetCreating}, task(model.KindRouter, "router")))
	must(s.CreatePortGroupSubnet(ctx, &model.Subnet{ID: "pg", Name: "pg", State: model.NetReady}, task(model.KindSubnet, "pg")))

	root := model.Caller{Subject: "root", Groups: []string{policy.SystemAdminsGroup}}
	admin := model.Caller{Subject: "al", Groups: []string{"a\\admins"}}
	pat := model.Caller{Subject: "pat", Groups: []string{"a\\p1"}}
	quinn := model.Caller{Subject: "quinn", Groups: []string{"a\\p2"}}
	cases := []struct {
		name   string
		chain  *events.Chain
		entity string
		who    model.Caller
		allow  bool
	}{
		{"project user creates a VM of a public image", &events.VMCreate, "vm-public", pat, true},
		{"other project's user", &events.VMCreate, "vm-public", quinn, false},
		{"image of another project", &events.VMCreate, "vm-other", pat, false},
		{"even for the tenant admin", &events.VMCreate, "vm-other", admin, false},
		{"image shared by its IAM policy", &events.VMCreate, "vm-shared", pat, true},
		{"deletes a VM", &events.VMDelete, "vm-public", pat, true},
		{"disk of own project", &events.DiskDelete, "disk", pat, true},
		{"disk of another project", &events.DiskDelete, "disk", quinn, false},
		{"router of another project", &events.RouterCreate, "router", pat, false},
		{"router of own project", &events.RouterDelete, "router", quinn, true},
		{"port-group subnet, project user", &events.SubnetDelete, "pg", pat, false},
		{"port-group subnet, system admin", &events.SubnetDelete, "pg", root, true},
		{"public image delete, tenant admin", &events.ImageDelete, "public", admin, false},
		{"public image delete, system admin", &events.ImageDelete, "public", root, true},
		{"project image delete, project user", &events.ImageDelete, "own", pat, false},
		{"project image delete, tenant admin", &events.ImageDelete, "own", admin, true},
		{"project image delete, its IAM owner", &events.ImageDelete, "mine", pat, true},
		{"project image create, project user", &events.ImageCreate, "own", pat, true},
		{"public image create, tenant admin", &events.ImageCreate, "public", admin, false},
	}
	f := authorize.New(s)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tk := s.NewTask("", string(tc.chain.Operation), model.Entity{ID: tc.entity, Kind: tc.chain.Kind}, tc.who, nil)
			err := f.Do(ctx, &runtime.Call{Task: tk, Chain: tc.chain, Data: events.StepData{TaskID: tk.ID, EntityID: tc.entity}})
			if tc.allow && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.allow && !errors.Is(err, errs.ErrForbidden) {
				t.Fatalf("got %v, want AccessForbidden", err)
			}
		})
	}
}
