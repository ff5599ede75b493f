package devcloud_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/photon-cloud/photon/shared/auth"
)

// Photon SDK shapes of quotas and security groups (photon/apitypes.go).
type quotaStatus struct {
	Unit  string  `json:"unit"`
	Limit float64 `json:"limit"`
	Usage float64 `json:"usage"`
}

type quota struct {
	QuotaItems map[string]quotaStatus `json:"quotaItems"`
}

type securityGroup struct {
	Name      string `json:"name"`
	Inherited bool   `json:"inherited"`
}

type tenantJSON struct {
	ID             string          `json:"id"`
	SecurityGroups []securityGroup `json:"securityGroups"`
	Quota          quota           `json:"quota"`
}

// as is a client of the same cloud signed in as subject, a member of groups.
func as(t *testing.T, admin *client, iss *auth.Issuer, subject string, groups ...string) *client {
	t.Helper()
	tok, _, err := iss.Sign(auth.Principal{Subject: subject, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	c := *admin
	c.token = tok
	return &c
}

// mutate sends a call that answers with a task completed at once, and checks it.
func (c *client) mutate(method, path string, body any, op string) {
	c.t.Helper()
	var tk task
	if st := c.do(method, path, body, &tk); st/100 != 2 || tk.Operation != op || tk.State != "COMPLETED" {
		c.t.Fatalf("%s %s: %d %+v, want a completed %s", method, path, st, tk, op)
	}
}

func (c *client) quota(path string) map[string]quotaStatus {
	c.t.Helper()
	var q quota
	if st := c.do("GET", path, nil, &q); st != 200 {
		c.t.Fatalf("GET %s: %d", path, st)
	}
	return q.QuotaItems
}

// TestQuotaAndSecurityGroups drives tenant and project quotas and security groups as an
// SDK user: set, update and exclude; usage after a VM; refused changes that change
// nothing; a VM refused by its tenant's limit; groups that grant access at once.
func TestQuotaAndSecurityGroups(t *testing.T) {
	t.Parallel()
	c, admin := cloud(t, 1)
	f := setup(t, admin, 10) // the project allows 10 VMs
	tq, pq := "/v1/tenants/"+f.tenant+"/quota", "/v1/projects/"+f.project+"/quota"

	// Security groups: the system's, the tenant's (system admins set them), the project's
	// (tenant admins set them); each grants its role at once.
	olga := as(t, admin, c.Issuer, "olga", "corp\\ops")
	carol := as(t, admin, c.Issuer, "carol", "acme\\admins")
	dave := as(t, admin, c.Issuer, "dave", "acme\\devs")
	if st := olga.do("GET", "/v1/tenants/"+f.tenant, nil, nil); st != 404 {
		t.Fatalf("olga sees the tenant before she is an admin: %d", st)
	}
	admin.mutate("POST", "/v1/system/set-security-groups", map[string]any{"items": []string{"corp\\ops"}}, "UPDATE_DEPLOYMENT_SECURITY_GROUPS")
	olga.mutate("POST", "/v1/tenants/"+f.tenant+"/set_security_groups", map[string]any{"items": []string{"acme\\admins"}}, "SET_TENANT_SECURITY_GROUPS")
	if st := carol.do("POST", "/v1/tenants/"+f.tenant+"/set_security_groups", map[string]any{"items": []string{"acme\\devs"}}, nil); st != 403 {
		t.Fatalf("a tenant admin set the tenant's groups: %d", st)
	}
	if st := dave.do("GET", "/v1/projects/"+f.project, nil, nil); st != 404 {
		t.Fatalf("dave sees the project before he is in its group: %d", st)
	}
	carol.mutate("POST", "/v1/projects/"+f.project+"/set_security_groups", map[string]any{"items": []string{"acme\\devs"}}, "SET_PROJECT_SECURITY_GROUPS")
	var ten tenantJSON
	admin.do("GET", "/v1/tenants/"+f.tenant, nil, &ten)
	if want := []securityGroup{{"corp\\ops", true}, {"acme\\admins", false}}; !slices.Equal(ten.SecurityGroups, want) {
		t.Fatalf("tenant groups %+v, want %+v", ten.SecurityGroups, want)
	}
	var proj struct {
		SecurityGroups []securityGroup `json:"securityGroups"`
		Quota          quota           `json:"quota"`
	}
	if st := dave.do("GET", "/v1/projects/"+f.project, nil, &proj); st != 200 {
		t.Fatalf("dave cannot see the project of his group: %d", st)
	}
	if want := []securityGroup{{"corp\\ops", true}, {"acme\\admins", true}, {"acme\\devs", false}}; !slices.Equal(proj.SecurityGroups, want) {
		t.Fatalf("project groups %+v, want %+v", proj.SecurityGroups, want)
	}

	// Set (PUT, and POST as the same), update (PATCH), exclude (DELETE with a QuotaSpec).
	admin.mutate("PUT", tq, map[string]quotaStatus{"vm.count": {Unit: "COUNT", Limit: 1}, "vm.memory": {Unit: "MB", Limit: 8192}}, "SET_QUOTA")
	admin.mutate("PATCH", tq, map[string]quotaStatus{"vm.cpu": {Unit: "COUNT", Limit: 4}}, "UPDATE_QUOTA")
	admin.mutate("DELETE", tq, map[string]quotaStatus{"vm.cpu": {}}, "DELETE_QUOTA")
	carol.mutate("PATCH", pq, map[string]quotaStatus{"vm.cpu": {Unit: "COUNT", Limit: 8}}, "UPDATE_QUOTA")
	if got, want := admin.quota(tq), map[string]quotaStatus{"vm.count": {"COUNT", 1, 0}, "vm.memory": {"GB", 8, 0}}; !maps.Equal(got, want) {
		t.Fatalf("tenant quota %v, want %v", got, want)
	}

	// A VM: its cost shows in both quotas, per key.
	if tk := admin.wait(admin.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "one")).ID); tk.State != "COMPLETED" {
		t.Fatalf("first VM: %+v", tk.Steps)
	}
	tenantQuota := map[string]quotaStatus{"vm.count": {"COUNT", 1, 1}, "vm.memory": {"GB", 8, 2}}
	if got := carol.quota(tq); !maps.Equal(got, tenantQuota) {
		t.Fatalf("tenant quota %v, want %v", got, tenantQuota)
	}
	projectQuota := map[string]quotaStatus{"vm.count": {"COUNT", 10, 1}, "vm.memory": {"GB", 64, 2}, "vm.cpu": {"COUNT", 8, 1}}
	if got := dave.quota(pq); !maps.Equal(got, projectQuota) {
		t.Fatalf("project quota %v, want %v", got, projectQuota)
	}
	admin.do("GET", "/v1/tenants/"+f.tenant, nil, &ten)
	if !maps.Equal(ten.Quota.QuotaItems, tenantQuota) {
		t.Fatalf("tenant's quota %v, want %v", ten.Quota.QuotaItems, tenantQuota)
	}

	// Refused changes change nothing.
	refused := []struct {
		name   string
		c      *client
		method string
		path   string
		body   map[string]quotaStatus
		status int
		code   string
	}{
		{"bad unit", admin, "PATCH", tq, map[string]quotaStatus{"vm.memory": {Unit: "furlongs", Limit: 9}}, 400, "InvalidEntity"},
		{"negative limit", admin, "PUT", tq, map[string]quotaStatus{"vm.count": {Unit: "COUNT", Limit: -1}}, 400, "InvalidEntity"},
		{"limit below usage", admin, "PUT", tq, map[string]quotaStatus{"vm.count": {Unit: "COUNT", Limit: 0}}, 400, "QuotaError"},
		{"project limit below usage", carol, "PATCH", pq, map[string]quotaStatus{"vm.memory": {Unit: "GB", Limit: 1}}, 400, "QuotaError"},
		{"tenant admin on tenant quota", carol, "PATCH", tq, map[string]quotaStatus{"vm.count": {Unit: "COUNT", Limit: 5}}, 403, "AccessForbidden"},
		{"project user on project quota", dave, "DELETE", pq, map[string]quotaStatus{"vm.count": {}}, 403, "AccessForbidden"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			cl := *tc.c
			cl.t = t
			var e apiError
			if st := cl.do(tc.method, tc.path, tc.body, &e); st != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %+v, want %d %s", st, e, tc.status, tc.code)
			}
			if got := admin.quota(tq); !maps.Equal(got, tenantQuota) {
				t.Fatalf("tenant quota %v, want %v", got, tenantQuota)
			}
			if got := admin.quota(pq); !maps.Equal(got, projectQuota) {
				t.Fatalf("project quota %v, want %v", got, projectQuota)
			}
		})
	}

	// The project has room for a second VM, its tenant has not: refused at RESERVE_QUOTA,
	// and nothing stays charged.
	tk := admin.wait(admin.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "two")).ID)
	var failed *step
	for i := range tk.Steps {
		if len(tk.Steps[i].Errors) > 0 {
			failed = &tk.Steps[i]
		}
	}
	if tk.State != "ERROR" || failed == nil || failed.Operation != "RESERVE_QUOTA" || failed.Errors[0].Code != "QuotaError" {
		t.Fatalf("second VM: %s, failed step %+v; want QuotaError at RESERVE_QUOTA", tk.State, failed)
	}
	if got := admin.quota(tq); !maps.Equal(got, tenantQuota) {
		t.Fatalf("after a refused VM, tenant quota %v, want %v", got, tenantQuota)
	}
	if got := admin.quota(pq); !maps.Equal(got, projectQuota) {
		t.Fatalf("after a refused VM, project quota %v, want %v", got, projectQuota)
	}

	// Tasks of the tenant and the project, paged and filtered by state.
	var tasks struct {
		Items        []task `json:"items"`
		NextPageLink string `json:"nextPageLink"`
	}
	admin.do("GET", "/v1/tenants/"+f.tenant+"/tasks?state=COMPLETED", nil, &tasks)
	var ops []string
	for _, tk := range tasks.Items {
		ops = append(ops, tk.Operation)
	}
	slices.Sort(ops) // tasks queued in the same millisecond have no order
	if want := []string{"CREATE_TENANT", "DELETE_QUOTA", "SET_QUOTA", "SET_TENANT_SECURITY_GROUPS", "UPDATE_QUOTA"}; !slices.Equal(ops, want) {
		t.Fatalf("tenant tasks %v, want %v", ops, want)
	}
	tasks.Items = nil
	dave.do("GET", "/v1/projects/"+f.project+"/tasks?pageSize=2", nil, &tasks)
	if len(tasks.Items) != 2 || tasks.Items[0].Operation != "CREATE_PROJECT" || tasks.Items[1].Operation != "SET_PROJECT_SECURITY_GROUPS" ||
		tasks.NextPageLink == "" {
		t.Fatalf("project tasks %+v", tasks.Items)
	}

	// Creates in the SDK's shape: a tenant and a project with their quota.
	sdk := admin.create("/v1/tenants", map[string]any{"name": "sdk", "quota": map[string]any{"quotaItems": nil}}).Entity.ID
	if got := admin.quota("/v1/tenants/" + sdk + "/quota"); len(got) != 0 {
		t.Fatalf("tenant without a quota: %v", got)
	}
	p := admin.create("/v1/tenants/"+sdk+"/projects", map[string]any{"name": "p",
		"quota": quota{map[string]quotaStatus{"vm.count": {Unit: "COUNT", Limit: 3}}}}).Entity.ID
	if got, want := admin.quota("/v1/projects/"+p+"/quota"), map[string]quotaStatus{"vm.count": {"COUNT", 3, 0}}; !maps.Equal(got, want) {
		t.Fatalf("project created with a quota: %v, want %v", got, want)
	}
}
