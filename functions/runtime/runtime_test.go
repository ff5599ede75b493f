package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// recorder is a fake function (the fault injection of these tests): it records what ran
// and fails as told.
type recorder struct {
	name  string
	log   *journal
	fail  error // returned by Do
	flaky int   // transient failures before Do succeeds
	// brokenUndo makes every Undo fail while it is set: with undoErr, or a transient error.
	brokenUndo atomic.Bool
	undoErr    error
	mu         sync.Mutex
}

type journal struct {
	mu  sync.Mutex
	ops []string
}

func (j *journal) add(s string) { j.mu.Lock(); j.ops = append(j.ops, s); j.mu.Unlock() }
func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.ops)
}

func (r *recorder) Name() string { return r.name }
func (r *recorder) Do(_ context.Context, c *runtime.Call) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flaky > 0 {
		r.flaky--
		return errors.New("flaky")
	}
	if r.fail != nil {
		return r.fail
	}
	r.log.add("do " + string(c.Operation()))
	return nil
}
func (r *recorder) Undo(_ context.Context, c *runtime.Call) error {
	if r.brokenUndo.Load() {
		if r.undoErr != nil {
			return r.undoErr
		}
		return errors.New("undo keeps failing")
	}
	r.log.add("undo " + string(c.Operation()))
	return nil
}

func TestChainRuns(t *testing.T) {
	cases := []struct {
		name      string
		chain     *events.Chain // default vm.create
		failAt    string        // function that fails permanently
		flakyAt   string
		wantOps   []string
		wantState string
		wantCode  string
	}{
		{name: "all succeed", wantState: model.TaskCompleted, wantOps: []string{"do AUTHORIZE", "do RESERVE_QUOTA", "do PLACE_VM",
			"do CREATE_VM_ON_HOST", "do ATTACH_DISKS", "do CONNECT_NETWORKS", "do START_VM"}},
		{name: "transient errors are retried", flakyAt: "place", wantState: model.TaskCompleted, wantOps: []string{"do AUTHORIZE",
			"do RESERVE_QUOTA", "do PLACE_VM", "do CREATE_VM_ON_HOST", "do ATTACH_DISKS", "do CONNECT_NETWORKS", "do START_VM"}},
		{name: "permanent failure undoes back to the start", failAt: "attachdisk", wantState: model.TaskError, wantCode: "QuotaError",
			wantOps: []string{"do AUTHORIZE", "do RESERVE_QUOTA", "do PLACE_VM", "do CREATE_VM_ON_HOST",
				"undo ATTACH_DISKS", "undo CREATE_VM_ON_HOST", "undo PLACE_VM", "undo RESERVE_QUOTA"}},
		{name: "failure with nothing to undo", failAt: "authorize", wantState: model.TaskError, wantCode: "QuotaError"},
		{name: "delete chain runs undo code forward", chain: &events.VMDelete, wantState: model.TaskCompleted,
			wantOps: []string{"do AUTHORIZE", "undo STOP_VM", "undo DELETE_VM_ON_HOST", "undo RELEASE_HOST", "undo RELEASE_QUOTA", "undo FREE_FLOATING_IP", "undo DISCONNECT_NETWORKS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, rdb := storetest.NewWithClient(t)
			j := &journal{}
			var fns []runtime.Function
			for _, name := range events.Functions() {
				r := &recorder{name: name, log: j}
				if name == tc.failAt {
					r.fail = errs.New(errs.CodeQuotaError, "injected")
				}
				if name == tc.flakyAt {
					r.flaky = 2
				}
				fns = append(fns, r)
			}
			chain := tc.chain
			if chain == nil {
				chain = &events.VMCreate
			}
			rt := &runtime.Runtime{Store: s}
			b := events.NewRedisBroker(rdb, s.Prefix(), nil)
			b.Backoff = time.Millisecond
			go (&runtime.Local{Runtime: rt, Broker: b, Workers: 2}).Run(ctx, fns...)

			task := startChain(t, s, b, chain)
			got := waitEnded(t, s, rdb, task.ID, "0")
			if !slices.Equal(j.get(), tc.wantOps) {
				t.Fatalf("ran %v\nwant %v", j.get(), tc.wantOps)
			}
			if got.State != tc.wantState {
				t.Fatalf("task %s, want %s", got.State, tc.wantState)
			}
			// The chain's own finalizer ran before the task ended: the fake steps record
			// no state, so the VM is as the end of its chain leaves it.
			vm, err := store.Get[model.VM](ctx, s, model.KindVM, "vm-1")
			switch {
			case chain == &events.VMDelete:
				if !errors.Is(err, errs.ErrNotFound) {
					t.Fatalf("VM after a completed delete: %+v %v", vm, err)
				}
			case err != nil || vm.ActiveTask != "" || (tc.wantState == model.TaskError) != (vm.State == model.VMError):
				t.Fatalf("VM after the chain: %+v %v", vm, err)
			}
			if tc.wantCode != "" {
				f := got.Failed()
				if f == nil || len(f.Errors) == 0 || f.Errors[0].Code != tc.wantCode || f.Errors[0].Data["step"] == "" {
					t.Fatalf("failed step %+v", f)
				}
			}
		})
	}
}

