// Package storetest gives tests a real Redis: the server named by PHOTON_TEST_REDIS_URL
// (make test starts one), or else a redis-server child process started once per test
// binary. Every test gets its own key prefix, so tests run in parallel on one server.
package storetest

import (
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/store"
)

var (
	once   sync.Once
	url    string
	urlErr error
)

// URL returns the address of the test Redis server, starting one if needed.
func URL(t testing.TB) string {
	t.Helper()
	u, err := ServerURL()
	if err != nil {
		t.Fatalf("test redis: %v", err)
	}
	return u
}

func start() (string, error) {
	if u := os.Getenv("PHOTON_TEST_REDIS_URL"); u != "" {
		return u, nil
	}
	srv, err := RunServer(os.TempDir())
	if err != nil {
		return "", err
	}
	return srv.URL(), nil
}

// ServerURL is URL for a TestMain, before there is a test: the server of
// PHOTON_TEST_REDIS_URL, or else one started once per test binary. Its error is
// exec.ErrNotFound when there is no redis-server to start.
func ServerURL() (string, error) {
	once.Do(func() { url, urlErr = start() })
	return url, urlErr
}

// SingleURL is URL for a test about one server's connection (a proxy in front of its
// address): it skips the test when the test Redis is a cluster or Sentinel's.
func SingleURL(t testing.TB) string {
	t.Helper()
	u := URL(t)
	if _, err := keyspace.ParseURL(u); err != nil {
		t.Skipf("the test Redis %s is not one server: this test is about one server's connection", u)
	}
	return u
}

// Client returns a client of the test server, closed when the test ends.
func Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	c, err := keyspace.NewClient(URL(t), 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Prefix returns a key prefix no other test uses.
func Prefix(t testing.TB) string {
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return "t:" + name + ":" + uuid.NewString()[:8] + ":"
}

// New returns a Store on the test server under a fresh prefix.
func New(t testing.TB) *store.Store {
	t.Helper()
	s, _ := NewWithClient(t)
	return s
}

// NewWithClient is New that also returns the store's client, for the tests that wire the
// stores which share it (auth, pki, the broker, the notifier) or read what the store
// wrote: the store itself hands out no client.
func NewWithClient(t testing.TB) (*store.Store, redis.UniversalClient) {
	t.Helper()
	c := Client(t)
	return store.New(c, Prefix(t)), c
}

// CPU is the CPU time this process and the Redis server of rdb have used so far, for
// benchmarks that report what an operation costs both.
func CPU(tb testing.TB, rdb redis.UniversalClient) (proc, server time.Duration) {
	tb.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	u, err := keyspace.Measure(context.Background(), rdb)
	if err != nil || !u.CPU {
		tb.Fatalf("redis cpu: %+v %v", u, err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), time.Duration(u.CPUSeconds * float64(time.Second))
}
