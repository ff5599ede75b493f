package store_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// replicasOf is how many replicas the primary of the store's key space has.
func replicasOf(t *testing.T, s *store.Store) int {
	t.Helper()
	node, err := keyspace.Primary(t.Context(), s.Redis(), keyspace.Space(s.Prefix(), keyspace.Store)+"x")
	if err != nil {
		t.Fatal(err)
	}
	info, err := node.Info(t.Context(), "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}

// TestWaitForReplicas: a write that starts a task, by a script (Apply) or in a
// transaction (ChangeQuota), is acknowledged once the replicas asked for have it; when
// fewer confirm it in time it is an Unavailable error, and the write stands (a retry
// with the idempotency key finds its task). On a single redis-server there is no
// replica; on make test-cluster's cluster every primary has one.
func TestWaitForReplicas(t *testing.T) {
	have := replicasOf(t, storetest.New(t))
	writes := []struct {
		name string
		// write writes task through s; base is the same store without waiting, for
		// the write's fixture.
		write func(t *testing.T, base, s *store.Store, task *model.Task) error
	}{
		{"a batch", func(t *testing.T, _, s *store.Store, task *model.Task) error {
			return s.Apply(t.Context(), s.AddTask(new(store.Batch), task))
		}},
		{"a transaction", func(t *testing.T, base, s *store.Store, task *model.Task) error {
			ctx := t.Context()
			ten := quotaFixture(t, base, 2, 5)
			task.Entity = model.Entity{ID: ten.ID, Kind: model.KindTenant}
			_, err := s.ChangeQuota(ctx, model.KindTenant, ten.ID, store.QuotaUpdate,
				[]model.QuotaLineItem{{Key: "vm.count", Value: 3, Unit: "COUNT"}}, task)
			return err
		}},
	}
	cases := []struct {
		name        string
		replicas    int
		unavailable bool
	}{
		{"none asked", 0, false},
		{"as many as there are", have, false},
		{"more than there are", have + 1, true},
	}
	for _, w := range writes {
		for _, tc := range cases {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ctx := t.Context()
				base := storetest.New(t)
				s := store.New(base.Redis(), base.Prefix()).WaitForReplicas(tc.replicas, 100*time.Millisecond)
				task := s.NewTask("t1", "OP", model.Entity{ID: "e1", Kind: model.KindVM}, model.Caller{}, []string{"step"})
				err := w.write(t, base, s, task)
				if got := errors.Is(err, errs.ErrUnavailable); got != tc.unavailable {
					t.Fatalf("write with %d of %d replicas: %v", tc.replicas, have, err)
				}
				if _, err := s.GetTask(ctx, "t1"); err != nil {
					t.Fatalf("the task after the write: %v", err)
				}
			})
		}
	}
}
