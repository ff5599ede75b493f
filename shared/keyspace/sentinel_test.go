package keyspace_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// startServer runs redis-server with args on a free port, killed when the test ends.
func startServer(t *testing.T, args ...string) *storetest.Server {
	t.Helper()
	s, err := storetest.RunServer(t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	return s
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond) // polling processes of the test; no signal to wait on
	}
}

// TestSentinel: a store on a redis+sentinel URL writes a task that a replica confirmed;
// when the primary dies Sentinel promotes the replica, and the same client reads the
// task there and writes again.
func TestSentinel(t *testing.T) {
	ctx := t.Context()
	primary := startServer(t)
	replica := startServer(t, "--replicaof", "127.0.0.1", fmt.Sprint(primary.Port))
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	if err := os.WriteFile(conf, []byte(strings.Join([]string{
		"sentinel monitor photon 127.0.0.1 " + fmt.Sprint(primary.Port) + " 1",
		"sentinel down-after-milliseconds photon 500",
		"sentinel failover-timeout photon 5000",
		""}, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	sentinel := startServer(t, conf, "--sentinel")
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr()})
	defer rc.Close()
	eventually(t, 10*time.Second, "the replica in sync", func() bool {
		info, _ := rc.Info(ctx, "replication").Result()
		return strings.Contains(info, "master_link_status:up")
	})

	rdb, err := keyspace.Open(ctx, "redis+sentinel://"+sentinel.Addr()+"/photon", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	s := store.New(rdb, "t:sentinel:").WaitForReplicas(1, 2*time.Second)
	write := func(id string) error {
		task := s.NewTask(id, "OP", model.Entity{ID: "e", Kind: model.KindVM}, model.Caller{}, []string{"step"})
		return s.Apply(ctx, s.AddTask(new(store.Batch), task))
	}
	if err := write("before"); err != nil {
		t.Fatalf("a write a replica confirms: %v", err)
	}

	primary.Kill()
	eventually(t, 30*time.Second, "the replica promoted", func() bool {
		info, _ := rc.Info(ctx, "replication").Result()
		return strings.Contains(info, "role:master")
	})
	eventually(t, 30*time.Second, "the task read through Sentinel", func() bool {
		_, err := s.GetTask(ctx, "before")
		return err == nil
	})
	// The new primary has no replica: a write that waits for one is made but refused.
	err = write("after")
	if err == nil || !strings.Contains(err.Error(), "replicas confirmed") {
		t.Fatalf("a write with no replica to confirm it: %v", err)
	}
	if _, err := store.New(rdb, "t:sentinel:").GetTask(context.WithoutCancel(ctx), "after"); err != nil {
		t.Fatalf("the write stands on the new primary: %v", err)
	}
}
