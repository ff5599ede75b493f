package loadtest_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/loadtest"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// start brings up a dev cloud with hosts simulated hosts and a fixture ready for VMs, on
// the test redis-server or, with embedded set, on the embedded Redis as plain `photon up`.
func start(tb testing.TB, hosts int, embedded bool) (*loadtest.Client, loadtest.Fixture, *devcloud.Cloud) {
	ctx := context.Background()
	o := devcloud.Options{RedisURL: storetest.URL(tb), Prefix: storetest.Prefix(tb), Hosts: hosts,
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0"}
	if embedded {
		o.RedisURL, o.Prefix = "", ""
	}
	c, err := devcloud.Start(ctx, o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close(context.Background()) })
	tok, err := c.AdminToken()
	if err != nil {
		tb.Fatal(err)
	}
	cl := &loadtest.Client{Base: "http://" + c.Gateway.HTTPAddr(), Token: tok,
		HTTP: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: time.Minute}}
	f, err := loadtest.Prepare(ctx, cl, "load", devcloud.DefaultImage)
	if err != nil {
		tb.Fatal(err)
	}
	return cl, f, c
}

// BenchmarkBurst200 creates 200 VMs at once on 4 simulated hosts through the whole chain,
// one call per VM, and reports VMs per minute, latency percentiles and the ratio to the
// raw govmomi baseline on the same hosts.
//
//	go test -run '^$' -bench Burst200 -benchtime 1x ./loadtest/
func BenchmarkBurst200(b *testing.B) { burst200(b, false) }

// BenchmarkBurst200Embedded is the same burst on the embedded Redis that `photon up` uses
// when it is given no --redis.
func BenchmarkBurst200Embedded(b *testing.B) { burst200(b, true) }

func burst200(b *testing.B, embedded bool) {
	cl, f, c := start(b, 4, embedded)
	for b.Loop() {
		r := loadtest.Run{API: cl, Project: f.Project, VMs: 200, Concurrency: 200, Spec: f.Spec}.Do(context.Background())
		if r.Errors > 0 {
			b.Fatalf("%d creates failed", r.Errors)
		}
		var urls []*url.URL
		for _, s := range c.Sims {
			urls = append(urls, s.URL)
		}
		base, err := loadtest.Baseline(context.Background(), urls, devcloud.DefaultImage, 200, 200)
		if err != nil || base.Errors > 0 {
			b.Fatalf("baseline: %v, %d errors", err, base.Errors)
		}
		b.ReportMetric(r.PerMinute()/base.PerMinute(), "ratio")
		b.Logf("BASELINE %s", base)
		b.ReportMetric(r.PerMinute(), "vms/min")
		b.ReportMetric(float64(r.P50.Milliseconds()), "p50-ms")
		b.ReportMetric(float64(r.P99.Milliseconds()), "p99-ms")
		b.Logf("RESULT %s", r)
	}
}

// TestBurstSmoke is a short burst in the normal test run, over REST one call per VM
// (polling each task, or waiting for its end on the event stream) and over gRPC in bulk
// calls: every VM must complete and be measured.
func TestBurstSmoke(t *testing.T) {
	cl, f, c := start(t, 2, false)
	conn, err := grpcConn(c)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := cl.WatchEnds(t.Context(), f.Project)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		api  loadtest.API
		vms  int
		bulk int
		ends *loadtest.Ends
		// affinity, when set, is a host tag every VM asks for.
		affinity string
		// failed, when set, is what the first error says: every VM fails.
		failed string
	}{
		{"rest single", cl, 60, 0, nil, "", ""},
		{"rest single, ends on the event stream", cl, 60, 0, ends, "", ""},
		{"grpc bulk", &loadtest.GRPC{Conn: conn, Token: cl.Token}, 60, 20, nil, "", ""},
		{"rest bulk over the limit", cl, 1001, 1001, nil, "", "400 InvalidEntity count must be between 1 and 1000"},
		{"rest, no host has the tag", cl, 3, 0, nil, "NOWHERE", ": step PLACE_VM: NoSuchResource no host tagged NOWHERE can take"},
		{"grpc, no host has the tag", &loadtest.GRPC{Conn: conn, Token: cl.Token}, 3, 0, nil, "NOWHERE", ": step PLACE_VM: NoSuchResource no host tagged NOWHERE can take"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var last [3]int
			api := &countReads{API: tc.api}
			spec := f.Spec
			if tc.affinity != "" {
				spec = func(i int) map[string]any {
					s := f.Spec(i)
					s["affinities"] = []map[string]any{{"kind": "hostTag", "id": tc.affinity}}
					return s
				}
			}
			r := loadtest.Run{API: api, Project: f.Project, VMs: tc.vms, Concurrency: 20, Bulk: tc.bulk, Spec: spec,
				Progress: func(done, failed, inFlight int) { last = [3]int{done, failed, inFlight} },
				Ends:     tc.ends, EndsCheck: time.Hour}.Do(t.Context())
			if tc.failed != "" {
				if r.Errors != tc.vms || !strings.Contains(r.FirstError, tc.failed) || last != [3]int{0, tc.vms, 0} {
					t.Fatalf("burst: %s, first error %q, last progress %v; want every VM failed for %q", r, r.FirstError, last, tc.failed)
				}
				return
			}
			if r.Errors != 0 || r.FirstError != "" || r.VMs != tc.vms || len(r.Done) != tc.vms || r.Steps["START_VM"].N != tc.vms {
				t.Fatalf("burst: %s (%s), %d done, steps %v", r, r.FirstError, len(r.Done), r.Steps)
			}
			if last != [3]int{tc.vms, 0, 0} {
				t.Fatalf("last progress %v", last)
			}
			if reads := api.reads.Load(); tc.ends != nil && reads != int64(tc.vms) {
				t.Fatalf("%d task reads waiting on the event stream, want one a VM", reads)
			}
			t.Logf("smoke: %s, %d task reads", r, api.reads.Load())
		})
	}
}

// countReads counts the task reads a run makes.
type countReads struct {
	loadtest.API
	reads atomic.Int64
}

func (c *countReads) GetTask(ctx context.Context, id string) (*loadtest.Task, error) {
	c.reads.Add(1)
	return c.API.GetTask(ctx, id)
}

// BenchmarkCreateOne creates one VM at a time: the end-to-end latency of a single create
// through the whole chain (ns/op is per VM).
//
//	go test -run '^$' -bench CreateOne -benchtime 50x ./loadtest/
func BenchmarkCreateOne(b *testing.B) {
	cl, f, _ := start(b, 4, false)
	i := 0
	for b.Loop() {
		r := loadtest.Run{API: cl, Project: f.Project, VMs: 1, Concurrency: 1, Spec: func(int) map[string]any { i++; return f.Spec(i) }}.Do(context.Background())
		if r.Errors > 0 {
			b.Fatal("create failed")
		}
	}
}

func grpcConn(c *devcloud.Cloud) (*grpc.ClientConn, error) {
	return grpc.NewClient(c.Gateway.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
}
