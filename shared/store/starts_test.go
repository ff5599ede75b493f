package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestStartsAreWrittenWithTheirTask: a task's start event is in the starts stream exactly
// when the task was written, through Apply and through a WATCH transaction alike.
func TestStartsAreWrittenWithTheirTask(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	ten, tt := tenant(s, "acme")
	withStart := func(task *model.Task) *model.Task {
		task.StartEvent = []byte(`{"start":"` + task.ID + `"}`)
		return task
	}
	op := func(id string) *model.Task {
		return withStart(s.NewTask(id, "OP", model.Entity{ID: ten.ID, Kind: model.KindTenant}, model.Caller{}, []string{"step"}))
	}
	cases := []struct {
		name string
		do   func(ctx context.Context) error
		err  error
		want []string // the starts stream's events after the call
	}{
		{"Apply writes the start with the task", func(ctx context.Context) error { return s.CreateTenant(ctx, ten, withStart(tt)) },
			nil, []string{`{"start":"task-t-acme"}`}},
		{"a refused Apply writes no start", func(ctx context.Context) error {
			t2, tt2 := tenant(s, "acme")
			t2.ID, tt2.ID = "other", "task-other"
			return s.CreateTenant(ctx, t2, withStart(tt2))
		}, errs.ErrNameTaken, []string{`{"start":"task-t-acme"}`}},
		{"a transaction writes the start with the task", func(ctx context.Context) error {
			_, err := store.StartTask(ctx, s, model.KindTenant, ten.ID, op("op1"), func(*model.Tenant) error { return nil })
			return err
		}, nil, []string{`{"start":"task-t-acme"}`, `{"start":"op1"}`}},
		{"a refused transaction writes no start", func(ctx context.Context) error {
			_, err := store.StartTask(ctx, s, model.KindTenant, ten.ID, op("op2"), func(*model.Tenant) error {
				return errs.New(errs.CodeConcurrentTask, "busy")
			})
			return err
		}, errs.ErrConcurrentTask, []string{`{"start":"task-t-acme"}`, `{"start":"op1"}`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(ctx); !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			msgs, err := s.Redis().XRange(ctx, s.StartsStream(), "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range msgs {
				got = append(got, m.Values["e"].(string))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("starts = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStartsRelayProtocol: a start one relay read and never acknowledged is not taken
// while that relay lives (it renews its hold), is taken over by another once it is gone,
// and an acknowledged one is gone.
func TestStartsRelayProtocol(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	ten, tt := tenant(s, "acme")
	tt.StartEvent = []byte("e1")
	if err := s.CreateTenant(ctx, ten, tt); err != nil {
		t.Fatal(err)
	}
	const claimIdle = 200 * time.Millisecond
	open := func(name string) *store.StartsReader {
		r, err := s.OpenStarts(ctx, name, claimIdle, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(r.Close)
		return r
	}
	events := func(st []store.Start) []string {
		var out []string
		for _, x := range st {
			out = append(out, string(x.Event))
		}
		return out
	}
	dead, live := open("dead"), open("live")
	// next reads r until it gets a start or until is over.
	next := func(r *store.StartsReader, until time.Duration) []store.Start {
		for deadline := time.Now().Add(until); ; {
			got, err := r.Next(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > 0 || time.Now().After(deadline) {
				return got
			}
		}
	}
	steps := []struct {
		name string
		do   func() []store.Start
		want []string
	}{
		{"the dead relay reads it", func() []store.Start { return next(dead, 5*time.Second) }, []string{"e1"}},
		{"another relay gets nothing while the first holds it", func() []store.Start { return next(live, 4*claimIdle) }, nil},
		{"it takes it over once the first is gone", func() []store.Start {
			dead.Close()
			return next(live, 10*time.Second)
		}, []string{"e1"}},
	}
	var last []store.Start
	for _, st := range steps {
		got := st.do()
		if !slices.Equal(events(got), st.want) {
			t.Fatalf("%s: got %q, want %q", st.name, events(got), st.want)
		}
		last = got
	}
	consumers := func() []string {
		cs, err := s.Redis().XInfoConsumers(ctx, s.StartsStream(), "relay").Result()
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		return names
	}
	if err := s.PruneStartConsumers(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if got := consumers(); !slices.Equal(got, []string{"live"}) {
		t.Fatalf("relays after pruning = %v, want the one holding a start", got)
	}
	if err := live.Ack(ctx, last[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.PruneStartConsumers(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if got := consumers(); len(got) != 0 {
		t.Fatalf("relays after pruning = %v, want none", got)
	}
	if n, err := s.PendingStarts(ctx); err != nil || n != 0 {
		t.Fatalf("pending starts = %d, %v after the acknowledgement, want 0", n, err)
	}
	if got := next(open("other"), 2*claimIdle); len(got) != 0 {
		t.Fatalf("read %d acknowledged starts", len(got))
	}
}
