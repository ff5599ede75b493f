package devcloud_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
)

// TestBadInput: bad requests get a 4xx with a Photon ApiError and write nothing.
func TestBadInput(t *testing.T) {
	t.Parallel()
	_, cl := cloud(t, 1)
	f := setup(t, cl, 10)
	vms := "/v1/projects/" + f.project + "/vms"
	noBoot := vmSpec(f, "x")
	noBoot["attachedDisks"] = []attachedDisk{}
	noSubnet := vmSpec(f, "x")
	noSubnet["subnets"] = []string{"nope"}
	cases := []struct {
		name, method, path string
		body               any
		token              string
		wantStatus         int
		wantCode           string
	}{
		{"malformed JSON", "POST", vms, `{"name": "x", `, "", 400, "InvalidJson"},
		{"wrong type", "POST", vms, `{"name": "x", "count": "many"}`, "", 400, "InvalidJson"},
		{"tenant name of 100,000 characters", "POST", "/v1/tenants", map[string]any{"name": strings.Repeat("a", 100_000)}, "", 400, "InvalidEntity"},
		{"tenant name with NUL and markup", "POST", "/v1/tenants", map[string]any{"name": "a\x00<script>"}, "", 400, "InvalidEntity"},
		{"missing name", "POST", vms, map[string]any{"flavor": "small", "sourceImageId": f.image}, "", 400, "InvalidEntity"},
		{"unknown flavor", "POST", vms, map[string]any{"name": "x", "flavor": "huge", "sourceImageId": f.image}, "", 400, "InvalidEntity"},
		{"unknown image", "POST", vms, map[string]any{"name": "x", "flavor": "small", "sourceImageId": "nope"}, "", 400, "InvalidEntity"},
		{"no boot disk", "POST", vms, noBoot, "", 400, "InvalidEntity"},
		{"unknown subnet", "POST", vms, noSubnet, "", 400, "InvalidEntity"},
		{"unknown VM verb state", "POST", "/v1/vms/nope/start", nil, "", 404, "NotFound"},
		{"unknown disk", "GET", "/v1/disks/nope", nil, "", 404, "NotFound"},
		{"unknown project", "POST", "/v1/projects/nope/vms", vmSpec(f, "x"), "", 404, "NotFound"},
		{"unknown vm", "GET", "/v1/vms/nope", nil, "", 404, "NotFound"},
		{"bad page link", "GET", "/v1/tenants?pageLink=!!", nil, "", 400, "InvalidEntity"},
		{"flavor without cpu", "POST", "/v1/flavors", map[string]any{"name": "f", "kind": "vm",
			"cost": []quotaLineItem{{Key: "vm.memory", Value: 1, Unit: "GB"}}}, "", 400, "InvalidEntity"},
		{"duplicate tenant", "POST", "/v1/tenants", map[string]any{"name": "acme"}, "", 400, "NameTaken"},
		{"no token", "GET", "/v1/tenants", nil, "-", 401, "MissingAuthToken"},
		{"bad token", "GET", "/v1/tenants", nil, "garbage", 401, "InvalidAuthToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := *cl
			c.t = t
			switch tc.token {
			case "-":
				c.token = ""
			case "":
			default:
				c.token = tc.token
			}
			var e apiError
			if st := c.do(tc.method, tc.path, tc.body, &e); st != tc.wantStatus || e.Code != tc.wantCode || e.Message == "" {
				t.Fatalf("got %d %+v, want %d %s with a message", st, e, tc.wantStatus, tc.wantCode)
			}
		})
	}
	var list struct {
		Items []vm `json:"items"`
	}
	if st := cl.do("GET", vms, nil, &list); st != 200 || len(list.Items) != 0 {
		t.Fatalf("bad requests wrote VMs: %+v", list)
	}
}

// TestPagination follows nextPageLink as Photon's SDK does (endpoint + link).
func TestPagination(t *testing.T) {
	t.Parallel()
	_, cl := cloud(t, 1)
	for i := range 5 {
		cl.create("/v1/tenants", map[string]any{"name": string(rune('a' + i))})
	}
	var names []string
	link := "/v1/tenants?pageSize=2"
	for pages := 0; link != ""; pages++ {
		var page struct {
			Items []struct {
				Name string `json:"name"`
			} `json:"items"`
			NextPageLink string `json:"nextPageLink"`
		}
		if st := cl.do("GET", link, nil, &page); st != 200 || len(page.Items) > 2 || pages > 5 {
			t.Fatalf("page %d: %d %+v", pages, st, page)
		}
		for _, it := range page.Items {
			names = append(names, it.Name)
		}
		link = page.NextPageLink
	}
	if len(names) != 5 || names[0] != "a" || names[4] != "e" {
		t.Fatalf("pages gave %v", names)
	}
}

