package functions_test

import (
	"errors"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// How a test ends a chain: its last step completes, authorize refuses the caller (the
// chain fails with nothing to undo), or the last undo of a failed chain runs.
const (
	complete = "complete"
	refuse   = "refuse"
	undo     = "undo"
)

// TestVMChainEnds: what each VM and disk chain's end makes of the records it held. A
// chain always releases what it held; a failed create or delete leaves its entity ERROR
// (for the user to delete, or to try the delete again); a completed delete removes the
// VM and detaches its persistent disks; the other operations leave the state their step
// recorded.
func TestVMChainEnds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		chain     *events.Chain
		end       string
		props     map[string]string
		vmState   string
		want      string // the VM's state after, "" when it is gone
		wantDisk  string // pd-1's state after
		diskHeld  bool   // the chain holds pd-1 too
		diskChain bool   // the chain is pd-1's
	}{
		{name: "create completes", chain: &events.VMCreate, end: complete, vmState: model.VMCreating, want: model.VMStopped,
			wantDisk: model.DiskAttached},
		{name: "create fails", chain: &events.VMCreate, end: undo, vmState: model.VMCreating, want: model.VMError,
			wantDisk: model.DiskAttached},
		{name: "delete completes", chain: &events.VMDelete, end: complete, vmState: model.VMDeleting, want: "",
			wantDisk: model.DiskDetached},
		{name: "delete refused", chain: &events.VMDelete, end: refuse, vmState: model.VMDeleting, want: model.VMError,
			wantDisk: model.DiskAttached},
		{name: "attach refused", chain: &events.VMAttachDisk, end: refuse, props: map[string]string{model.PropDiskID: "pd-1"},
			vmState: model.VMStopped, want: model.VMStopped, wantDisk: model.DiskAttached, diskHeld: true},
		{name: "disk create refused", chain: &events.DiskCreate, end: refuse, vmState: model.VMStarted, want: model.VMStarted,
			wantDisk: model.DiskError, diskChain: true},
		{name: "disk delete refused", chain: &events.DiskDelete, end: refuse, vmState: model.VMStarted, want: model.VMStarted,
			wantDisk: model.DiskError, diskChain: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			caller := steptest.Root
			if tc.end == refuse {
				caller = steptest.Stranger
			}
			entity := "vm-1"
			if tc.diskChain {
				entity = "pd-1"
			}
			task := e.NewTask(tc.chain, entity, caller, tc.props)
			vmHolder, diskHolder := task, (*model.Task)(nil) // the task is written with its holder
			if tc.diskChain {
				vmHolder, diskHolder = nil, task
			}
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: tc.vmState,
				Disks: []model.Disk{{ID: "pd-1", Name: "pd-1", Kind: model.FlavorPersistentDisk}}}, vmHolder)
			e.Disk(t, &model.PersistentDisk{ID: "pd-1", Name: "pd-1", State: model.DiskAttached, VMs: []string{"vm-1"}}, diskHolder)
			if tc.diskHeld { // an attach or detach holds the disk too
				if _, err := store.Update(t.Context(), e.Store, model.KindDisk, "pd-1", func(d *model.PersistentDisk) error {
					d.ActiveTask = task.ID
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}

			switch tc.end {
			case complete:
				e.MustDo(t, tc.chain, task, len(tc.chain.Steps)-1)
			case refuse:
				r, derr := e.Do(t, tc.chain, task, 0)
				if got := e.Outcome(t, tc.chain, task, 0, r, derr); got != steptest.Failed(errs.CodeAccessForbidden) {
					t.Fatalf("authorize: %s", got)
				}
			case undo:
				first := tc.chain.UndoFrom(len(tc.chain.Steps)-1, true)
				for i := first; i >= 0; i = tc.chain.UndoFrom(i, false) {
					if _, err := e.Undo(t, tc.chain, task, i, errs.New(errs.CodeHostError, "failed")); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tk := e.Task(t, task.ID); !tk.Done() {
				t.Fatalf("task %s", tk.State)
			}
			vm, err := store.Get[model.VM](t.Context(), e.Store, model.KindVM, "vm-1")
			switch {
			case tc.want == "" && !errors.Is(err, errs.ErrNotFound):
				t.Fatalf("VM still there: %v", err)
			case tc.want != "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && (vm.State != tc.want || vm.ActiveTask != ""):
				t.Fatalf("VM %s held by %q, want %s released", vm.State, vm.ActiveTask, tc.want)
			}
			disk, err := store.Get[model.PersistentDisk](t.Context(), e.Store, model.KindDisk, "pd-1")
			if err != nil {
				t.Fatal(err)
			}
			if disk.State != tc.wantDisk || disk.ActiveTask != "" {
				t.Fatalf("disk %s held by %q, want %s released", disk.State, disk.ActiveTask, tc.wantDisk)
			}
		})
	}
}
