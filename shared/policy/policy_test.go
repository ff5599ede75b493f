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