func opsOf(c *events.Chain) []string {
	var out []string
	for _, s := range c.Steps {
		out = append(out, string(s.Operation))
	}
	return out
}

// waitEnded waits for the task's end, which the runtime writes after the finalizer
// returns: it reads the store's outbox, where the write that ends the task records the
// task as it left it (compact once ended: shared/codec).
func waitEnded(t *testing.T, s *store.Store, rdb redis.UniversalClient, id, last string) *model.Task {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		res, err := rdb.XRead(t.Context(), &redis.XReadArgs{Streams: []string{s.OutboxStream(), last}, Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) {
			continue // nothing new within the block
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res[0].Messages {
			last = m.ID
			if m.Values["kind"] != model.KindTask || m.Values["id"] != id {
				continue
			}
			var task model.Task
			if raw, ok := m.Values["new"].(string); ok && codec.Unmarshal([]byte(raw), &task) == nil && task.Done() {
				return &task
			}
		}
	}
	t.Fatalf("task %s did not end", id)
	return nil
}

// TestUndoParks: an undo that keeps failing, or fails for good, is not skipped. Once it
// is dead-lettered, or at once when it failed for good, the task ends in ERROR with the
// step's undo error, the VM stays held by the task and the undo steps before it do not
// run (what they would release stays reserved); store.RetryUndo, once the host is back,
// republishes the undo through the starts stream and the undo chain runs to its end.
func TestUndoParks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error  // what the undo fails with
		code string // the undo error's code
	}{
		{"dead-lettered", nil, errs.CodeUnavailable},
		{"failed for good", errs.Permanent(errs.New(errs.CodeHostError, "the host refused")), errs.CodeHostError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			s, rdb := storetest.NewWithClient(t)
			j := &journal{}
			var fns []runtime.Function
			var vmhost *recorder
			for _, name := range events.Functions() {
				r := &recorder{name: name, log: j}
				switch name {
				case "attachdisk":
					r.fail = errs.New(errs.CodeQuotaError, "injected")
				case "vmhost":
					r.brokenUndo.Store(true)
					r.undoErr = tc.err
					vmhost = r
				}
				fns = append(fns, r)
			}
			rt := &runtime.Runtime{Store: s}
			b := events.NewRedisBroker(rdb, s.Prefix(), nil)
			b.Backoff = time.Millisecond
			go (&runtime.Local{Runtime: rt, Broker: b, Workers: 2}).Run(ctx, fns...)
			task := startChain(t, s, b, &events.VMCreate)

			parked := waitEnded(t, s, rdb, task.ID, "0")
			wantOps := []string{"do AUTHORIZE", "do RESERVE_QUOTA", "do PLACE_VM", "do CREATE_VM_ON_HOST", "undo ATTACH_DISKS"}
			if !slices.Equal(j.get(), wantOps) {
				t.Fatalf("ran %v\nwant %v", j.get(), wantOps)
			}
			step := parked.Steps[3] // CREATE_VM_ON_HOST
			if parked.State != model.TaskError || len(parked.ParkedUndo) == 0 || step.Undone || step.UndoError == nil ||
				step.UndoError.Data["undo"] != "failed" || step.UndoError.Code != tc.code {
				t.Fatalf("parked task %s, step %+v, undo error %+v", parked.State, step, step.UndoError)
			}
			vm, err := store.Get[model.VM](ctx, s, model.KindVM, "vm-1")
			if err != nil || vm.ActiveTask != task.ID {
				t.Fatalf("VM of a parked task: %+v %v, want it held by %s", vm, err, task.ID)
			}

			vmhost.brokenUndo.Store(false) // the host is back
			if _, err := s.RetryUndo(ctx, task.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.RetryUndo(ctx, task.ID); !errors.Is(err, errs.ErrState) {
				t.Fatalf("a second retry: %v, want StateError", err)
			}
			go relay(ctx, t, s, b)
			got := waitEnded(t, s, rdb, task.ID, lastOutbox(t, s, rdb))
			wantOps = append(wantOps, "undo CREATE_VM_ON_HOST", "undo PLACE_VM", "undo RESERVE_QUOTA")
			if !slices.Equal(j.get(), wantOps) {
				t.Fatalf("ran %v\nwant %v", j.get(), wantOps)
			}
			if got.State != model.TaskError || len(got.ParkedUndo) != 0 || !got.Steps[3].Undone || got.Steps[3].UndoError != nil {
				t.Fatalf("task after the retried undo: %s %+v", got.State, got.Steps[3])
			}
			if f := got.Failed(); f == nil || len(f.Errors) == 0 || f.Errors[0].Code != errs.CodeQuotaError {
				t.Fatalf("failed step %+v, want the first cause kept", f)
			}
			if vm, err := store.Get[model.VM](ctx, s, model.KindVM, "vm-1"); err != nil || vm.ActiveTask != "" || vm.State != model.VMError {
				t.Fatalf("VM after the undo chain: %+v %v", vm, err)
			}

		})
	}
}

