package store_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestSweepTasks: tasks that ended longer than the retention ago go with their index
// entries; younger ones, running ones and the newest task of an entity that exists stay,
// the last until its entity is gone.
func TestSweepTasks(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testSweepTasks(t, open(t))
		})
	}
}

func testSweepTasks(t *testing.T, s *store.Store) {
	ctx := t.Context()
	const day = 24 * time.Hour
	var clock atomic.Int64
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) { clock.Store(base.Add(d).UnixMilli()) }
	s.SetClock(func() time.Time { return time.UnixMilli(clock.Load()) })
	rdb := s.Redis()
	// add writes a task (with steps: running until ended) on entity.
	add := func(id string, entity model.Entity, parent string, subtasks int) *model.Task {
		t.Helper()
		task := s.NewTask(id, "OP", entity, model.Caller{}, []string{"step"})
		task.ParentID, task.SubTasks = parent, subtasks
		if err := s.Apply(ctx, s.AddTask(new(store.Batch), task)); err != nil {
			t.Fatal(err)
		}
		return task
	}
	end := func(id string) {
		t.Helper()
		if _, err := s.UpdateTask(ctx, id, func(tk *model.Task) error {
			tk.State, tk.EndTime = model.TaskCompleted, s.Now()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	tenantEntity := func(id string) model.Entity { return model.Entity{ID: id, Kind: model.KindTenant} }

	// Day 0: a tenant that lives on, with its create task and a task that keeps running;
	// a tenant created and deleted; a bulk parent with two sub-tasks.
	at(0)
	live, createLive := tenant(s, "live")
	if err := s.CreateTenant(ctx, live, createLive); err != nil {
		t.Fatal(err)
	}
	gone, createGone := tenant(s, "gone")
	if err := s.CreateTenant(ctx, gone, createGone); err != nil {
		t.Fatal(err)
	}
	at(time.Millisecond)
	add("running", tenantEntity(live.ID), "", 0)
	deleteGone := s.NewTask("delete-gone", "DELETE_TENANT", tenantEntity(gone.ID), model.Caller{}, nil)
	if err := s.DeleteTenant(ctx, gone, deleteGone); err != nil {
		t.Fatal(err)
	}
	add("parent", model.Entity{ID: "p", Kind: model.KindProject}, "", 2)
	for _, id := range []string{"sub-1", "sub-2"} {
		end(add(id, model.Entity{ID: "vm-" + id, Kind: model.KindVM}, "parent", 0).ID)
		tk, _ := s.GetTask(ctx, id)
		if err := s.SubTaskEnded(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	// Day 1: the live tenant's newest task. Day 5: a task on no entity.
	at(day)
	end(add("newest", tenantEntity(live.ID), "", 0).ID)
	at(5 * day)
	end(add("young", model.Entity{ID: "system", Kind: "deployment"}, "", 0).ID)

	exists := func(key string) bool { return rdb.Exists(ctx, key).Val() == 1 }
	taskIDs := func(entity string) []string {
		page, err := s.ListTasks(ctx, entity, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, tk := range page.Items {
			ids = append(ids, tk.ID)
		}
		return ids
	}
	sweep := func(want int) {
		t.Helper()
		n, err := s.SweepTasks(ctx, 7*day)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("swept %d tasks, want %d", n, want)
		}
	}

	at(9 * day)
	sweep(6) // the two creates, the delete, the parent and its sub-tasks
	for _, id := range []string{createLive.ID, createGone.ID, deleteGone.ID, "parent", "sub-1", "sub-2"} {
		if exists(s.Key("task", id)) {
			t.Errorf("task %s is still there", id)
		}
	}
	for _, key := range []string{s.Key("idx", "tasks", gone.ID), s.Key("idx", "tasks", "p"), s.Key("idx", "tasks", "vm-sub-1"),
		s.Key("idx", "subtasks", "parent"), s.Key("progress", "parent")} {
		if exists(key) {
			t.Errorf("%s is still there", key)
		}
	}
	if got := taskIDs(live.ID); !slices.Equal(got, []string{"running", "newest"}) {
		t.Errorf("the live tenant's tasks: %v, want the running one and the newest", got)
	}
	if !exists(s.Key("task", "young")) {
		t.Error("a task within the retention went")
	}
	sweep(0) // what stayed stays

	// Once its entity is gone, the newest task goes one retention after it was kept.
	at(10 * day)
	deleteLive := s.NewTask("delete-live", "DELETE_TENANT", tenantEntity(live.ID), model.Caller{}, nil)
	if err := s.DeleteTenant(ctx, live, deleteLive); err != nil {
		t.Fatal(err)
	}
	at(18 * day)
	sweep(3) // newest, delete-live, young
	if got := taskIDs(live.ID); !slices.Equal(got, []string{"running"}) {
		t.Errorf("the deleted tenant's tasks: %v, want only the running one", got)
	}
	if n := rdb.ZCard(ctx, s.Key("idx", "alltasks")).Val(); n != 1 {
		t.Errorf("the index of all tasks holds %d, want the running one", n)
	}
}

// TestIndexOldTasks: tasks written before the index of all tasks existed are swept too.
func TestIndexOldTasks(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	old := s.NewTask("old", "OP", model.Entity{ID: "x", Kind: model.KindVM}, model.Caller{}, nil)
	raw, _ := json.Marshal(old)
	if err := s.Redis().Set(ctx, s.Key("task", "old"), raw, 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.SetClock(func() time.Time { return time.Now().Add(time.Hour) })
	for range 2 {
		if err := s.IndexOldTasks(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.SweepTasks(ctx, time.Minute); err != nil || n != 1 {
		t.Fatalf("swept %d, %v; want the old task", n, err)
	}
}

// TestDeadLetterIndexBounded: a subscription's dead-letter index loses the entries of
// dead letters past DeadLetterTTL, whose records expired.
func TestDeadLetterIndexBounded(t *testing.T) {
	t.Parallel()
	s := storetest.New(t)
	ctx := t.Context()
	now := s.Now()
	for i, at := range []int64{now - store.DeadLetterTTL.Milliseconds() - 1, now} {
		dl := &store.DeadLetter{ID: fmt.Sprint("dl-", i), SubscriptionID: "sub", At: at}
		if err := s.AddDeadLetter(ctx, dl); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Redis().ZCard(ctx, s.Key("idx", "deadletters", "sub")).Val(); n != 1 {
		t.Fatalf("the dead-letter index holds %d entries, want the young one", n)
	}
}
