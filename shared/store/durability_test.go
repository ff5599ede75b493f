package store_test

import (
	"errors"
	"fmt"
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
func replicasOf(tb testing.TB, s *store.Store) int {
	tb.Helper()
	node, err := keyspace.Primary(tb.Context(), s.Redis(), keyspace.Space(s.Prefix(), keyspace.Store)+"x")
	if err != nil {
		tb.Fatal(err)
	}
	info, err := node.Info(tb.Context(), "replication").Result()
	if err != nil {
		tb.Fatal(err)
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

// BenchmarkTaskStart is the cost of waiting for a replica: a task start (the batch of a
// create) with and without WAIT, on the test Redis (make test-cluster's has a replica
// per primary: ./scripts/with-redis-cluster.sh go test -run '^$' -bench TaskStart
// ./shared/store/).
func BenchmarkTaskStart(b *testing.B) {
	base := storetest.New(b)
	have := replicasOf(b, base)
	for _, n := range []int{0, have} {
		b.Run("replicas="+strconv.Itoa(n), func(b *testing.B) {
			s := store.New(base.Redis(), base.Prefix()).WaitForReplicas(n, time.Second)
			i := 0
			for b.Loop() {
				i++
				task := s.NewTask(fmt.Sprintf("b%d-%d", n, i), "OP", model.Entity{ID: "e", Kind: model.KindVM}, model.Caller{}, []string{"step"})
				if err := s.Apply(b.Context(), s.AddTask(new(store.Batch), task)); err != nil {
					b.Fatal(err)
				}
			}
		})
		if have == 0 {
			break
		}
	}
}
