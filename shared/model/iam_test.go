package model

import (
	"errors"
	"reflect"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
)

func TestPolicyChanges(t *testing.T) {
	base := []PolicyEntry{{Principal: "bob", Roles: []string{"viewer"}}, {Principal: "acme\\ops", Roles: []string{"owner", "viewer"}}}
	cases := []struct {
		name                   string
		principal, action, rol string
		want                   []PolicyEntry
		invalid                bool
	}{
		{"add a role", "bob", "ADD", "contributor", []PolicyEntry{{"bob", []string{"viewer", "contributor"}}, {"acme\\ops", []string{"owner", "viewer"}}}, false},
		{"add to a new principal, case-insensitive", " carol ", "add", "Owner", append(base, PolicyEntry{"carol", []string{"owner"}}), false},
		{"add what is there", "bob", "ADD", "viewer", base, false},
		{"remove one role", "acme\\ops", "REMOVE", "viewer", []PolicyEntry{{"bob", []string{"viewer"}}, {"acme\\ops", []string{"owner"}}}, false},
		{"remove the last role drops the entry", "bob", "REMOVE", "viewer", base[1:], false},
		{"remove all", "acme\\ops", "REMOVE", "*", base[:1], false},
		{"remove from nobody", "zed", "REMOVE", "owner", base, false},
		{"unknown role", "bob", "ADD", "god", nil, true},
		{"unknown action", "bob", "GRANT", "owner", nil, true},
		{"no principal", " ", "ADD", "owner", nil, true},
		{"* only removes", "bob", "ADD", "*", nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ApplyPolicyDelta(base, tc.principal, tc.action, tc.rol)
			if tc.invalid {
				var e *errs.Error
				if !errors.As(err, &e) || e.Code != errs.CodeInvalidEntity {
					t.Fatalf("got %v, %v; want InvalidEntity", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if base[0].Roles[0] != "viewer" || len(base[0].Roles) != 1 {
		t.Fatalf("ApplyPolicyDelta changed its argument: %v", base)
	}
}
