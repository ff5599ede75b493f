package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// cutBroker is a broker whose publish path can be cut: while cut holds an error, every
// Publish fails with it and publishes nothing.
type cutBroker struct {
	events.Broker
	cut atomic.Pointer[error]
}

func (b *cutBroker) Publish(ctx context.Context, es ...cloudevents.Event) error {
	if err := b.cut.Load(); err != nil {
		return *err
	}
	return b.Broker.Publish(ctx, es...)
}

func (b *cutBroker) fail(err error) { b.cut.Store(&err) }
func (b *cutBroker) heal()          { b.cut.Store(nil) }

// TestChainStartIsAtomic cuts the publish path between the write of a chain's task (and
// the entity it holds) and the publish of its start: the gateway dies with the broker down,
// or the broker refuses the start for good. Either way no entity stays held by a task
// that never runs: a new gateway publishes each start exactly once, or the task ends
// ERROR with its entity released and the next verb on it is accepted.
func TestChainStartIsAtomic(t *testing.T) {
	// start calls the API with the publish path cut and returns the tasks that hold an
	// entity (for a bulk create, its sub-tasks) and the chain they start.
	type started struct {
		chain *events.Chain
		tasks []*pb.Task
	}
	cases := []struct {
		name  string
		start func(t *testing.T, h *harness, w *world) started
	}{
		{name: "create a VM", start: func(t *testing.T, h *harness, w *world) started {
			out, err := h.invoke(t, sys, m("Vms", "CreateVm"), &pb.CreateVmRequest{ProjectId: w.p1, Spec: vmSpec(w)})
			if err != nil {
				t.Fatal(err)
			}
			return started{&events.VMCreate, []*pb.Task{out.(*pb.Task)}}
		}},
		{name: "a verb on an existing VM", start: func(t *testing.T, h *harness, w *world) started {
			// The world's VM was created with the path up: make it settled, as its chain would.
			if _, err := store.Update(t.Context(), h.s, model.KindVM, w.vm, func(v *model.VM) error {
				v.State, v.ActiveTask = model.VMStarted, ""
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			out, err := h.invoke(t, sys, m("Vms", "StopVm"), &pb.IdRequest{Id: w.vm})
			if err != nil {
				t.Fatal(err)
			}
			return started{&events.VMStop, []*pb.Task{out.(*pb.Task)}}
		}},
		{name: "bulk create", start: func(t *testing.T, h *harness, w *world) started {
			spec := vmSpec(w)
			spec.Count = 20
			out, err := h.invoke(t, sys, m("Vms", "CreateVm"), &pb.CreateVmRequest{ProjectId: w.p1, Spec: spec})
			if err != nil {
				t.Fatal(err)
			}
			page, err := h.s.ListSubTasks(t.Context(), out.(*pb.Task).GetId(), 100, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != 20 {
				t.Fatalf("bulk create wrote %d sub-tasks, want 20", len(page.Items))
			}
			var tasks []*pb.Task
			for _, st := range page.Items {
				tasks = append(tasks, &pb.Task{Id: st.ID, Entity: &pb.Entity{Id: st.Entity.ID}})
			}
			return started{&events.VMCreate, tasks}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name+"/gateway dies while the broker is down", func(t *testing.T) {
			ctx := t.Context()
			broker, opts := &cutBroker{}, gateway.Options{}
			h := newHarness(t, func(o *gateway.Options) {
				broker.Broker, o.Broker, o.TakeoverAfter = o.Broker, broker, 200*time.Millisecond
				opts = *o
			})
			w := h.world(t)
			broker.fail(errors.New("broker unreachable"))
			st := tc.start(t, h, w)
			for _, task := range st.tasks {
				if got := mustTask(t, h.s, task.GetId()); got.State != model.TaskQueued {
					t.Fatalf("task %s is %s before its chain started, want QUEUED", got.ID, got.State)
				}
			}
			if n := startsIn(t, h, st.chain, st.tasks); n != 0 {
				t.Fatalf("%d starts reached the functions through a broker that is down", n)
			}

			// The gateway dies with its starts read and unpublished; the broker comes back
			// and another gateway starts.
			if err := h.gw.Close(ctx); err != nil {
				t.Fatal(err)
			}
			broker.heal()
			gw, err := gateway.Start(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { gw.Close(context.WithoutCancel(ctx)) })

			poll(t, "every start published", func() bool { return startsIn(t, h, st.chain, st.tasks) == len(st.tasks) })
			poll(t, "the starts stream drained", func() bool {
				n, err := h.s.PendingStarts(ctx)
				return err == nil && n == 0
			})
			if n := startsIn(t, h, st.chain, st.tasks); n != len(st.tasks) {
				t.Fatalf("%d starts published for %d tasks, want each once", n, len(st.tasks))
			}
		})

		t.Run(tc.name+"/broker refuses the start", func(t *testing.T) {
			ctx := t.Context()
			broker := &cutBroker{}
			h := newHarness(t, func(o *gateway.Options) { broker.Broker, o.Broker = o.Broker, broker })
			w := h.world(t)
			before := admitted(t, h.s, w.tenantA)
			broker.fail(errs.Permanent(errors.New("400 Bad Request")))
			st := tc.start(t, h, w)
			for _, task := range st.tasks {
				poll(t, "task "+task.GetId()+" ERROR", func() bool { return mustTask(t, h.s, task.GetId()).State == model.TaskError })
				vm, err := store.Get[model.VM](ctx, h.s, model.KindVM, task.GetEntity().GetId())
				if err != nil {
					t.Fatal(err)
				}
				if vm.ActiveTask != "" {
					t.Fatalf("VM %s still held by %s after its start was refused", vm.ID, vm.ActiveTask)
				}
			}
			if n := admitted(t, h.s, w.tenantA); n != before {
				t.Fatalf("tenant holds %d admissions after its starts were refused, want the %d it held before", n, before)
			}
			broker.heal()
			vm := st.tasks[0].GetEntity().GetId()
			if _, err := h.invoke(t, sys, m("Vms", "SetVmMetadata"), &pb.SetVmMetadataRequest{Id: vm, Metadata: &pb.VmMetadata{Metadata: map[string]string{"b": "2"}}}); err != nil {
				t.Fatalf("a verb on the released VM: %v", err)
			}
		})
	}
}

func admitted(t *testing.T, s *store.Store, tenant string) int {
	t.Helper()
	n, err := s.Admitted(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n[tenant]
}

func mustTask(t *testing.T, s *store.Store, id string) *model.Task {
	t.Helper()
	task, err := s.GetTask(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// startsIn counts the events in the stream of chain's first function that start one of
// tasks.
func startsIn(t *testing.T, h *harness, chain *events.Chain, tasks []*pb.Task) int {
	t.Helper()
	want := map[string]bool{}
	for _, task := range tasks {
		want[task.GetId()] = true
	}
	subs := events.Subscribers(chain.StartType())
	if len(subs) != 1 {
		t.Fatalf("%s has subscribers %v", chain.StartType(), subs)
	}
	ms, err := h.rdb.XRange(t.Context(), events.Stream(h.s.Prefix(), subs[0]), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, msg := range ms {
		var e cloudevents.Event
		raw, _ := msg.Values["e"].(string)
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			t.Fatal(err)
		}
		if id, _ := e.Extensions()[events.ExtTaskID].(string); e.Type() == chain.StartType() && want[id] {
			n++
		}
	}
	return n
}

// poll waits for cond, failing the test after ten seconds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
