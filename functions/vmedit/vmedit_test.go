package vmedit_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// TestVMEdit: the task's metadata or tag lands on the VM's record, the host is never
// asked, a replay adds nothing, and a malformed change fails the task leaving the VM as
// it was.
func TestVMEdit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		chain    *events.Chain
		props    map[string]string
		want     string
		wantMeta map[string]string
		wantTags []string
	}{
		{"set metadata", &events.VMSetMetadata, map[string]string{model.PropMetadata: `{"owner":"pat"}`}, steptest.Done,
			map[string]string{"owner": "pat"}, []string{"old"}},
		{"malformed metadata", &events.VMSetMetadata, map[string]string{model.PropMetadata: `{`}, steptest.Failed(errs.CodeInvalidEntity),
			map[string]string{"was": "here"}, []string{"old"}},
		{"add a tag", &events.VMAddTag, map[string]string{model.PropTag: "web"}, steptest.Done,
			map[string]string{"was": "here"}, []string{"old", "web"}},
		{"add a tag it has", &events.VMAddTag, map[string]string{model.PropTag: "old"}, steptest.Done,
			map[string]string{"was": "here"}, []string{"old"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			task := e.NewTask(tc.chain, "vm-1", steptest.Root, tc.props)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMStarted, Tags: []string{"old"},
				Metadata: map[string]string{"was": "here"}}, task)
			e.Place(t, "vm-1", h)
			for try := range 2 { // the second is a replay
				reply, err := e.Do(t, tc.chain, task, 1)
				if got := e.Outcome(t, tc.chain, task, 1, reply, err); got != tc.want {
					t.Fatalf("try %d: outcome %s, want %s", try, got, tc.want)
				}
				vm := e.GetVM(t, "vm-1")
				if !maps.Equal(vm.Metadata, tc.wantMeta) || !slices.Equal(vm.Tags, tc.wantTags) {
					t.Fatalf("try %d: VM metadata %v tags %v, want %v %v", try, vm.Metadata, vm.Tags, tc.wantMeta, tc.wantTags)
				}
				if vm.ActiveTask != "" {
					t.Fatalf("VM still held by %s", vm.ActiveTask)
				}
			}
			if got := h.Methods(); len(got) != 0 {
				t.Fatalf("host calls %v", got)
			}
		})
	}
}
