package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
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
	// brokenUndo makes every Undo fail with a transient error, until it is dead-lettered.
	brokenUndo bool
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
	if r.brokenUndo {
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
		brokenAt  string // function whose Undo always fails transiently
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
		{name: "an undo that keeps failing is dead-lettered and the undo chain goes on", failAt: "attachdisk", brokenAt: "vmhost",
			wantState: model.TaskError, wantCode: "QuotaError",
			wantOps: []string{"do AUTHORIZE", "do RESERVE_QUOTA", "do PLACE_VM", "do CREATE_VM_ON_HOST",
				"undo ATTACH_DISKS", "undo PLACE_VM", "undo RESERVE_QUOTA"}},
		{name: "failure with nothing to undo", failAt: "authorize", wantState: model.TaskError, wantCode: "QuotaError"},
		{name: "delete chain runs undo code forward", chain: &events.VMDelete, wantState: model.TaskCompleted,
			wantOps: []string{"do AUTHORIZE", "undo STOP_VM", "undo DELETE_VM_ON_HOST", "undo RELEASE_HOST", "undo RELEASE_QUOTA", "undo DISCONNECT_NETWORKS"}},
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
				r.brokenUndo = name == tc.brokenAt
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
			got := waitEnded(t, s, rdb, task.ID)
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
// task as it left it.
func waitEnded(t *testing.T, s *store.Store, rdb redis.UniversalClient, id string) *model.Task {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	last := "0"
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
			if raw, ok := m.Values["new"].(string); ok && json.Unmarshal([]byte(raw), &task) == nil && task.Done() {
				return &task
			}
		}
	}
	t.Fatalf("task %s did not end", id)
	return nil
}
