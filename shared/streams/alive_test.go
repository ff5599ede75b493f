package streams_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/streams"
)

// The consumer process of TestConsumerProcesses: when the test binary runs with
// STREAMS_CONSUMER=stream,group,name,heartbeat,n it opens a consumer, reads n entries,
// prints its name and their ids, and holds them until it is killed.
func TestMain(m *testing.M) {
	if spec := os.Getenv("STREAMS_CONSUMER"); spec != "" {
		os.Exit(consumerProcess(spec))
	}
	os.Exit(m.Run())
}

func consumerProcess(spec string) int {
	var stream, group, name string
	var hb time.Duration
	var n int
	f := strings.Split(spec, ",")
	stream, group, name = f[0], f[1], f[2]
	hb, _ = time.ParseDuration(f[3])
	fmt.Sscan(f[4], &n)
	rdb, err := keyspace.NewClient(os.Getenv("PHOTON_TEST_REDIS_URL"), 0)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	ctx := context.Background()
	c, err := streams.Open(ctx, rdb, streams.Options{Stream: stream, Group: group, Consumer: name,
		Heartbeat: hb, ClaimIdle: time.Hour, Block: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	var ids []string
	for len(ids) < n {
		ms, err := c.Next(ctx, n-len(ids))
		if err != nil {
			fmt.Println("ERR", err)
			return 1
		}
		ids = append(ids, idsOf(ms)...)
	}
	fmt.Println(c.Name(), strings.Join(ids, " "))
	select {} // held until killed
}

// consumerProc is a consumer in a process of its own.
type consumerProc struct {
	cmd  *exec.Cmd
	name string
	held []string
}

// startConsumer runs a consumer process that reads n entries of f's stream as name
// ("" for the default name) and holds them.
func startConsumer(t *testing.T, f *fixture, name string, hb time.Duration, n int) *consumerProc {
	t.Helper()
	if os.Getenv("PHOTON_TEST_REDIS_URL") == "" {
		t.Skip("needs PHOTON_TEST_REDIS_URL (scripts/with-redis.sh) for its consumer processes")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("STREAMS_CONSUMER=%s,%s,%s,%s,%d", f.stream, group, name, hb, n))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &consumerProc{cmd: cmd}
	t.Cleanup(p.kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "ERR") {
		t.Fatalf("consumer process: %q %v", line, err)
	}
	fields := strings.Fields(line)
	p.name, p.held = fields[0], fields[1:]
	return p
}

// kill kills the process with SIGKILL, as a crash would end it, and waits for it to end.
func (p *consumerProc) kill() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

func (f *fixture) consumers(t *testing.T) []string {
	t.Helper()
	cs, err := f.rdb.XInfoConsumers(t.Context(), f.stream, group).Result()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Name)
	}
	return names
}

// TestConsumerProcesses: a consumer process killed with SIGKILL has its entries claimed
// by a live consumer within seconds, and is then removed from the group; a restarted
// process takes its default name back and its backlog at once; two live processes
// never share a name.
func TestConsumerProcesses(t *testing.T) {
	t.Parallel()
	const hb = 200 * time.Millisecond
	cases := []struct {
		name  string
		child string        // the consumer process's name; "" for the default
		hb    time.Duration // heartbeat of both; 0 for the default
		after string        // the name the consumer opened after takes
		kill  bool          // the process is killed first
		// within: the consumer opened after has every held entry within this time of
		// the kill; 0 when it must not get them while the process lives.
		within time.Duration
	}{
		{"killed: another consumer claims within seconds (default heartbeat)", "a", 0, "b", true, 5 * time.Second},
		{"killed: a restart takes its default name and backlog at once", "", hb, "", true, hb},
		{"alive: a second process takes another name and nothing held", "", hb, "", false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 5)
			child := startConsumer(t, f, tc.child, tc.hb, 3)
			if tc.kill {
				child.kill()
			}
			killed := time.Now()
			c, err := streams.Open(t.Context(), f.rdb, streams.Options{Stream: f.stream, Group: group, Consumer: tc.after,
				Heartbeat: tc.hb, ClaimIdle: time.Hour, Block: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			sameName := c.Name() == child.name
			if sameName != (tc.kill && tc.after == tc.child) {
				t.Fatalf("the consumer after is named %s, the process was %s", c.Name(), child.name)
			}
			if tc.within == 0 {
				if got := collect(t, c, 3, 3*deadAfter(tc.hb)); slices.ContainsFunc(got, func(id string) bool { return slices.Contains(child.held, id) }) {
					t.Fatalf("%s got %v while live %s holds %v", c.Name(), got, child.name, child.held)
				}
				child.kill()
				killed = time.Now()
				tc.within = 2 * deadAfter(tc.hb)
			}
			var got []string
			for deadline := killed.Add(10 * time.Second); time.Now().Before(deadline); {
				ms, err := c.Next(t.Context(), 100)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, idsOf(ms)...)
				if !slices.ContainsFunc(child.held, func(id string) bool { return !slices.Contains(got, id) }) {
					break
				}
			}
			took := time.Since(killed)
			if slices.ContainsFunc(child.held, func(id string) bool { return !slices.Contains(got, id) }) || took > tc.within {
				t.Fatalf("after %v %s has %v of the dead process's %v, want all within %v", took, c.Name(), got, child.held, tc.within)
			}
			t.Logf("%s had the dead process's entries %v after its death", c.Name(), took.Round(time.Millisecond))
			if sameName {
				return
			}
			if err := c.Ack(t.Context(), got...); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); slices.Contains(f.consumers(t), child.name); {
				if time.Now().After(deadline) {
					t.Fatalf("dead consumer %s still in the group: %v", child.name, f.consumers(t))
				}
				if _, err := c.Next(t.Context(), 100); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// deadAfter is how long a consumer of heartbeat hb (0: the default) may be silent before
// it counts as dead.
func deadAfter(hb time.Duration) time.Duration {
	if hb == 0 {
		hb = time.Second
	}
	return 3 * hb
}
