package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// TestServiceCalls: each service call sends its method, path and body shape, and decodes
// the answer; lists follow nextPageLink.
func TestServiceCalls(t *testing.T) {
	type seen struct {
		method, path, query string
		body                map[string]any // nil: no body sent
	}
	task := `{"id":"t1","operation":"X","state":"QUEUED","entity":{"id":"s1","kind":"service"}}`
	cases := []struct {
		name    string
		answers map[string]string // path (with query) -> answer
		call    func(context.Context, *Client) (any, error)
		want    []seen
		check   func(any) bool
	}{
		{
			name:    "create",
			answers: map[string]string{"/v1/projects/p1/services": task},
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateService(ctx, "p1", &pb.ServiceCreateSpec{Name: "k8s", Type: "KUBERNETES", VmFlavor: "small", VmNetworkId: "sn1",
					WorkerCount: 3, WorkerBatchExpansionSize: 2, ExtendedProperties: map[string]string{"container_network": "10.2.0.0/16"}})
			},
			want: []seen{{method: "POST", path: "/v1/projects/p1/services", body: map[string]any{"name": "k8s", "type": "KUBERNETES", "vmFlavor": "small",
				"vmNetworkId": "sn1", "workerCount": float64(3), "workerBatchExpansionSize": float64(2), "extendedProperties": map[string]any{"container_network": "10.2.0.0/16"}}}},
			check: func(v any) bool { return v.(*pb.Task).GetEntity().GetId() == "s1" },
		},
		{
			name: "list, two pages",
			answers: map[string]string{
				"/v1/projects/p1/services":            `{"items":[{"id":"s1","name":"a","projectID":"p1","workerCount":2}],"nextPageLink":"/v1/projects/p1/services?pageLink=2"}`,
				"/v1/projects/p1/services?pageLink=2": `{"items":[{"id":"s2","name":"b"}]}`,
			},
			call: func(ctx context.Context, c *Client) (any, error) { return c.ListServices(ctx, "p1") },
			want: []seen{{method: "GET", path: "/v1/projects/p1/services"}, {method: "GET", path: "/v1/projects/p1/services", query: "pageLink=2"}},
			check: func(v any) bool {
				l := v.([]*pb.Service)
				return len(l) == 2 && l[0].GetProjectId() == "p1" && l[0].GetWorkerCount() == 2 && l[1].GetId() == "s2"
			},
		},
		{
			name: "get",
			answers: map[string]string{"/v1/services/s1": `{"id":"s1","state":"READY","extendedProperties":{"ca_cert":"PEM"},` +
				`"nodes":[{"vmId":"v1","role":"master","state":"READY","ip":"10.0.0.5","lastReport":"1700000000000"}],"upgradeStatus":{"newImageId":"i2","totalNodes":3,"numNodesUpgraded":1}}`},
			call: func(ctx context.Context, c *Client) (any, error) { return c.GetService(ctx, "s1") },
			want: []seen{{method: "GET", path: "/v1/services/s1"}},
			check: func(v any) bool {
				s := v.(*pb.Service)
				return s.GetExtendedProperties()["ca_cert"] == "PEM" && s.GetNodes()[0].GetLastReport() == 1700000000000 && s.GetUpgradeStatus().GetNumNodesUpgraded() == 1
			},
		},
		{
			name:    "delete",
			answers: map[string]string{"/v1/services/s1": task},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.DeleteService(ctx, "s1") },
			want:    []seen{{method: "DELETE", path: "/v1/services/s1"}},
			check:   func(v any) bool { return v.(*pb.Task).GetId() == "t1" },
		},
		{
			name:    "vms",
			answers: map[string]string{"/v1/services/s1/vms": `{"items":[{"id":"v1","name":"master-0","state":"STARTED"}]}`},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.ListServiceVms(ctx, "s1") },
			want:    []seen{{method: "GET", path: "/v1/services/s1/vms"}},
			check:   func(v any) bool { l := v.([]*pb.Vm); return len(l) == 1 && l[0].GetName() == "master-0" },
		},
		{
			name:    "resize",
			answers: map[string]string{"/v1/services/s1/resize": task},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.ResizeService(ctx, "s1", 5) },
			want:    []seen{{method: "POST", path: "/v1/services/s1/resize", body: map[string]any{"newWorkerCount": float64(5)}}},
			check:   func(v any) bool { return v.(*pb.Task).GetId() == "t1" },
		},
		{
			name:    "trigger maintenance",
			answers: map[string]string{"/v1/services/s1/trigger_maintenance": task},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.TriggerServiceMaintenance(ctx, "s1") },
			want:    []seen{{method: "POST", path: "/v1/services/s1/trigger_maintenance", body: map[string]any{}}},
			check:   func(v any) bool { return v.(*pb.Task).GetId() == "t1" },
		},
		{
			name:    "change version",
			answers: map[string]string{"/v1/services/s1/change_version": task},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.ChangeServiceVersion(ctx, "s1", "img2") },
			want:    []seen{{method: "POST", path: "/v1/services/s1/change_version", body: map[string]any{"newImageId": "img2"}}},
			check:   func(v any) bool { return v.(*pb.Task).GetId() == "t1" },
		},
		{
			name:    "tasks",
			answers: map[string]string{"/v1/services/s1/tasks?state=COMPLETED": `{"items":[{"id":"t1","state":"COMPLETED"}]}`},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.ListServiceTasks(ctx, "s1", "COMPLETED") },
			want:    []seen{{method: "GET", path: "/v1/services/s1/tasks", query: "state=COMPLETED"}},
			check:   func(v any) bool { l := v.([]*pb.Task); return len(l) == 1 && l[0].GetState() == "COMPLETED" },
		},
		{
			name:    "kubeconfig",
			answers: map[string]string{"/v1/services/s1/kubeconfig": `{"kubeconfig":"apiVersion: v1\nkind: Config\n"}`},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.GetServiceKubeconfig(ctx, "s1") },
			want:    []seen{{method: "GET", path: "/v1/services/s1/kubeconfig"}},
			check:   func(v any) bool { return string(v.([]byte)) == "apiVersion: v1\nkind: Config\n" },
		},
		{
			name:    "service types",
			answers: map[string]string{"/v1/system/service-types": `{"items":[{"type":"KUBERNETES","imageId":"img1"},{"type":"HARBOR","imageId":"img2"}]}`},
			call:    func(ctx context.Context, c *Client) (any, error) { return c.ListServiceTypes(ctx) },
			want:    []seen{{method: "GET", path: "/v1/system/service-types"}},
			check: func(v any) bool {
				l := v.([]*pb.ServiceType)
				return len(l) == 2 && l[0].GetType() == "KUBERNETES" && l[1].GetImageId() == "img2"
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []seen
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery}
				raw, _ := io.ReadAll(r.Body)
				if len(raw) > 0 {
					if err := json.Unmarshal(raw, &s.body); err != nil {
						t.Errorf("body %q: %v", raw, err)
					}
					if ct := r.Header.Get("Content-Type"); ct != "application/json" {
						t.Errorf("Content-Type %q", ct)
					}
				}
				mu.Lock()
				got = append(got, s)
				mu.Unlock()
				key := r.URL.Path
				if r.URL.RawQuery != "" {
					key += "?" + r.URL.RawQuery
				}
				answer, ok := tc.answers[key]
				if !ok {
					w.WriteHeader(http.StatusNotFound)
					fmt.Fprintf(w, `{"code":"NotFound","message":"%s"}`, key)
					return
				}
				fmt.Fprint(w, answer)
			}))
			defer srv.Close()
			c, err := New(Options{URL: srv.URL, Token: "tok"})
			if err != nil {
				t.Fatal(err)
			}
			v, err := tc.call(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("requests\n%+v\nwant\n%+v", got, tc.want)
			}
			if !tc.check(v) {
				t.Fatalf("answer decoded as %v", v)
			}
		})
	}
}
