package devcloud_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/notify"
)

// TestEventAutomation walks the event surface on the whole dev cloud: a project's
// subscription receives its VM's changes, signed; an inbound event stops the VM; a rule
// tags the VM when it stops.
func TestEventAutomation(t *testing.T) {
	t.Parallel()
	c, cl := cloud(t, 1)
	f := setup(t, cl, 10)
	type delivery struct {
		typ, subject, sig string
		body              []byte
	}
	var mu sync.Mutex
	var got []delivery
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, delivery{r.Header.Get("ce-type"), r.Header.Get("ce-subject"), r.Header.Get(notify.SignatureHeader), body})
		mu.Unlock()
	}))
	defer sink.Close()

	var sub struct {
		Entity             struct{ ID string } `json:"entity"`
		ResourceProperties map[string]string   `json:"resourceProperties"`
	}
	if st := cl.do("POST", "/v1/projects/"+f.project+"/subscriptions", map[string]any{"sink": sink.URL, "types": []string{"io.photon.vm.*"}}, &sub); st != 201 || sub.ResourceProperties["secret"] == "" {
		t.Fatalf("subscribe: %d %+v", st, sub)
	}
	rule := map[string]any{"name": "tag-stopped", "filter": map[string]any{"types": []string{"io.photon.vm.stopped"}},
		"actions": []map[string]any{{"type": "io.photon.vm.tag.requested", "subject": "{{.Subject}}", "data": `{"value":"stopped-by-{{.Ext.taskid}}"}`}}}
	if st := cl.do("POST", "/v1/projects/"+f.project+"/rules", rule, nil); st != 201 {
		t.Fatalf("rule: %d", st)
	}
	tk := cl.wait(cl.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "watched")).ID)
	if tk.State != "COMPLETED" {
		t.Fatalf("create: %+v", tk.Steps)
	}
	vmID := tk.Entity.ID

	// Stop it with an inbound event.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", cl.base+"/v1/events", bytes.NewReader(nil))
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "stop-1", "ce-source": "test/automation",
		"ce-type": "io.photon.vm.stop.requested", "ce-subject": vmID, "Authorization": "Bearer " + cl.token} {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var stop task
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 || json.Unmarshal(raw, &stop) != nil || cl.wait(stop.ID).State != "COMPLETED" {
		t.Fatalf("stop by event: %d %s", res.StatusCode, raw)
	}

	// The rule tags the stopped VM; the sink hears of the VM's changes, each signed.
	waitFor(t, "the rule's tag", func() bool {
		var v struct {
			Tags []string `json:"tags"`
		}
		cl.do("GET", "/v1/vms/"+vmID, nil, &v)
		return slices.ContainsFunc(v.Tags, func(s string) bool { return len(s) > len("stopped-by-") })
	})
	want := []string{"io.photon.vm.created", "io.photon.vm.started", "io.photon.vm.stopped"}
	waitFor(t, "deliveries of "+vmID, func() bool {
		mu.Lock()
		defer mu.Unlock()
		var types []string
		for _, d := range got {
			if d.subject == vmID {
				types = append(types, d.typ)
			}
		}
		return !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(types, w) })
	})
	mu.Lock()
	for _, d := range got {
		if err := notify.Verify(sub.ResourceProperties["secret"], d.sig, d.body, time.Minute); err != nil {
			t.Errorf("%s: signature: %v", d.typ, err)
		}
	}
	mu.Unlock()

	// A system rule marks every VM of a host that is lost. The host's ERROR event is
	// written as the notifier writes it, so the test need not wait out a heartbeat.
	hostRule := map[string]any{"name": "host-lost", "filter": map[string]any{"types": []string{"io.photon.host.error"}},
		"actions": []map[string]any{{"type": "io.photon.vm.tag.requested", "subject": "{{.Item}}", "forEach": "hostVms",
			"data": `{"value":"host-lost:{{.Subject}}"}`}}}
	if st := cl.do("POST", "/v1/rules", hostRule, nil); st != 201 {
		t.Fatalf("system rule: %d", st)
	}
	var placed struct {
		Host string `json:"host"`
	}
	cl.do("GET", "/v1/vms/"+vmID, nil, &placed)
	ce, _ := json.Marshal(map[string]any{"specversion": "1.0", "id": "host-error-1", "source": notify.Source, "type": "io.photon.host.error",
		"subject": placed.Host, "datacontenttype": "application/json", "data": map[string]any{"id": placed.Host, "kind": "host", "state": "ERROR"}})
	if err := c.Redis().XAdd(t.Context(), &redis.XAddArgs{Stream: notify.EventsStream(c.Store.Prefix()), Values: []any{"type", "io.photon.host.error", "ce", string(ce)}}).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the host rule's tag", func() bool {
		var v struct {
			Tags []string `json:"tags"`
		}
		cl.do("GET", "/v1/vms/"+vmID, nil, &v)
		return slices.Contains(v.Tags, "host-lost:"+placed.Host)
	})
}
