package devcloud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/shared/store/storetest"
	"github.com/photon-cloud/photon/tracing"
)

var spans = tracetest.NewInMemoryExporter()

func TestMain(m *testing.M) {
	shutdown, err := tracing.Setup(context.Background(), tracing.Options{SpanExporter: spans, Service: "photon-test"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	shutdown(context.Background())
	os.Exit(code)
}

// cloud starts a dev cloud on the test Redis, as `photon up --redis` would.
func cloud(t *testing.T, hosts int) (*devcloud.Cloud, *client) {
	t.Helper()
	return cloudWith(t, hosts, nil)
}

// cloudWith is cloud with options that adjust changes.
func cloudWith(t *testing.T, hosts int, adjust func(*devcloud.Options)) (*devcloud.Cloud, *client) {
	t.Helper()
	o := devcloud.Options{RedisURL: storetest.URL(t), Prefix: storetest.Prefix(t),
		Hosts: hosts, HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", AdminPassword: "s3cret", Heartbeat: time.Second}
	if adjust != nil {
		adjust(&o)
	}
	c, err := devcloud.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	cl := &client{t: t, base: "http://" + c.Gateway.HTTPAddr()}
	cl.token = cl.login("admin", "s3cret")
	return c, cl
}

// client speaks REST as a Photon user would.
type client struct {
	t     *testing.T
	base  string
	token string
}

func (c *client) login(user, pass string) string {
	c.t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}, "scope": {"openid"}}
	res, err := http.PostForm(c.base+"/openidconnect/token", form)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		c.t.Fatalf("login: status %d, %v", res.StatusCode, err)
	}
	return tok.AccessToken
}

// do sends a request and decodes the JSON answer into out; it returns the status.
func (c *client) do(method, path string, body any, out any) int {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequestWithContext(c.t.Context(), method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return res.StatusCode
}

// The JSON shapes below are those of Photon's Go SDK (photon/apitypes.go): decoding into
// them checks field names and types (int64 times as numbers).
type apiError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

type step struct {
	Operation string     `json:"operation"`
	State     string     `json:"state"`
	Sequence  int        `json:"sequence"`
	Errors    []apiError `json:"errors"`
}

type task struct {
	ID          string `json:"id"`
	Operation   string `json:"operation"`
	State       string `json:"state"`
	QueuedTime  int64  `json:"queuedTime"`
	StartedTime int64  `json:"startedTime"`
	EndTime     int64  `json:"endTime"`
	Entity      struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	} `json:"entity"`
	SelfLink string `json:"selfLink"`
	Steps    []step `json:"steps"`
	ParentID string `json:"parentId"`
	Progress *struct {
		Total     int `json:"total"`
		Completed int `json:"completed"`
		Failed    int `json:"failed"`
		InFlight  int `json:"inFlight"`
	} `json:"progress"`
}

type quotaLineItem struct {
	Key   string  `json:"key"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

type attachedDisk struct {
	Flavor     string `json:"flavor"`
	Kind       string `json:"kind"`
	CapacityGB int    `json:"capacityGb,omitempty"`
	Name       string `json:"name"`
	State      string `json:"state,omitempty"`
	ID         string `json:"id,omitempty"`
	BootDisk   bool   `json:"bootDisk"`
}

type vm struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	State         string          `json:"state"`
	Host          string          `json:"host"`
	Datastore     string          `json:"datastore"`
	Flavor        string          `json:"flavor"`
	Cost          []quotaLineItem `json:"cost"`
	AttachedDisks []attachedDisk  `json:"attachedDisks"`
	SelfLink      string          `json:"selfLink"`
}

// wait polls a task until it ends or the deadline passes.
func (c *client) wait(id string) task {
	c.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var tk task
		if st := c.do("GET", "/v1/tasks/"+id, nil, &tk); st != 200 {
			c.t.Fatalf("get task %s: %d", id, st)
		}
		if tk.State == "COMPLETED" || tk.State == "ERROR" {
			return tk
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("task %s still %s: %+v", id, tk.State, tk.Steps)
		}
		time.Sleep(20 * time.Millisecond) // polling a task, as Photon clients do
	}
}

// create posts a spec and returns the task, failing the test on a non-2xx answer.
func (c *client) create(path string, spec any) task {
	c.t.Helper()
	var tk task
	if st := c.do("POST", path, spec, &tk); st/100 != 2 {
		c.t.Fatalf("POST %s: status %d", path, st)
	}
	return tk
}

// fixture is a tenant, project, flavors and image ready for VMs.
type fixture struct {
	tenant, project, image string
}

func setup(t *testing.T, c *client, vmQuota float64) fixture {
	t.Helper()
	var f fixture
	f.tenant = c.create("/v1/tenants", map[string]any{"name": "acme"}).Entity.ID
	f.project = c.create("/v1/tenants/"+f.tenant+"/projects", map[string]any{"name": "web",
		"resourceTicket": map[string]any{"name": "gold", "limits": []quotaLineItem{
			{Key: "vm.count", Value: vmQuota, Unit: "COUNT"}, {Key: "vm.memory", Value: 64, Unit: "GB"}}}}).Entity.ID
	c.create("/v1/flavors", map[string]any{"name": "small", "kind": "vm", "cost": []quotaLineItem{
		{Key: "vm.cpu", Value: 1, Unit: "COUNT"}, {Key: "vm.memory", Value: 2, Unit: "GB"}}})
	c.create("/v1/flavors", map[string]any{"name": "disk", "kind": "ephemeral-disk", "cost": []quotaLineItem{
		{Key: "ephemeral-disk", Value: 1, Unit: "COUNT"}}})
	f.image = c.create("/v1/images/register", map[string]any{"name": "photon-os", "diskPath": devcloud.DefaultImage}).Entity.ID
	return f
}

func vmSpec(f fixture, name string) map[string]any {
	return map[string]any{"name": name, "flavor": "small", "sourceImageId": f.image, "powerOn": true, "attachedDisks": []attachedDisk{
		{Name: "boot", Kind: "ephemeral-disk", Flavor: "disk", BootDisk: true},
		{Name: "data", Kind: "ephemeral-disk", Flavor: "disk", CapacityGB: 2},
	}}
}
