package gateway_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/notify/rules"
)

// TestRules: a rule acts on the outbound events of its project as its owner, within its
// rate, and not on events caused too deep in a chain of rules.
func TestRules(t *testing.T) {
	h := newHarness(t)
	w := h.world(t)
	ctx := t.Context()
	en, err := rules.Start(ctx, h.rdb, h.s.Prefix(), h.s, h.gw, rules.Options{Block: 20 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { en.Close(context.WithoutCancel(ctx)) })
	out, err := h.invoke(t, userA1, m("Rules", "CreateRule"), &pb.CreateRuleRequest{ProjectId: w.p1, Spec: &pb.RuleSpec{
		Name:         "disk-for-failed-vm",
		Filter:       &pb.RuleFilter{Types: []string{"io.photon.vm.*"}, Data: map[string]string{"state": "ERROR"}},
		MaxPerMinute: 3,
		Actions: []*pb.RuleAction{{Type: "io.photon.disk.create.requested", Subject: "{{.Ext.projectid}}",
			Data: `{"name":"for-{{.Data.name}}","kind":"persistent-disk","flavor":"pd","capacityGb":1}`}},
	}})
	if err != nil || out.(*pb.Task).GetState() != "COMPLETED" {
		t.Fatalf("create rule: %v %v", out, err)
	}
	if err := h.s.RuleCause(ctx, "deep-task", rules.MaxDepth); err != nil {
		t.Fatal(err)
	}
	send := func(id, typ, project, task, name, state string) {
		t.Helper()
		ce, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "photon/test", "type": typ,
			"subject": w.vm, "projectid": project, "taskid": task, "datacontenttype": "application/json",
			"data": map[string]any{"name": name, "state": state}})
		if err := h.rdb.XAdd(ctx, &redis.XAddArgs{Stream: notify.EventsStream(h.s.Prefix()), Values: []any{"ce", string(ce)}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	disks := func() []string {
		out, err := h.invoke(t, sys, m("Disks", "ListDisks"), &pb.ListDisksRequest{ProjectId: w.p1})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, d := range out.(*pb.DiskList).GetItems() {
			names = append(names, d.GetName())
		}
		slices.Sort(names)
		return names
	}
	waitFor := func(name string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !slices.Contains(disks(), name); {
			if time.Now().After(deadline) {
				t.Fatalf("no disk %s: %v", name, disks())
			}
		}
	}
	send("e1", "io.photon.vm.error", w.p1, "", "a", "ERROR")          // fires
	send("e2", "io.photon.vm.error", w.p2, "", "other", "ERROR")      // another project: not its event
	send("e3", "io.photon.vm.stopped", w.p1, "", "b", "STOPPED")      // data does not match
	send("e4", "io.photon.vm.error", w.p1, "deep-task", "c", "ERROR") // too deep
	send("e5", "io.photon.vm.error", w.p1, "", "d", "ERROR")          // fires
	waitFor("for-d")
	if got, want := disks(), []string{"d", "for-a", "for-d"}; !slices.Equal(got, want) {
		t.Fatalf("disks %v, want %v", got, want)
	}
	send("e6", "io.photon.vm.error", w.p1, "", "e", "ERROR") // fires: its third this minute
	send("e7", "io.photon.vm.error", w.p1, "", "f", "ERROR") // over its rate
	waitFor("for-e")
	// The marker: a rule with room left, on an event after e7, fires.
	h.must(t, m("Rules", "CreateRule"), &pb.CreateRuleRequest{ProjectId: w.p1, Spec: &pb.RuleSpec{Name: "marker",
		Filter:  &pb.RuleFilter{Types: []string{"io.photon.marker"}},
		Actions: []*pb.RuleAction{{Type: "io.photon.disk.create.requested", Subject: w.p1, Data: `{"name":"marker","kind":"persistent-disk","flavor":"pd","capacityGb":1}`}}}})
	send("e8", "io.photon.marker", w.p1, "", "", "")
	waitFor("marker")
	if got := disks(); slices.Contains(got, "for-f") {
		t.Fatalf("a rule acted over its rate: %v", got)
	}
	// The rule's task is its owner's, one level deep.
	list, err := h.invoke(t, userA1, m("Disks", "ListDisks"), &pb.ListDisksRequest{ProjectId: w.p1, Name: "for-a"})
	if err != nil || len(list.(*pb.DiskList).GetItems()) != 1 {
		t.Fatalf("disk for-a: %v %v", list, err)
	}
	tasks, err := h.invoke(t, userA1, m("Disks", "ListDiskTasks"), &pb.ListEntityTasksRequest{Id: list.(*pb.DiskList).GetItems()[0].GetId()})
	if err != nil || len(tasks.(*pb.TaskList).GetItems()) != 1 {
		t.Fatalf("its tasks: %v %v", tasks, err)
	}
	if d, err := h.s.RuleDepth(ctx, tasks.(*pb.TaskList).GetItems()[0].GetId()); err != nil || d != 1 {
		t.Fatalf("the rule's task is at depth %d (%v), want 1", d, err)
	}
}
