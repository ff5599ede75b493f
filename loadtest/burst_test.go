package loadtest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/loadtest"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// start brings up a dev cloud with hosts simulated hosts and a project ready for VMs, on
// the test redis-server or, with embedded set, on the embedded Redis as plain `photon up`.
func start(tb testing.TB, hosts int, embedded ...bool) (*loadtest.Client, string, string) {
	cl, project, image, _ := startCloud(tb, hosts, embedded...)
	return cl, project, image
}

func startCloud(tb testing.TB, hosts int, embedded ...bool) (*loadtest.Client, string, string, *devcloud.Cloud) {
	ctx := context.Background()
	o := devcloud.Options{RedisURL: storetest.URL(tb), Prefix: storetest.Prefix(tb), Hosts: hosts,
		HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0"}
	if len(embedded) > 0 && embedded[0] {
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
	var tk struct {
		Entity struct{ ID string } `json:"entity"`
	}
	must := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(cl.Do(ctx, "POST", "/v1/tenants", map[string]any{"name": "load"}, &tk))
	must(cl.Do(ctx, "POST", "/v1/tenants/"+tk.Entity.ID+"/projects", map[string]any{"name": "load"}, &tk))
	project := tk.Entity.ID
	must(cl.Do(ctx, "POST", "/v1/flavors", map[string]any{"name": "tiny", "kind": "vm", "cost": []map[string]any{
		{"key": "vm.cpu", "value": 1, "unit": "COUNT"}, {"key": "vm.memory", "value": 32, "unit": "MB"}}}, nil))
	must(cl.Do(ctx, "POST", "/v1/flavors", map[string]any{"name": "disk", "kind": "ephemeral-disk", "cost": []map[string]any{
		{"key": "ephemeral-disk", "value": 1, "unit": "COUNT"}}}, nil))
	must(cl.Do(ctx, "POST", "/v1/images/register", map[string]any{"name": "photon-os", "diskPath": devcloud.DefaultImage}, &tk))
	return cl, project, tk.Entity.ID, c
}

func spec(image string) func(int) any {
	return func(i int) any {
		return map[string]any{"name": fmt.Sprint("vm-", i), "flavor": "tiny", "sourceImageId": image,
			"attachedDisks": []map[string]any{
				{"name": "boot", "kind": "ephemeral-disk", "flavor": "disk", "bootDisk": true},
				{"name": "data", "kind": "ephemeral-disk", "flavor": "disk", "capacityGb": 1}}}
	}
}

// BenchmarkBurst200 creates 200 VMs at once on 4 simulated hosts through the whole chain
// and reports VMs per minute and latency percentiles.
//
//	go test -run '^$' -bench Burst200 -benchtime 1x ./loadtest/
func BenchmarkBurst200(b *testing.B) { burst200(b, false) }

// BenchmarkBurst200Embedded is the same burst on the embedded Redis that `photon up` uses
// when it is given no --redis.
func BenchmarkBurst200Embedded(b *testing.B) { burst200(b, true) }

func burst200(b *testing.B, embedded bool) {
	cl, project, image, c := startCloud(b, 4, embedded)
	for b.Loop() {
		r := loadtest.Burst(context.Background(), cl, project, 200, 200, spec(image))
		if r.Errors > 0 {
			b.Fatalf("%d creates failed", r.Errors)
		}
		// The raw baseline: the same work straight to the same simulated hosts.
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

// TestBurstSmoke is a short burst in the normal test run: 20 VMs, all must complete.
func TestBurstSmoke(t *testing.T) {
	cl, project, image := start(t, 2)
	r := loadtest.Burst(t.Context(), cl, project, 20, 10, spec(image))
	if r.Errors != 0 || r.VMs != 20 {
		t.Fatalf("burst: %s", r)
	}
	t.Logf("smoke: %s", r)
}

// BenchmarkCreateOne creates one VM at a time: the end-to-end latency of a single create
// through the whole chain (ns/op is per VM).
//
//	go test -run '^$' -bench CreateOne -benchtime 50x ./loadtest/
func BenchmarkCreateOne(b *testing.B) {
	cl, project, image := start(b, 4)
	i := 0
	for b.Loop() {
		r := loadtest.Burst(context.Background(), cl, project, 1, 1, func(int) any { i++; return spec(image)(i) })
		if r.Errors > 0 {
			b.Fatal("create failed")
		}
	}
}
