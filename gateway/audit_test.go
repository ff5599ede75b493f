package gateway_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/store"
)

// TestAuditLog: every mutation and every refused call is in the audit log, with who,
// what, when, from where and how it ended; reads that succeed are not.
func TestAuditLog(t *testing.T) {
	h := newHarness(t)
	start := time.Now()
	tenant := h.must(t, m("Tenants", "CreateTenant"), &pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "audited"}})
	rest := newRESTClient(h)
	rest.call(t, sys, m("Tenants", "GetTenant"), &pb.IdRequest{Id: tenant})        // a read: not audited
	rest.call(t, userA1, m("Tenants", "CreateTenant"), &pb.CreateTenantRequest{})  // refused: no right
	h.invoke(t, noToken, m("Tenants", "ListTenants"), &pb.ListTenantsRequest{})    // refused: no token
	rest.call(t, expired, m("Tenants", "DeleteTenant"), &pb.IdRequest{Id: tenant}) // refused: expired token
	if err := auth.NewUsers(h.rdb, h.s.Prefix()).Put(t.Context(), "mallory", "right", nil); err != nil {
		t.Fatal(err)
	}
	res, err := http.PostForm("http://"+h.gw.HTTPAddr()+"/openidconnect/token", url.Values{"grant_type": {"password"},
		"username": {"mallory"}, "password": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	want := []struct {
		subject, method, outcome, code, protocol string
	}{
		{"root", "/photon.v1.Tenants/CreateTenant", store.AuditAllowed, "", "grpc"},
		{"pat", "POST /v1/tenants", store.AuditDenied, "AccessForbidden", "rest"},
		{"", "/photon.v1.Tenants/ListTenants", store.AuditDenied, "MissingAuthToken", "grpc"},
		{"", "DELETE /v1/tenants/" + tenant, store.AuditDenied, "ExpiredAuthToken", "rest"},
		{"mallory", "POST /openidconnect/token", store.AuditDenied, "", "rest"},
	}
	var got []*pb.AuditEvent
	deadline := time.Now().Add(10 * time.Second) // the log is written in batches
	for len(got) < len(want) && time.Now().Before(deadline) {
		out, err := h.invoke(t, sys, m("Audit", "ListAuditEvents"), &pb.ListAuditEventsRequest{Since: start.UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		// The harness's own flavor creates may share start's millisecond.
		got = slices.DeleteFunc(out.(*pb.AuditEventList).GetItems(), func(e *pb.AuditEvent) bool {
			return e.GetMethod() == m("Flavors", "CreateFlavor")
		})
	}
	if len(got) != len(want) {
		t.Fatalf("audit log holds %d events, want %d: %v", len(got), len(want), got)
	}
	slices.Reverse(got) // newest first
	for i, w := range want {
		e := got[i]
		if e.GetSubject() != w.subject || e.GetMethod() != w.method || e.GetOutcome() != w.outcome || e.GetCode() != w.code ||
			e.GetProtocol() != w.protocol || e.GetSource() == "" || e.GetTime() < start.UnixMilli() {
			t.Errorf("event %d = %v, want %+v", i, e, w)
		}
	}
	if got[0].GetEntityId() != tenant || got[0].GetTaskId() == "" {
		t.Errorf("the create does not name its tenant and task: %v", got[0])
	}
	denied, err := h.invoke(t, sys, m("Audit", "ListAuditEvents"), &pb.ListAuditEventsRequest{Outcome: "denied", Subject: "pat"})
	if err != nil || len(denied.(*pb.AuditEventList).GetItems()) != 1 {
		t.Fatalf("filtered list: %v %v", denied, err)
	}
}

// TestRateLimits: past its token's or its tenant's rate a call is refused with
// TooManyRequests and a retry hint, over REST and gRPC.
func TestRateLimits(t *testing.T) {
	h := newHarness(t, func(o *gateway.Options) {
		o.RateLimits = &gateway.RateLimits{PerToken: store.RateLimit{Rate: 0.01, Burst: 40}, PerTenant: store.RateLimit{Rate: 0.01, Burst: 4}}
	})
	// Reads of tenant B's project by two callers share the tenant's burst of 4 (making
	// the tenant and the project charged none).
	tenantB := h.must(t, m("Tenants", "CreateTenant"), &pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "b", SecurityGroups: []string{"beta\\admins"}}})
	projectB := h.must(t, m("Projects", "CreateProject"), &pb.CreateProjectRequest{TenantId: tenantB, Spec: &pb.ProjectCreateSpec{Name: "pb"}})
	rest := newRESTClient(h)
	var got []codes.Code
	for i := range 6 {
		who := []string{adminB, sys}[i%2]
		_, err := h.invoke(t, who, m("Projects", "GetProject"), &pb.IdRequest{Id: projectB})
		got = append(got, status.Code(err))
	}
	if want := []codes.Code{codes.OK, codes.OK, codes.OK, codes.OK, codes.ResourceExhausted, codes.ResourceExhausted}; !slices.Equal(got, want) {
		t.Fatalf("per-tenant limit: %v, want %v", got, want)
	}
	_, err := rest.call(t, adminB, m("Projects", "GetProject"), &pb.IdRequest{Id: projectB})
	if err == nil || !strings.Contains(err.Error(), "429") || !strings.Contains(err.Error(), "TooManyRequests") {
		t.Fatalf("REST past the tenant's rate: %v", err)
	}
	// Another tenant is not held back; one token's own burst is.
	for i := 0; ; i++ {
		_, err := h.invoke(t, userA2, m("Tenants", "ListTenants"), &pb.ListTenantsRequest{})
		if status.Code(err) == codes.ResourceExhausted {
			st := status.Convert(err)
			if i != 40 || len(st.Details()) == 0 {
				t.Fatalf("token refused after %d calls (want 40), details %v", i, st.Details())
			}
			break
		}
		if err != nil || i > 40 {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}
