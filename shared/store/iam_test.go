package store_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

func TestPolicyChanges(t *testing.T) {
	base := []store.PolicyEntry{{Principal: "bob", Roles: []string{"viewer"}}, {Principal: "acme\\ops", Roles: []string{"owner", "viewer"}}}
	cases := []struct {
		name                   string
		principal, action, rol string
		want                   []store.PolicyEntry
		invalid                bool
	}{
		{"add a role", "bob", "ADD", "contributor", []store.PolicyEntry{{"bob", []string{"viewer", "contributor"}}, {"acme\\ops", []string{"owner", "viewer"}}}, false},
		{"add to a new principal, case-insensitive", " carol ", "add", "Owner", append(base, store.PolicyEntry{"carol", []string{"owner"}}), false},
		{"add what is there", "bob", "ADD", "viewer", base, false},
		{"remove one role", "acme\\ops", "REMOVE", "viewer", []store.PolicyEntry{{"bob", []string{"viewer"}}, {"acme\\ops", []string{"owner"}}}, false},
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
			got, err := store.ApplyPolicyDelta(base, tc.principal, tc.action, tc.rol)
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

func TestChangePolicy(t *testing.T) {
	s := storetest.New(t)
	ctx := t.Context()
	ten := &store.Tenant{ID: "t1", Name: "acme"}
	if err := s.CreateTenantWithQuota(ctx, ten, nil, s.NewTask("", "CREATE_TENANT", store.Entity{ID: "t1", Kind: store.KindTenant}, store.Caller{}, nil)); err != nil {
		t.Fatal(err)
	}
	set := func(in []store.PolicyEntry) func([]store.PolicyEntry) ([]store.PolicyEntry, error) {
		return func([]store.PolicyEntry) ([]store.PolicyEntry, error) { return store.CleanPolicy(in) }
	}
	allow := func(*store.Tenant) error { return nil }
	refuse := func(*store.Tenant) error { return errs.New(errs.CodeAccessForbidden, "no") }
	task := func() *store.Task {
		return s.NewTask("", "SET_IAM_POLICY", store.Entity{ID: "t1", Kind: store.KindTenant}, store.Caller{Subject: "root"}, nil)
	}
	want := []store.PolicyEntry{{Principal: "bob", Roles: []string{"owner"}}}
	if _, err := store.ChangePolicy[store.Tenant](ctx, s, store.KindTenant, "t1", task(), allow, set(want)); err != nil {
		t.Fatal(err)
	}
	refused := task()
	if _, err := store.ChangePolicy[store.Tenant](ctx, s, store.KindTenant, "t1", refused, refuse, set(nil)); !errors.Is(err, errs.ErrForbidden) {
		t.Fatalf("refused change: %v", err)
	}
	if _, err := store.ChangePolicy[store.Tenant](ctx, s, store.KindTenant, "t1", task(), allow,
		set([]store.PolicyEntry{{Principal: "x", Roles: []string{"god"}}})); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("invalid change: %v", err)
	}
	got, err := store.Get[store.Tenant](ctx, s, store.KindTenant, "t1")
	if err != nil || !reflect.DeepEqual(got.IAM, want) {
		t.Fatalf("policy %v, %v; want %v (refused and invalid changes write nothing)", got.IAM, err, want)
	}
	if _, err := s.GetTask(ctx, refused.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("a refused change wrote its task: %v", err)
	}
}