// TestGRPC uses the gRPC API with the same token, and checks that errors carry Photon codes.
func TestGRPC(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	cc, err := grpc.NewClient(c.Gateway.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	tenants := pb.NewTenantsClient(cc)
	if _, err := tenants.ListTenants(t.Context(), &pb.ListTenantsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("no token: %v", err)
	}
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+cl.token)
	tk, err := tenants.CreateTenant(ctx, &pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "grpc"}})
	if err != nil || tk.GetState() != "COMPLETED" {
		t.Fatalf("create tenant: %v %v", tk, err)
	}
	got, err := tenants.GetTenant(ctx, &pb.IdRequest{Id: tk.GetEntity().GetId()})
	if err != nil || got.GetName() != "grpc" {
		t.Fatalf("get tenant: %v %v", got, err)
	}
	if _, err := tenants.GetTenant(ctx, &pb.IdRequest{Id: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("missing tenant: %v", err)
	}
}

// TestProjectUser: a member of a project's security group works in that project and
// sees nothing else; what an id names outside their reach is NotFound, not Forbidden.
func TestProjectUser(t *testing.T) {
	t.Parallel()
	c, admin := cloud(t, 1)
	f := setup(t, admin, 10)
	other := admin.create("/v1/tenants/"+f.tenant+"/projects", map[string]any{"name": "other"}).Entity.ID
	web := admin.create("/v1/tenants/"+f.tenant+"/projects", map[string]any{"name": "team",
		"securityGroups": []string{"acme\\team"}}).Entity.ID
	tok, _, err := c.Issuer.Sign(auth.Principal{Subject: "bob", Groups: []string{"acme\\team"}})
	if err != nil {
		t.Fatal(err)
	}
	bob := *admin
	bob.token = tok
	cases := []struct {
		name, method, path string
		body               any
		want               int
		code               string
	}{
		{"own project", "GET", "/v1/projects/" + web, nil, 200, ""},
		{"other project", "GET", "/v1/projects/" + other, nil, 404, "NotFound"},
		{"VMs of other project", "GET", "/v1/projects/" + other + "/vms", nil, 404, "NotFound"},
		{"create in other project", "POST", "/v1/projects/" + other + "/vms", vmSpec(f, "x"), 404, "NotFound"},
		{"tenant", "GET", "/v1/tenants/" + f.tenant, nil, 404, "NotFound"},
		{"create tenant", "POST", "/v1/tenants", map[string]any{"name": "mine"}, 403, "AccessForbidden"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := bob
			c.t = t
			var e apiError
			if st := c.do(tc.method, tc.path, tc.body, &e); st != tc.want || e.Code != tc.code {
				t.Fatalf("got %d %+v, want %d %s", st, e, tc.want, tc.code)
			}
		})
	}
	bob.t = t
	tk := bob.wait(bob.create("/v1/projects/"+web+"/vms", vmSpec(f, "bobs")).ID)
	if tk.State != "COMPLETED" {
		t.Fatalf("bob's VM: %+v", tk.Steps)
	}
}

// TestOpenAPI: the gateway serves the OpenAPI document of the REST API.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	_, cl := cloud(t, 1)
	var doc struct {
		Swagger string                    `json:"swagger"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if st := cl.do("GET", "/openapi.json", nil, &doc); st != 200 || doc.Paths["/v1/projects/{projectId}/vms"]["post"] == nil {
		t.Fatalf("openapi: %d, %d paths", st, len(doc.Paths))
	}
}

// TestIdempotencyKey: a create retried with the same Idempotency-Key answers with the
// first task and makes one VM, however many retries race; another key makes another VM.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	_, cl := cloud(t, 1)
	f := setup(t, cl, 10)
	post := func(key string) task {
		raw, _ := json.Marshal(vmSpec(f, "once"))
		req, _ := http.NewRequestWithContext(t.Context(), "POST", cl.base+"/v1/projects/"+f.project+"/vms", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+cl.token)
		req.Header.Set("Idempotency-Key", key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return task{}
		}
		defer res.Body.Close()
		var tk task
		json.NewDecoder(res.Body).Decode(&tk)
		if res.StatusCode != 201 {
			t.Errorf("status %d", res.StatusCode)
		}
		return tk
	}
	ids := make(chan string, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); ids <- post("retry-1").ID }()
	}
	wg.Wait()
	close(ids)
	first := ""
	for id := range ids {
		if first == "" {
			first = id
		}
		if id == "" || id != first {
			t.Fatalf("retries answered with different tasks: %q and %q", first, id)
		}
	}
	if tk := cl.wait(first); tk.State != "COMPLETED" {
		t.Fatalf("create: %+v", tk.Steps)
	}
	if again := post("retry-1"); again.ID != first || again.State != "COMPLETED" {
		t.Fatalf("retry after the end answered %+v", again)
	}
	other := post("retry-2")
	if other.ID == first {
		t.Fatal("a new key reused the old task")
	}
	cl.wait(other.ID)
	var list struct {
		Items []vm `json:"items"`
	}
	if cl.do("GET", "/v1/projects/"+f.project+"/vms", nil, &list); len(list.Items) != 2 {
		t.Fatalf("%d VMs, want 2", len(list.Items))
	}
}
