package devcloud_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/photon-cloud/photon/shared/store"
)

// TestBulkCreate creates VMs with one call: one parent task counts its sub-tasks, each VM
// runs the normal chain, and a child that fails is undone alone.
func TestBulkCreate(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 2)
	f := setup(t, cl, 3) // room for three VMs
	cases := []struct {
		name            string
		pattern         string
		count           int
		wantNames       []string
		completed, fail int
		state           string
	}{
		{"within quota", "web-{n}", 3, []string{"web-1", "web-2", "web-3"}, 3, 0, "COMPLETED"},
		{"beyond quota", "db", 2, []string{"db-1", "db-2"}, 0, 2, "ERROR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := vmSpec(f, tc.pattern)
			spec["count"] = tc.count
			parent := cl.create("/v1/projects/"+f.project+"/vms", spec)
			if parent.Operation != "CREATE_VMS" || parent.Progress == nil || parent.Progress.Total != tc.count {
				t.Fatalf("parent task: %+v", parent)
			}
			done := cl.wait(parent.ID)
			p := done.Progress
			if done.State != tc.state || p.Completed != tc.completed || p.Failed != tc.fail || p.InFlight != 0 {
				t.Fatalf("parent ended %s with %+v, want %s with %d completed, %d failed", done.State, p, tc.state, tc.completed, tc.fail)
			}
			// The sub-tasks, two to a page, as a client pages through them.
			var subs []task
			for link := "/v1/tasks?parentId=" + parent.ID + "&pageSize=2"; link != ""; {
				var page struct {
					Items        []task `json:"items"`
					NextPageLink string `json:"nextPageLink"`
				}
				if st := cl.do("GET", link, nil, &page); st != http.StatusOK {
					t.Fatalf("list sub-tasks: %d", st)
				}
				subs, link = append(subs, page.Items...), page.NextPageLink
			}
			var names []string
			for _, sub := range subs {
				var v vm
				cl.do("GET", "/v1/vms/"+sub.Entity.ID, nil, &v)
				names = append(names, v.Name)
				wantState := map[string]string{"COMPLETED": "STARTED", "ERROR": "ERROR"}[sub.State]
				if sub.ParentID != parent.ID || v.State != wantState {
					t.Fatalf("sub-task %s (%s) of %q: VM %s is %s", sub.ID, sub.State, sub.ParentID, v.Name, v.State)
				}
				if sub.State == "ERROR" && failedStep(sub) != "RESERVE_QUOTA" {
					t.Fatalf("sub-task failed at %s, want RESERVE_QUOTA", failedStep(sub))
				}
			}
			slices.Sort(names)
			if fmt.Sprint(names) != fmt.Sprint(tc.wantNames) {
				t.Fatalf("VM names %v, want %v", names, tc.wantNames)
			}
		})
	}
	// The failed children gave back everything: the quota holds exactly the three VMs.
	if _, used, _, _ := c.Store.QuotaUsage(t.Context(), f.project); used["vm.count"] != 3 {
		t.Fatalf("vm.count used %v, want 3", used["vm.count"])
	}
	if n, _ := c.Store.Admitted(t.Context()); len(n) != 0 {
		t.Fatalf("admissions left after every chain ended: %v", n)
	}
	bad := vmSpec(f, "x")
	bad["count"] = 1001
	var e apiError
	if st := cl.do("POST", "/v1/projects/"+f.project+"/vms", bad, &e); st != http.StatusBadRequest || e.Code != "InvalidEntity" {
		t.Fatalf("count 1001: %d %+v", st, e)
	}
}

func failedStep(tk task) string {
	for _, s := range tk.Steps {
		if len(s.Errors) > 0 {
			return s.Operation
		}
	}
	return ""
}

// TestBackpressure fills one tenant's share of the cloud: that tenant is told to come back
// later (429 with Retry-After) and writes nothing, while another tenant still gets in.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	busy := setup(t, cl, 100)
	other := cl.create("/v1/tenants", map[string]any{"name": "other"}).Entity.ID
	otherProject := cl.create("/v1/tenants/"+other+"/projects", map[string]any{"name": "p"}).Entity.ID

	// Chains of the busy tenant in flight: its whole fair share (half the cloud while it
	// is the only one).
	a := store.Admission{Limit: 4096}
	var held []string
	for i := range a.Limit / 2 {
		held = append(held, fmt.Sprint("held-", i))
	}
	if r, err := c.Store.Admit(t.Context(), a, busy.tenant, held...); err != nil || !r.OK {
		t.Fatalf("fill: %+v %v", r, err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", cl.base+"/v1/projects/"+busy.project+"/vms", jsonBody(vmSpec(busy, "late")))
	req.Header.Set("Authorization", "Bearer "+cl.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("busy tenant: %d, Retry-After %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	var vms struct{ Items []vm }
	if cl.do("GET", "/v1/projects/"+busy.project+"/vms", nil, &vms); len(vms.Items) != 0 {
		t.Fatalf("a refused create wrote %d VMs", len(vms.Items))
	}
	if tk := cl.wait(cl.create("/v1/projects/"+otherProject+"/vms", vmSpec(busy, "fair")).ID); tk.State != "COMPLETED" {
		t.Fatalf("other tenant's VM: %s %+v", tk.State, tk.Steps)
	}
	// Once the busy tenant's chains end, it is admitted again.
	if err := c.Store.Release(t.Context(), busy.tenant, held...); err != nil {
		t.Fatal(err)
	}
	if tk := cl.wait(cl.create("/v1/projects/"+busy.project+"/vms", vmSpec(busy, "later")).ID); tk.State != "COMPLETED" {
		t.Fatalf("after release: %s", tk.State)
	}
}

func jsonBody(v any) io.Reader {
	raw, _ := json.Marshal(v)
	return bytes.NewReader(raw)
}
