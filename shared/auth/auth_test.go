package auth

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/policy"
)

// redisURL is the URL of the test Redis (make test's, or a redis-server TestMain started), or "" with the reason
// in redisSkip when there is none.
var (
	redisURL  string
	redisSkip string
)

func TestMain(m *testing.M) {
	stop, err := startRedis()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start redis-server:", err)
		os.Exit(1)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

// startRedis uses the Redis of PHOTON_TEST_REDIS_URL (make test's) or starts a throwaway
// redis-server on a free port and returns once it accepts connections. A missing binary
// is not an error: the tests that need Redis skip.
func startRedis() (stop func(), err error) {
	if u := os.Getenv("PHOTON_TEST_REDIS_URL"); u != "" {
		redisURL = u
		return func() {}, nil
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		redisSkip = "redis-server not installed"
		return func() {}, nil
	}
	// The free port may be taken between Close and redis-server's bind; try again then.
	for range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		_ = l.Close()
		stop, err := runRedis(bin, port)
		if err == nil {
			redisURL = fmt.Sprintf("redis://127.0.0.1:%d", port)
			return stop, nil
		}
		fmt.Fprintln(os.Stderr, "redis-server on port", port, ":", err)
	}
	return nil, errors.New("redis-server did not start")
}

// runRedis starts redis-server and waits for its "Ready to accept connections" line,
// then checks that PING answers.
func runRedis(bin string, port int) (func(), error) {
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	// It goes with this process, however that ends: a fuzz worker the fuzzing engine kills
	// must not leave a server behind holding the worker's pipes open, on which the engine
	// would wait for ever.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }

	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log strings.Builder
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out) // keep the pipe drained
				return
			}
			log.WriteString(sc.Text() + "\n")
		}
		ready <- fmt.Errorf("exited before it was ready:\n%s", log.String())
	}()
	select {
	case err = <-ready:
	case <-time.After(20 * time.Second):
		err = errors.New("not ready after 20s")
	}
	if err == nil {
		rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
		err = rdb.Ping(context.Background()).Err()
		_ = rdb.Close()
	}
	if err != nil {
		stop()
		return nil, err
	}
	return stop, nil
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
