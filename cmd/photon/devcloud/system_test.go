package devcloud_test

import (
	"net/http"
	"slices"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
)

// TestSystem reads the system endpoints with the SDK's field names, then pauses the
// system: every mutation, over REST and gRPC, is refused with SystemPaused and writes
// nothing, reads go on, and resuming takes mutations again.
func TestSystem(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 2)
	f := setup(t, cl, 10)
	if tk := cl.wait(cl.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "sys-1")).ID); tk.State != "COMPLETED" {
		t.Fatalf("create vm: %+v", tk.Steps)
	}

	var info struct {
		ID              string   `json:"id"`
		Kind            string   `json:"kind"`
		State           string   `json:"state"`
		ImageDatastores []string `json:"imageDatastores"`
		SelfLink        string   `json:"selfLink"`
		BaseVersion     string   `json:"baseVersion"`
		FullVersion     string   `json:"fullVersion"`
		NetworkType     string   `json:"networkType"`
		Auth            struct {
			Enabled  bool   `json:"enabled"`
			Endpoint string `json:"endpoint"`
			Port     int    `json:"port"`
		} `json:"auth"`
	}
	if st := cl.do("GET", "/v1/system/info", nil, &info); st != 200 || info.Kind != "deployment" || info.State != "READY" ||
		len(info.ImageDatastores) == 0 || !info.Auth.Enabled || info.Auth.Port == 0 || info.BaseVersion == "" ||
		info.FullVersion == "" || (info.NetworkType != "SOFTWARE_DEFINED" && info.NetworkType != "PHYSICAL") {
		t.Fatalf("info: %d %+v", st, info)
	}
	var usage struct {
		NumberHosts      int `json:"numberHosts"`
		NumberVMs        int `json:"numberVMs"`
		NumberTenants    int `json:"numberTenants"`
		NumberProjects   int `json:"numberProjects"`
		NumberDatastores int `json:"numberDatastores"`
	}
	if st := cl.do("GET", "/v1/system/usage", nil, &usage); st != 200 || usage.NumberHosts != 2 || usage.NumberVMs != 1 ||
		usage.NumberTenants != 1 || usage.NumberProjects != 1 || usage.NumberDatastores != 2 {
		t.Fatalf("usage: %d %+v", st, usage)
	}
	var stat struct {
		Status     string `json:"status"`
		Components []struct {
			Component string            `json:"component"`
			Status    string            `json:"status"`
			Message   string            `json:"message"`
			Stats     map[string]string `json:"stats"`
		} `json:"components"`
	}
	if st := cl.do("GET", "/v1/system/status", nil, &stat); st != 200 || stat.Status != "READY" {
		t.Fatalf("status: %d %+v", st, stat)
	}
	var names []string
	for _, comp := range stat.Components {
		names = append(names, comp.Component)
		if comp.Status != "READY" {
			t.Fatalf("component %+v", comp)
		}
		if comp.Component == "HOSTS" && comp.Stats["READY"] != "2" {
			t.Fatalf("hosts component %+v", comp)
		}
	}
	// The dev cloud runs a simulated NSX Manager, which is a component too.
	if !slices.Equal(names, []string{"REDIS", "FUNCTIONS", "HOSTS", "NSX"}) {
		t.Fatalf("components %v", names)
	}

	// Only system administrators pause.
	tok, _, err := c.Issuer.Sign(auth.Principal{Subject: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	bob := *cl
	bob.token = tok
	bob.expect("POST", "/v1/system/pause", nil, 403, "AccessForbidden")

	paused := cl.expect("POST", "/v1/system/pause", nil, 201, "")
	if paused.Operation != "PAUSE_SYSTEM" || paused.State != "COMPLETED" || paused.Entity.Kind != "deployment" {
		t.Fatalf("pause task %+v", paused)
	}
	cases := []struct {
		name, method, path string
		body               any
	}{
		{"create tenant", "POST", "/v1/tenants", map[string]any{"name": "late"}},
		{"create vm", "POST", "/v1/projects/" + f.project + "/vms", vmSpec(f, "late")},
		{"delete tenant", "DELETE", "/v1/tenants/" + f.tenant, nil},
		{"pause again", "POST", "/v1/system/pause", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := *cl
			c.t = t
			c.expect(tc.method, tc.path, tc.body, 503, "SystemPaused")
		})
	}
	if st := cl.do("GET", "/v1/system/info", nil, &info); st != 200 || info.State != "PAUSED" {
		t.Fatalf("info while paused: %d %+v", st, info)
	}
	var tenants struct {
		Items []struct{ Name string } `json:"items"`
	}
	if st := cl.do("GET", "/v1/tenants", nil, &tenants); st != 200 || len(tenants.Items) != 1 {
		t.Fatalf("reads while paused: %d %+v", st, tenants)
	}
	cc, err := grpc.NewClient(c.Gateway.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+cl.token)
	if _, err := pb.NewTenantsClient(cc).CreateTenant(ctx, &pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "late"}}); status.Code(err) != codes.Unavailable {
		t.Fatalf("gRPC create while paused: %v", err)
	}
	if _, err := pb.NewTenantsClient(cc).ListTenants(ctx, &pb.ListTenantsRequest{}); err != nil {
		t.Fatalf("gRPC list while paused: %v", err)
	}

	resumed := cl.expect("POST", "/v1/system/resume", nil, 201, "")
	if resumed.Operation != "RESUME_SYSTEM" || resumed.ResourceProperties["previousState"] != "PAUSED" {
		t.Fatalf("resume task %+v", resumed)
	}
	cl.create("/v1/tenants", map[string]any{"name": "late"})

	// /v1/available answers load balancers without a token.
	res, err := http.Get(cl.base + "/v1/available")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("available: %d", res.StatusCode)
	}
}
