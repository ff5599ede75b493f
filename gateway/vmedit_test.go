package gateway_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/store"
)

// TestVMEditsAnswerCompleted sets a VM's tags and metadata as Photon did: the answer is a
// COMPLETED task, the change is in the next read, a second call right after is accepted
// (the first holds nothing), subscribers hear task.completed; a caller who only sees the
// VM, or a VM another task holds, is refused and nothing is written.
func TestVMEditsAnswerCompleted(t *testing.T) {
	ctx := t.Context()
	h := newHarness(t)
	sv, err := notify.Start(ctx, h.rdb, h.s.Prefix(), h.s, notify.Options{Sinks: &egress.Policy{Allow: egress.Loopback},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sv.Close(ctx) })
	w := h.world(t)
	// The world's VM waits for its create chain, which does not run here: settle it, and
	// let quinn (a user of another project) see it through its own policy.
	settle := func(holder string) {
		t.Helper()
		if _, err := store.Update(ctx, h.s, model.KindVM, w.vm, func(v *model.VM) error {
			v.State, v.ActiveTask = model.VMStarted, holder
			v.IAM = []model.PolicyEntry{{Principal: "quinn", Roles: []string{model.RoleViewer}}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	tag := func(v string) (string, proto.Message) {
		return m("Vms", "AddVmTag"), &pb.AddVmTagRequest{Id: w.vm, Tag: &pb.VmTag{Value: v}}
	}
	metadata := func(md map[string]string) (string, proto.Message) {
		return m("Vms", "SetVmMetadata"), &pb.SetVmMetadataRequest{Id: w.vm, Metadata: &pb.VmMetadata{Metadata: md}}
	}
	cases := []struct {
		name   string
		who    string
		holder string // the task holding the VM, if any
		method string
		req    proto.Message
		op     string
		code   string   // the refusal, a Photon error code; "" for none
		tags   []string // the VM's after
		md     map[string]string
	}{
		{name: "add a tag", who: userA1, op: "ADD_TAG", tags: []string{"web"}},
		{name: "add another at once", who: userA1, op: "ADD_TAG", tags: []string{"web", "blue"}},
		{name: "add one it has", who: userA1, op: "ADD_TAG", tags: []string{"web", "blue"}},
		{name: "set metadata", who: userA1, op: "SET_METADATA", tags: []string{"web", "blue"}, md: map[string]string{"owner": "pat"}},
		{name: "replace it at once", who: sys, op: "SET_METADATA", tags: []string{"web", "blue"}, md: map[string]string{"tier": "1"}},
		{name: "a viewer may not tag", who: userA2, op: "ADD_TAG", code: errs.CodeAccessForbidden,
			tags: []string{"web", "blue"}, md: map[string]string{"tier": "1"}},
		{name: "a viewer may not set metadata", who: userA2, op: "SET_METADATA", code: errs.CodeAccessForbidden,
			tags: []string{"web", "blue"}, md: map[string]string{"tier": "1"}},
		{name: "a held VM is not tagged", who: userA1, holder: "task-other", op: "ADD_TAG", code: errs.CodeConcurrentTask,
			tags: []string{"web", "blue"}, md: map[string]string{"tier": "1"}},
		{name: "a held VM's metadata stays", who: userA1, holder: "task-other", op: "SET_METADATA", code: errs.CodeConcurrentTask,
			tags: []string{"web", "blue"}, md: map[string]string{"tier": "1"}},
	}
	for i := range cases {
		tc := &cases[i]
		switch {
		case tc.op == "ADD_TAG" && tc.code == "":
			tc.method, tc.req = tag(tc.tags[len(tc.tags)-1])
		case tc.op == "ADD_TAG":
			tc.method, tc.req = tag("refused")
		case tc.code == "":
			tc.method, tc.req = metadata(tc.md)
		default:
			tc.method, tc.req = metadata(map[string]string{"refused": "x"})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			settle(tc.holder)
			before, err := h.s.ListTasks(ctx, w.vm, 1000, "")
			if err != nil {
				t.Fatal(err)
			}
			out, err := h.invoke(t, tc.who, tc.method, tc.req)
			switch {
			case tc.code != "" && (err == nil || errs.FromStatus(status.Convert(err)).Code != tc.code):
				t.Fatalf("got %v, want %s", err, tc.code)
			case tc.code == "" && err != nil:
				t.Fatal(err)
			}
			got, err := h.invoke(t, sys, m("Vms", "GetVm"), &pb.IdRequest{Id: w.vm})
			if err != nil {
				t.Fatal(err)
			}
			if vm := got.(*pb.Vm); !slices.Equal(vm.GetTags(), tc.tags) || !maps.Equal(vm.GetMetadata(), tc.md) {
				t.Fatalf("VM has tags %q, metadata %v; want %q, %v", vm.GetTags(), vm.GetMetadata(), tc.tags, tc.md)
			}
			after, err := h.s.ListTasks(ctx, w.vm, 1000, "")
			if err != nil {
				t.Fatal(err)
			}
			if tc.code != "" {
				if len(after.Items) != len(before.Items) {
					t.Fatalf("a refused call wrote a task: %d tasks, %d before", len(after.Items), len(before.Items))
				}
				return
			}
			task := out.(*pb.Task)
			if task.GetState() != model.TaskCompleted || task.GetOperation() != tc.op || len(task.GetSteps()) != 0 {
				t.Fatalf("answered %s %s with %d steps, want %s COMPLETED", task.GetOperation(), task.GetState(), len(task.GetSteps()), tc.op)
			}
			if stored := mustTask(t, h.s, task.GetId()); stored.State != model.TaskCompleted || stored.Entity.ID != w.vm {
				t.Fatalf("stored task %s on %s", stored.State, stored.Entity.ID)
			}
			poll(t, "task.completed for "+task.GetId(), func() bool { return completedEvent(t, h, task.GetId(), tc.op, w.vm) })
		})
	}
}

// completedEvent reports whether the outbound events hold task.completed for task id,
// naming its operation op and its entity, VM vm.
func completedEvent(t *testing.T, h *harness, id, op, vm string) bool {
	t.Helper()
	msgs, err := h.rdb.XRange(t.Context(), notify.EventsStream(h.s.Prefix()), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range msgs {
		if msg.Values["type"] != notify.TypeTaskCompleted {
			continue
		}
		var ce struct {
			Data notify.Data `json:"data"`
		}
		if err := json.Unmarshal([]byte(msg.Values["ce"].(string)), &ce); err != nil {
			t.Fatal(err)
		}
		if ce.Data.ID == id {
			if ce.Data.Operation != op || ce.Data.Entity == nil || ce.Data.Entity.ID != vm {
				t.Fatalf("task.completed for %s: %+v", id, ce.Data)
			}
			return true
		}
	}
	return false
}
