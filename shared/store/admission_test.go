package store_test

import (
	"fmt"
	"testing"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestAdmission walks the fair-share rule: a tenant alone may hold half the limit, a
// newcomer always finds room, and released chains make room again.
func TestAdmission(t *testing.T) {
	for name, backend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := backend(t)
			a := store.Admission{Limit: 8}
			steps := []struct {
				op     string // "admit" or "release"
				tenant string
				tasks  []string
				wantOK bool
			}{
				{"admit", "a", []string{"a1", "a2", "a3", "a4"}, true},   // alone: half of 8
				{"admit", "a", []string{"a5"}, false},                    // beyond its share
				{"admit", "b", []string{"b1", "b2", "b3", "b4"}, true},   // the newcomer's share
				{"admit", "c", []string{"c1"}, false},                    // the cloud is full
				{"release", "a", []string{"a1", "a2", "a1", "zz"}, true}, // twice, and unknown: counted once
				{"admit", "c", []string{"c1", "c2"}, true},               // three tenants: 8/3 each
				{"admit", "c", []string{"c3"}, false},
				{"admit", "a", []string{"a6"}, false}, // a holds 2 of its 2
			}
			for i, st := range steps {
				if st.op == "release" {
					if err := s.Release(t.Context(), st.tenant, st.tasks...); err != nil {
						t.Fatal(err)
					}
					continue
				}
				r, err := s.Admit(t.Context(), a, st.tenant, st.tasks...)
				if err != nil {
					t.Fatal(err)
				}
				if r.OK != st.wantOK || (!r.OK && r.RetryAfter <= 0) {
					t.Fatalf("step %d: admit %s %v = %+v, want ok=%v", i, st.tenant, st.tasks, r, st.wantOK)
				}
			}
			got, err := s.Admitted(t.Context())
			if err != nil || got["a"] != 2 || got["b"] != 4 || got["c"] != 2 {
				t.Fatalf("admitted = %v, %v", got, err)
			}
		})
	}
}

// TestSubTaskEnded counts each sub-task's end once and ends the parent after the last.
func TestSubTaskEnded(t *testing.T) {
	s := storetest.New(t)
	ctx := t.Context()
	parent := s.NewTask("parent", "CREATE_VMS", model.Entity{ID: "p", Kind: model.KindProject}, model.Caller{}, nil)
	parent.State, parent.SubTasks = model.TaskStarted, 3
	b := s.AddTask(new(store.Batch), parent)
	var subs []*model.Task
	for i, state := range []string{model.TaskCompleted, model.TaskError, model.TaskCompleted} {
		sub := s.NewTask(fmt.Sprint("sub-", i), "CREATE_VM", model.Entity{ID: fmt.Sprint("vm-", i), Kind: model.KindVM}, model.Caller{}, nil)
		sub.ParentID, sub.State = parent.ID, state
		s.AddTask(b, sub)
		subs = append(subs, sub)
	}
	if err := s.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []*model.Task{subs[0], subs[0], subs[1], subs[1]} { // each end replayed
		if err := s.SubTaskEnded(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := s.Progress(ctx, parent.ID); p != (store.Progress{Total: 3, Completed: 1, Failed: 1}) {
		t.Fatalf("progress %+v", p)
	}
	if got, _ := s.GetTask(ctx, parent.ID); got.Done() {
		t.Fatalf("parent ended with a sub-task in flight: %s", got.State)
	}
	if err := s.SubTaskEnded(ctx, subs[2]); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetTask(ctx, parent.ID); got.State != model.TaskError || got.EndTime == 0 {
		t.Fatalf("parent after its last sub-task: %s", got.State)
	}
	page, err := s.ListSubTasks(ctx, parent.ID, 10, "")
	if err != nil || len(page.Items) != 3 {
		t.Fatalf("sub-tasks: %d, %v", len(page.Items), err)
	}
}
