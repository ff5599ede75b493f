package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// TestInboundEvents: POST /v1/events takes a CloudEvent in binary or structured mode and
// answers with the Task of the operation it asks for; the same event twice starts one
// operation; a bad event is a 4xx ApiError that starts nothing.
func TestInboundEvents(t *testing.T) {
	h := newHarness(t)
	w := h.world(t)
	base := "http://" + h.gw.HTTPAddr()
	spec, _ := protojson.Marshal(vmSpec(w))
	post := func(who string, headers map[string]string, body []byte) (int, map[string]any) {
		t.Helper()
		r, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/v1/events", bytes.NewReader(body))
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		if tok := h.tokens[who]; tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		var out map[string]any
		json.Unmarshal(raw, &out)
		return res.StatusCode, out
	}
	binary := func(id, typ, subject string) map[string]string {
		return map[string]string{"ce-specversion": "1.0", "ce-id": id, "ce-source": "test/inbound", "ce-type": typ,
			"ce-subject": subject, "Content-Type": "application/json"}
	}
	structured := func(id, typ, subject string, data []byte) []byte {
		b, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": id, "source": "test/inbound", "type": typ,
			"subject": subject, "datacontenttype": "application/json", "data": json.RawMessage(data)})
		return b
	}
	ce := map[string]string{"Content-Type": "application/cloudevents+json"}
	cases := []struct {
		name      string
		who       string
		headers   map[string]string
		body      []byte
		status    int
		code, op  string
		sameAsRun int // the answer names the same task as case n (1-based), 0: none
	}{
		{"binary mode create", userA1, binary("e1", "io.photon.vm.create.requested", w.p1), spec, 201, "", "CREATE_VM", 0},
		{"redelivered", userA1, binary("e1", "io.photon.vm.create.requested", w.p1), spec, 201, "", "CREATE_VM", 1},
		// The world's VM and disk are held by their create tasks (no function runs here):
		// the API's own answer comes back.
		{"structured mode stop", userA1, ce, structured("e2", "io.photon.vm.stop.requested", w.vm, nil), 400, "ConcurrentTask", "", 0},
		{"structured mode disk create", adminA, ce, structured("e3", "io.photon.disk.create.requested", w.p1,
			[]byte(`{"name":"d2","kind":"persistent-disk","flavor":"pd","capacityGb":1}`)), 201, "", "CREATE_DISK", 0},
		{"another project's user", userA2, binary("e4", "io.photon.vm.create.requested", w.p1), spec, 404, "NotFound", "", 0},
		{"no token", noToken, binary("e5", "io.photon.vm.create.requested", w.p1), spec, 401, "MissingAuthToken", "", 0},
		{"unknown type", userA1, binary("e6", "io.photon.vm.explode.requested", w.vm), nil, 400, "InvalidEntity", "", 0},
		{"no subject", userA1, binary("e7", "io.photon.vm.start.requested", ""), nil, 400, "InvalidEntity", "", 0},
		{"bad data", userA1, binary("e8", "io.photon.vm.create.requested", w.p1), []byte(`{"name":7}`), 400, "InvalidJson", "", 0},
		{"not a CloudEvent", userA1, map[string]string{"Content-Type": "application/json"}, spec, 400, "InvalidEntity", "", 0},
	}
	tasks := make([]string, len(cases))
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, out := post(tc.who, tc.headers, tc.body)
			if st != tc.status || (tc.code != "" && out["code"] != tc.code) || (tc.op != "" && out["operation"] != tc.op) {
				t.Fatalf("got %d %v, want %d %s %s", st, out, tc.status, tc.code, tc.op)
			}
			tasks[i], _ = out["id"].(string)
			if tc.sameAsRun > 0 && tasks[i] != tasks[tc.sameAsRun-1] {
				t.Fatalf("a redelivered event started task %s, the first %s", tasks[i], tasks[tc.sameAsRun-1])
			}
		})
	}
	var vms pb.VmList
	out, err := h.invoke(t, sys, m("Vms", "ListVms"), &pb.ListVmsRequest{ProjectId: w.p1})
	if err != nil {
		t.Fatal(err)
	}
	vms.Items = out.(*pb.VmList).GetItems()
	if len(vms.Items) != 2 { // the world's VM and the one the event made, once
		t.Fatalf("project p1 holds %d VMs, want 2", len(vms.Items))
	}
}