// startChain writes a tenant, a project and a VM held by a task of chain, and publishes
// the chain's start.
func startChain(t *testing.T, s *store.Store, b events.Broker, chain *events.Chain) *model.Task {
	t.Helper()
	ctx := t.Context()
	task := s.NewTask("task-1", string(chain.Operation), model.Entity{ID: "vm-1", Kind: "vm"}, model.Caller{}, opsOf(chain))
	if err := s.CreateTenant(ctx, &model.Tenant{ID: "t", Name: "t"}, s.NewTask("tt", "CREATE_TENANT", model.Entity{ID: "t"}, model.Caller{}, nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProject(ctx, &model.Project{ID: "p", TenantID: "t", Name: "p"}, s.NewTask("tp", "CREATE_PROJECT", model.Entity{ID: "p"}, model.Caller{}, nil)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateVM(ctx, &model.VM{ID: "vm-1", Name: "vm-1", TenantID: "t", ProjectID: "p", State: model.VMCreating, ActiveTask: task.ID}, task); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, events.New("test", chain.StartType(), "", events.StepData{TaskID: task.ID, EntityID: "vm-1"})); err != nil {
		t.Fatal(err)
	}
	return task
}

// relay publishes the starts stream to b as a gateway's relay does, until ctx ends.
func relay(ctx context.Context, t *testing.T, s *store.Store, b events.Broker) {
	starts, err := s.OpenStarts(ctx, "relay", time.Minute, nil)
	if err != nil {
		t.Error(err)
		return
	}
	defer starts.Close()
	for ctx.Err() == nil {
		batch, err := starts.Next(ctx, 10)
		if err != nil {
			return
		}
		for _, st := range batch {
			var e cloudevents.Event
			if err := json.Unmarshal(st.Event, &e); err != nil {
				t.Error(err)
				return
			}
			if err := b.Publish(ctx, e); err != nil {
				t.Error(err)
				return
			}
			starts.Ack(ctx, st.ID)
		}
	}
}

// lastOutbox is the id of the outbox's newest entry.
func lastOutbox(t *testing.T, s *store.Store, rdb redis.UniversalClient) string {
	t.Helper()
	ms, err := rdb.XRevRangeN(t.Context(), s.OutboxStream(), "+", "-", 1).Result()
	if err != nil || len(ms) == 0 {
		t.Fatalf("outbox: %v %v", ms, err)
	}
	return ms[0].ID
}

// awaiter is a fake step that awaits until ready is set, counting its runs.
type awaiter struct {
	recorder
	ready atomic.Bool
	runs  atomic.Int32
}

func (a *awaiter) Do(ctx context.Context, c *runtime.Call) error {
	a.runs.Add(1)
	if !a.ready.Load() {
		return runtime.Await(time.Now().Add(time.Hour))
	}
	return a.recorder.Do(ctx, c)
}

// TestAwaitWakes: a step that awaits keeps its event and acknowledges it; each wake runs
// it again, and the one after what it waits for came lets the chain go on to its end.
func TestAwaitWakes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	s, rdb := storetest.NewWithClient(t)
	j := &journal{}
	svc := &awaiter{recorder: recorder{name: "service", log: j}}
	fns := []runtime.Function{&recorder{name: "authorize", log: j}, svc}
	rt := &runtime.Runtime{Store: s}
	b := events.NewRedisBroker(rdb, s.Prefix(), nil)
	b.Backoff = time.Millisecond
	go (&runtime.Local{Runtime: rt, Broker: b, Workers: 2}).Run(ctx, fns...)
	go relay(ctx, t, s, b)
	chain := &events.ServiceMaintain
	task := startChain(t, s, b, chain)
	awaitKey := keyspace.Space(s.Prefix(), keyspace.Store) + "await:" + task.ID
	awaiting := func(runs int32) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err := s.GetTask(ctx, task.ID)
			if err != nil {
				t.Fatal(err)
			}
			// The step shows STARTED before its event is kept: wait for both.
			kept, err := rdb.HExists(ctx, awaitKey, "e").Result()
			if err != nil {
				t.Fatal(err)
			}
			if svc.runs.Load() == runs && got.Steps[1].State == model.TaskStarted && kept {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %d runs the step is %s, want it awaiting after %d", svc.runs.Load(), got.Steps[1].State, runs)
			}
			time.Sleep(5 * time.Millisecond) // polling the task, as a client would
		}
	}
	awaiting(1)
	if ok, err := s.Wake(ctx, task.ID); err != nil || !ok {
		t.Fatalf("wake: %v %v", ok, err)
	}
	awaiting(2) // woken too early: it looked again and awaits again
	svc.ready.Store(true)
	if _, err := s.Wake(ctx, task.ID); err != nil {
		t.Fatal(err)
	}
	got := waitEnded(t, s, rdb, task.ID, "0")
	if got.State != model.TaskCompleted || got.Steps[1].StartedTime == 0 || got.Steps[1].StartedTime > got.Steps[1].EndTime {
		t.Fatalf("task %s, steps %+v", got.State, got.Steps)
	}
	if want := []string{"do AUTHORIZE", "do REPLACE_SERVICE_NODES", "do WAIT_SERVICE_NODES_READY"}; !slices.Equal(j.get(), want) {
		t.Fatalf("ran %v, want %v", j.get(), want)
	}
	// The end forgets what the task kept, just after the task's record ends.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		n, err := rdb.Exists(ctx, awaitKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the ended task's await is kept")
		}
	}
}
