package gateway_test

import (
	"net/http"
	"testing"

	"github.com/photon-cloud/photon/gateway"
	"github.com/photon-cloud/photon/shared/cluster"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestNodeReport: a service node's guest reports with its own token and no login; the
// first report of a node wakes the service's running task, later ones only refresh it; a
// token of another node, or none, is refused, and a node the service does not have is
// not found.
func TestNodeReport(t *testing.T) {
	key := []byte("report-token-key-of-this-test")
	h := newHarness(t, func(o *gateway.Options) { o.Services.TokenKey = key })
	w := h.world(t)
	ctx := t.Context()
	svc, err := store.Get[model.Service](ctx, h.s, model.KindService, w.service)
	if err != nil {
		t.Fatal(err)
	}
	const task = "task-awaiting-nodes"
	if _, err := store.Update(ctx, h.s, model.KindService, w.service, func(s *model.Service) error { s.ActiveTask = task; return nil }); err != nil {
		t.Fatal(err)
	}
	node, other := svc.Nodes[0].VMID, svc.Nodes[1].VMID
	token := func(vm string) string { return cluster.NodeToken(key, w.service, vm) }
	for _, tc := range []struct {
		name        string
		service, vm string
		token       string
		status      int
		reported    bool  // node's report recorded
		wakes       int64 // the task's wake count after
	}{
		{"no token", w.service, node, "", http.StatusForbidden, false, 0},
		{"another node's token", w.service, node, token(other), http.StatusForbidden, false, 0},
		{"a token of another key", w.service, node, cluster.NodeToken([]byte("other"), w.service, node), http.StatusForbidden, false, 0},
		{"first report", w.service, node, token(node), http.StatusNoContent, true, 1},
		{"a later report", w.service, node, token(node), http.StatusNoContent, true, 1},
		{"not a node of the service", w.service, "vm-elsewhere", token("vm-elsewhere"), http.StatusNotFound, true, 1},
		{"no such service", "svc-none", node, cluster.NodeToken(key, "svc-none", node), http.StatusNotFound, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := "http://" + h.gw.HTTPAddr() + cluster.ReportPath(tc.service, tc.vm)
			if tc.token != "" {
				u += "?token=" + tc.token
			}
			req, err := http.NewRequestWithContext(ctx, "POST", u, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			reports, err := h.s.NodeReports(ctx, w.service)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := reports[node]; ok != tc.reported || len(reports) > 1 {
				t.Fatalf("reports %v, want node %s reported: %v", reports, node, tc.reported)
			}
			if seq, err := h.s.WakeSeq(ctx, task); err != nil || seq != tc.wakes {
				t.Fatalf("the task was woken %d times (%v), want %d", seq, err, tc.wakes)
			}
		})
	}
}
