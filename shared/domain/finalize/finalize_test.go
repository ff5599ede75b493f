package finalize_test

import (
	"errors"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// gone is the state wanted of an entity whose record the end removes.
const gone = "gone"

// TestChainEnds runs the finalizer each chain names on a VM (STARTED, with an attached
// persistent disk) or a disk held by the chain's task, completed and failed, and checks
// what the end leaves: the state, the hold released, the record gone.
func TestChainEnds(t *testing.T) {
	cases := []struct {
		chain     *events.Chain
		completed bool
		wantVM    string // "" when the chain is not on a VM
		wantDisk  string
	}{
		{&events.VMCreate, true, model.VMStarted, model.DiskAttached},
		{&events.VMCreate, false, model.VMError, model.DiskAttached},
		{&events.VMDelete, true, gone, model.DiskDetached},
		{&events.VMDelete, false, model.VMError, model.DiskAttached},
		{&events.VMStop, false, model.VMStarted, model.DiskAttached},
		{&events.VMResize, true, model.VMStarted, model.DiskAttached},
		{&events.VMAttachDisk, true, model.VMStarted, model.DiskAttached},
		{&events.VMDetachDisk, false, model.VMStarted, model.DiskAttached},
		{&events.DiskCreate, true, "", model.DiskAttached},
		{&events.DiskCreate, false, "", model.DiskError},
		{&events.DiskDelete, true, "", gone},
		{&events.DiskDelete, false, "", model.DiskError},
	}
	for _, tc := range cases {
		name := string(tc.chain.Name) + map[bool]string{true: " completed", false: " failed"}[tc.completed]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := storetest.New(t)
			setup := func(id string) *model.Task {
				return s.NewTask("t-"+id, "CREATE", model.Entity{ID: id}, model.Caller{}, nil)
			}
			if err := s.CreateTenant(ctx, &model.Tenant{ID: "a", Name: "a"}, setup("a")); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateProject(ctx, &model.Project{ID: "p", TenantID: "a", Name: "p"}, setup("p")); err != nil {
				t.Fatal(err)
			}
			onVM := tc.wantVM != ""
			entity := model.Entity{ID: "vm-1", Kind: model.KindVM}
			if !onVM {
				entity = model.Entity{ID: "pd-1", Kind: model.KindDisk}
			}
			task := s.NewTask("task-1", string(tc.chain.Operation), entity, model.Caller{}, nil)
			task.Properties = map[string]string{model.PropDiskID: "pd-1"}
			held := func(kind string) string {
				if kind == entity.Kind || tc.chain == &events.VMAttachDisk || tc.chain == &events.VMDetachDisk {
					return task.ID
				}
				return ""
			}
			vm := &model.VM{ID: "vm-1", Name: "vm-1", TenantID: "a", ProjectID: "p", State: model.VMStarted, ActiveTask: held(model.KindVM),
				Disks: []model.Disk{{ID: "pd-1", Kind: model.FlavorPersistentDisk}}}
			if err := s.CreateVM(ctx, vm, setup("vm-1")); err != nil {
				t.Fatal(err)
			}
			d := &model.PersistentDisk{ID: "pd-1", Name: "pd-1", TenantID: "a", ProjectID: "p", State: model.DiskAttached,
				VMs: []string{"vm-1"}, ActiveTask: held(model.KindDisk)}
			if err := s.CreateDisk(ctx, d, setup("pd-1")); err != nil {
				t.Fatal(err)
			}

			var err error
			if tc.completed {
				err = tc.chain.Finalizer.Completed(ctx, s, tc.chain.Name, task)
			} else {
				err = tc.chain.Finalizer.Failed(ctx, s, tc.chain.Name, task, errs.New(errs.CodeHostError, "injected"))
			}
			if err != nil {
				t.Fatal(err)
			}
			if onVM {
				got, err := store.Get[model.VM](ctx, s, model.KindVM, "vm-1")
				checkEnd(t, "VM", tc.wantVM, err, func() (string, string) { return got.State, got.ActiveTask })
			}
			got, err := store.Get[model.PersistentDisk](ctx, s, model.KindDisk, "pd-1")
			checkEnd(t, "disk", tc.wantDisk, err, func() (string, string) { return got.State, got.ActiveTask })
		})
	}
}

// checkEnd checks an entity after its chain's end: gone, or in state want and held by no
// task.
func checkEnd(t *testing.T, what, want string, err error, read func() (state, task string)) {
	t.Helper()
	if want == gone {
		if !errors.Is(err, errs.ErrNotFound) {
			t.Fatalf("%s still there: %v", what, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if state, task := read(); state != want || task != "" {
		t.Fatalf("%s is %s held by %q, want %s held by none", what, state, task, want)
	}
}
