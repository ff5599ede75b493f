package auth

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// redisURL is the URL of the test Redis (make test's, or a redis-server TestMain started), or "" with the reason
// in redisSkip when there is none.
var (
	redisURL  string
	redisSkip string
)

func TestMain(m *testing.M) {
	u, err := storetest.ServerURL()
	switch {
	case errors.Is(err, exec.ErrNotFound):
		redisSkip = "redis-server not installed"
	case err != nil:
		fmt.Fprintln(os.Stderr, "start redis-server:", err)
		os.Exit(1)
	}
	redisURL = u
	os.Exit(m.Run())
}

// runID tells this process's keys from those of the others sharing the server (the
// fuzzing engine's workers, another run).
var runID = strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(os.Getpid())

// newRedis returns a client of the test server and a key prefix of the test's own.
func newRedis(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	if redisURL == "" {
		t.Skip(redisSkip)
	}
	rdb, err := keyspace.NewClient(redisURL, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb, "test:" + runID + ":" + t.Name() + ":"
}

// codeOf is the Photon code of err, or "" when err is not an *errs.Error.
func codeOf(err error) string {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestSystemAdminsGroupMatchesPolicy(t *testing.T) {
	if SystemAdminsGroup != policy.SystemAdminsGroup {
		t.Fatalf("auth.SystemAdminsGroup %q != policy.SystemAdminsGroup %q", SystemAdminsGroup, policy.SystemAdminsGroup)
	}
}

func TestPrincipal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		p       Principal
		groups  []string
		inGroup bool
		admin   bool
	}{
		{"no groups", Principal{Subject: "a"}, []string{"x"}, false, false},
		{"member", Principal{Subject: "a", Groups: []string{"t\\Users", "x"}}, []string{"x"}, true, false},
		{"one of several", Principal{Subject: "a", Groups: []string{"y"}}, []string{"x", "y"}, true, false},
		{"case matters", Principal{Subject: "a", Groups: []string{"X"}}, []string{"x"}, false, false},
		{"none asked", Principal{Subject: "a", Groups: []string{"x"}}, nil, false, false},
		{"admin", Principal{Subject: "a", Groups: []string{SystemAdminsGroup}}, []string{SystemAdminsGroup}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.InGroup(tt.groups...); got != tt.inGroup {
				t.Errorf("InGroup(%q) = %v, want %v", tt.groups, got, tt.inGroup)
			}
			if got := tt.p.IsSystemAdmin(); got != tt.admin {
				t.Errorf("IsSystemAdmin() = %v, want %v", got, tt.admin)
			}
		})
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	if _, ok := FromContext(t.Context()); ok {
		t.Fatal("FromContext found a principal in an empty context")
	}
	want := Principal{Subject: "alice", Groups: []string{"g"}}
	got, ok := FromContext(WithPrincipal(t.Context(), want))
	if !ok || got.Subject != want.Subject || len(got.Groups) != 1 || got.Groups[0] != "g" {
		t.Fatalf("FromContext = %+v, %v; want %+v, true", got, ok, want)
	}
}
