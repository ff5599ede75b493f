package policy

import (
	"slices"
	"testing"

	"github.com/photon-cloud/photon/shared/model"
)

func TestMayUseProject(t *testing.T) {
	ten := &model.Tenant{ID: "a", SecurityGroups: []string{"a\\admins"}}
	p1 := &model.Project{ID: "p1", TenantID: "a", SecurityGroups: []string{"a\\p1users"}}
	p2 := &model.Project{ID: "p2", TenantID: "a", SecurityGroups: []string{"a\\p2users"}}
	cases := []struct {
		name    string
		groups  []string
		project *model.Project
		want    bool
	}{
		{"system admin", []string{SystemAdminsGroup}, p1, true},
		{"tenant admin", []string{"a\\admins"}, p2, true},
		{"project user in own project", []string{"a\\p1users"}, p1, true},
		{"project user in other project", []string{"a\\p1users"}, p2, false},
		{"no groups", nil, p1, false},
		{"other tenant's admin", []string{"b\\admins"}, p1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MayUseProject(model.Caller{Subject: "u", Groups: tc.groups}, ten, tc.project); got != tc.want {
				t.Fatalf("MayUseProject = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWithSystemGroups(t *testing.T) {
	system := []string{"corp\\cloud-ops"}
	cases := []struct {
		name   string
		groups []string
		admin  bool
	}{
		{"member of a system group", []string{"corp\\dev", "corp\\cloud-ops"}, true},
		{"built-in administrators stay admins", []string{SystemAdminsGroup}, true},
		{"other groups", []string{"corp\\dev"}, false},
		{"no groups", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := WithSystemGroups(tc.groups, system)
			if IsSystemAdmin(model.Caller{Groups: got}) != tc.admin {
				t.Fatalf("groups %v → %v: admin %v, want %v", tc.groups, got, !tc.admin, tc.admin)
			}
		})
	}
	t.Run("input not changed", func(t *testing.T) {
		in := make([]string, 1, 4)
		in[0] = "corp\\cloud-ops"
		_ = WithSystemGroups(in, system)
		if in[:2][1] != "" {
			t.Fatalf("WithSystemGroups wrote into its argument's spare capacity")
		}
	})
}

func TestMaySetGroups(t *testing.T) {
	ten := &model.Tenant{ID: "a", SecurityGroups: []string{"a\\admins"}}
	cases := []struct {
		name            string
		groups          []string
		tenant, project bool
	}{
		{"system admin", []string{SystemAdminsGroup}, true, true},
		{"tenant admin", []string{"a\\admins"}, false, true},
		{"project user", []string{"a\\p1users"}, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := model.Caller{Subject: "u", Groups: tc.groups}
			if MaySetTenantGroups(c) != tc.tenant || MaySetProjectGroups(c, ten) != tc.project {
				t.Fatalf("tenant %v project %v, want %v %v", MaySetTenantGroups(c), MaySetProjectGroups(c, ten), tc.tenant, tc.project)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	ten := &model.Tenant{ID: "a", SecurityGroups: []string{"a\\admins"}, IAM: []model.PolicyEntry{
		{Principal: "carol", Roles: []string{model.RoleViewer}},
		{Principal: "a\\ops", Roles: []string{model.RoleContributor}},
		{Principal: "dave", Roles: []string{model.RoleOwner}},
	}}
	p1 := &model.Project{ID: "p1", TenantID: "a", SecurityGroups: []string{"a\\p1users"}, IAM: []model.PolicyEntry{
		{Principal: "erin", Roles: []string{model.RoleViewer, model.RoleOwner}},
		{Principal: "a\\auditors", Roles: []string{model.RoleViewer}},
	}}
	p2 := &model.Project{ID: "p2", TenantID: "a"}
	public := &model.Image{ID: "pub"}
	own := &model.Image{ID: "own", ProjectID: "p1", TenantID: "a"}
	shared := &model.Image{ID: "shared", ProjectID: "p1", TenantID: "a", IAM: []model.PolicyEntry{
		{Principal: "frank", Roles: []string{model.RoleContributor}}}}
	cases := []struct {
		name                 string
		subject              string
		groups               []string
		tenant, proj1, proj2 Role
		pub, own, shared     Role
	}{
		{"system admin", "root", []string{SystemAdminsGroup}, Owner, Owner, Owner, Owner, Owner, Owner},
		{"tenant admin by group", "al", []string{"a\\admins"}, Owner, Owner, Owner, Contributor, Owner, Owner},
		{"tenant owner by IAM", "dave", nil, Owner, Owner, Owner, Contributor, Owner, Owner},
		{"tenant contributor by IAM group", "ops1", []string{"a\\ops"}, Contributor, Contributor, Contributor, Contributor, Contributor, Contributor},
		{"tenant viewer by IAM", "carol", nil, Viewer, Viewer, Viewer, Contributor, Viewer, Viewer},
		{"project user by group", "bob", []string{"a\\p1users"}, None, Contributor, None, Contributor, Contributor, Contributor},
		{"project owner by IAM", "erin", nil, None, Owner, None, Contributor, Owner, Owner},
		{"project viewer by IAM group", "ann", []string{"a\\auditors"}, None, Viewer, None, Contributor, Viewer, Viewer},
		{"image shared by IAM", "frank", nil, None, None, None, Contributor, None, Contributor},
		{"stranger", "zed", []string{"b\\admins"}, None, None, None, Contributor, None, None},
		{"group named like a user", "x", []string{"dave"}, Owner, Owner, Owner, Contributor, Owner, Owner},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := model.Caller{Subject: tc.subject, Groups: tc.groups}
			got := []Role{TenantRole(c, ten), ProjectRole(c, ten, p1), ProjectRole(c, ten, p2),
				ImageRole(c, public, nil, nil), ImageRole(c, own, ten, p1), ImageRole(c, shared, ten, p1)}
			want := []Role{tc.tenant, tc.proj1, tc.proj2, tc.pub, tc.own, tc.shared}
			if !slices.Equal(got, want) {
				t.Fatalf("tenant, p1, p2, public, own, shared image roles = %v, want %v", got, want)
			}
			if MayUseProject(c, ten, p1) != (tc.proj1 >= Contributor) || MaySeeProject(c, ten, p1) != (tc.proj1 >= Viewer) ||
				IsTenantAdmin(c, ten) != (tc.tenant == Owner) || MaySeeTenant(c, ten) != (tc.tenant >= Viewer) ||
				MayUseImage(c, shared, ten, p1, "p1") != (tc.shared >= Contributor) ||
				MayUseImage(c, shared, ten, p1, "p2") != (tc.subject == "frank") {
				t.Fatal("a May* answer disagrees with the role")
			}
		})
	}
}
