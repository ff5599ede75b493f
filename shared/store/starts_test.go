package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

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

// TestStartsRelayProtocol: a start one relay read and never acknowledged is claimed by
// another after the idle time, and an acknowledged one is gone.
func TestStartsRelayProtocol(t *testing.T) {
	ctx := t.Context()
	s := storetest.New(t)
	ten, tt := tenant(s, "acme")
	tt.StartEvent = []byte("e1")
	if err := s.CreateTenant(ctx, ten, tt); err != nil {
		t.Fatal(err)
	}
	ids := func(st []store.Start) []string {
		var out []string
		for _, x := range st {
			out = append(out, string(x.Event))
		}
		return out
	}
	steps := []struct {
		name string
		do   func() ([]store.Start, error)
		want []string
	}{
		{"the dead relay reads it", func() ([]store.Start, error) { return s.ReadStarts(ctx, "dead", 10, time.Millisecond) }, []string{"e1"}},
		{"another relay reads nothing new", func() ([]store.Start, error) { return s.ReadStarts(ctx, "live", 10, time.Millisecond) }, nil},
		{"nor claims what is not idle long enough", func() ([]store.Start, error) { return s.ClaimStarts(ctx, "live", time.Hour, 10) }, nil},
		{"nor what the dead one touched", func() ([]store.Start, error) {
			// The entry has been idle 50ms at least; touching it makes it fresh.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				p, err := s.Redis().XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.StartsStream(), Group: "relay", Start: "-", End: "+", Count: 1}).Result()
				if err != nil || (len(p) == 1 && p[0].Idle > 50*time.Millisecond) || time.Now().After(deadline) {
					break
				}
			}
			first, _ := s.Redis().XRange(ctx, s.StartsStream(), "-", "+").Result()
			if err := s.TouchStarts(ctx, "dead", first[0].ID); err != nil {
				return nil, err
			}
			return s.ClaimStarts(ctx, "live", 50*time.Millisecond, 10)
		}, nil},
		{"it claims what is", func() ([]store.Start, error) { return s.ClaimStarts(ctx, "live", 0, 10) }, []string{"e1"}},
	}
	var last []store.Start
	for _, st := range steps {
		got, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if !slices.Equal(ids(got), st.want) {
			t.Fatalf("%s: got %q, want %q", st.name, ids(got), st.want)
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
	if err := s.AckStarts(ctx, last[0].ID); err != nil {
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
	if got, err := s.ClaimStarts(ctx, "other", 0, 10); err != nil || len(got) != 0 {
		t.Fatalf("claimed %d acknowledged starts (%v)", len(got), err)
	}
}
