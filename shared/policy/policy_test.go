package policy

import (
	"testing"

	"github.com/photon-cloud/photon/shared/store"
)

func TestMayUseProject(t *testing.T) {
	ten := &store.Tenant{ID: "a", SecurityGroups: []string{"a\\admins"}}
	p1 := &store.Project{ID: "p1", TenantID: "a", SecurityGroups: []string{"a\\p1users"}}
	p2 := &store.Project{ID: "p2", TenantID: "a", SecurityGroups: []string{"a\\p2users"}}
	cases := []struct {
		name    string
		groups  []string
		project *store.Project
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
			if got := MayUseProject(store.Caller{Subject: "u", Groups: tc.groups}, ten, tc.project); got != tc.want {
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
			if IsSystemAdmin(store.Caller{Groups: got}) != tc.admin {
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
	ten := &store.Tenant{ID: "a", SecurityGroups: []string{"a\\admins"}}
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
			c := store.Caller{Subject: "u", Groups: tc.groups}
			if MaySetTenantGroups(c) != tc.tenant || MaySetProjectGroups(c, ten) != tc.project {
				t.Fatalf("tenant %v project %v, want %v %v", MaySetTenantGroups(c), MaySetProjectGroups(c, ten), tc.tenant, tc.project)
			}
		})
	}
}
