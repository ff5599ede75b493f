package store_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

func TestChangePolicy(t *testing.T) {
	s := storetest.New(t)
	ctx := t.Context()
	ten := &model.Tenant{ID: "t1", Name: "acme"}
	if err := s.CreateTenantWithQuota(ctx, ten, nil, s.NewTask("", "CREATE_TENANT", model.Entity{ID: "t1", Kind: model.KindTenant}, model.Caller{}, nil)); err != nil {
		t.Fatal(err)
	}
	set := func(in []model.PolicyEntry) func([]model.PolicyEntry) ([]model.PolicyEntry, error) {
		return func([]model.PolicyEntry) ([]model.PolicyEntry, error) { return model.CleanPolicy(in) }
	}
	allow := func(*model.Tenant) error { return nil }
	refuse := func(*model.Tenant) error { return errs.New(errs.CodeAccessForbidden, "no") }
	task := func() *model.Task {
		return s.NewTask("", "SET_IAM_POLICY", model.Entity{ID: "t1", Kind: model.KindTenant}, model.Caller{Subject: "root"}, nil)
	}
	want := []model.PolicyEntry{{Principal: "bob", Roles: []string{"owner"}}}
	if _, err := store.ChangePolicy[model.Tenant](ctx, s, model.KindTenant, "t1", task(), allow, set(want)); err != nil {
		t.Fatal(err)
	}
	refused := task()
	if _, err := store.ChangePolicy[model.Tenant](ctx, s, model.KindTenant, "t1", refused, refuse, set(nil)); !errors.Is(err, errs.ErrForbidden) {
		t.Fatalf("refused change: %v", err)
	}
	if _, err := store.ChangePolicy[model.Tenant](ctx, s, model.KindTenant, "t1", task(), allow,
		set([]model.PolicyEntry{{Principal: "x", Roles: []string{"god"}}})); !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("invalid change: %v", err)
	}
	got, err := store.Get[model.Tenant](ctx, s, model.KindTenant, "t1")
	if err != nil || !reflect.DeepEqual(got.IAM, want) {
		t.Fatalf("policy %v, %v; want %v (refused and invalid changes write nothing)", got.IAM, err, want)
	}
	if _, err := s.GetTask(ctx, refused.ID); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("a refused change wrote its task: %v", err)
	}
}
