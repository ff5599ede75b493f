package nsxsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// raw is a minimal NSX client for checking the wire format itself, without go-vmware-nsxt.
type raw struct {
	t          *testing.T
	base       string
	user, pass string
}

func start(t *testing.T) (*Server, *raw) {
	t.Helper()
	s, err := Start(t.Context(), Options{User: "admin", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, &raw{t: t, base: s.URL, user: "admin", pass: "secret"}
}

// do sends a request and decodes the JSON answer into a generic map.
func (c *raw) do(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(c.user, c.pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			c.t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, data, err)
		}
	}
	return resp.StatusCode, out
}

// must is do that fails the test unless the status is want.
func (c *raw) must(want int, method, path string, body any) map[string]any {
	c.t.Helper()
	got, out := c.do(method, path, body)
	if got != want {
		c.t.Fatalf("%s %s = %d %v, want %d", method, path, got, out, want)
	}
	return out
}

func newSwitch(c *raw, name string) map[string]any {
	return c.must(http.StatusCreated, "POST", "/api/v1/logical-switches", map[string]any{
		"display_name": name, "admin_state": "UP", "transport_zone_id": DefaultTransportZoneID,
		"tags": []map[string]string{{"scope": "photon", "tag": name}},
	})
}

func TestWireFormat(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	sw := newSwitch(c, "net-1")
	for _, field := range []string{"id", "display_name", "_revision", "resource_type", "tags", "transport_zone_id", "admin_state", "vni", "_create_time", "_create_user"} {
		if _, ok := sw[field]; !ok {
			t.Errorf("created switch has no %q: %v", field, sw)
		}
	}
	if sw["resource_type"] != "LogicalSwitch" || sw["_revision"] != 0.0 || sw["replication_mode"] != "MTEP" {
		t.Errorf("created switch = %v", sw)
	}
	tags, _ := sw["tags"].([]any)
	if len(tags) != 1 || tags[0].(map[string]any)["scope"] != "photon" || tags[0].(map[string]any)["tag"] != "net-1" {
		t.Errorf("tags = %v", sw["tags"])
	}
	list := c.must(http.StatusOK, "GET", "/api/v1/logical-switches", nil)
	if list["result_count"] != 1.0 || len(list["results"].([]any)) != 1 {
		t.Errorf("list = %v", list)
	}
	if _, ok := list["cursor"]; ok {
		t.Errorf("a complete list has a cursor: %v", list)
	}
	zones := c.must(http.StatusOK, "GET", "/api/v1/transport-zones", nil)
	if zones["result_count"] != 2.0 {
		t.Errorf("transport zones = %v", zones)
	}
	tz := c.must(http.StatusOK, "GET", "/api/v1/transport-zones/"+DefaultTransportZoneID, nil)
	if tz["transport_type"] != "OVERLAY" || tz["resource_type"] != "TransportZone" {
		t.Errorf("default transport zone = %v", tz)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	sw := newSwitch(c, "net-1")
	swID := sw["id"].(string)
	tests := []struct {
		name         string
		method, path string
		body         any
		user         string
		status       int
		httpStatus   string
	}{
		{"unknown switch", "GET", "/api/v1/logical-switches/nope", nil, "", 404, "NOT_FOUND"},
		{"unknown pool", "DELETE", "/api/v1/pools/ip-pools/nope", nil, "", 404, "NOT_FOUND"},
		{"unknown path", "GET", "/api/v1/nothing-here", nil, "", 404, "NOT_FOUND"},
		{"bad JSON", "POST", "/api/v1/logical-switches", `{"display_name": `, "", 400, "BAD_REQUEST"},
		{"unknown field", "POST", "/api/v1/logical-routers", `{"router_type":"TIER1","colour":"red"}`, "", 400, "BAD_REQUEST"},
		{"no admin state", "POST", "/api/v1/logical-switches", map[string]any{"transport_zone_id": DefaultTransportZoneID}, "", 400, "BAD_REQUEST"},
		{"port on missing switch", "POST", "/api/v1/logical-ports", map[string]any{"logical_switch_id": "nope", "admin_state": "UP"}, "", 404, "NOT_FOUND"},
		{"bad router type", "POST", "/api/v1/logical-routers", map[string]any{"router_type": "TIER2"}, "", 400, "BAD_REQUEST"},
		{"bad page size", "GET", "/api/v1/logical-switches?page_size=5000", nil, "", 400, "BAD_REQUEST"},
		{"bad cursor", "GET", "/api/v1/logical-switches?cursor=abc", nil, "", 400, "BAD_REQUEST"},
		{"stale revision", "PUT", "/api/v1/logical-switches/" + swID, map[string]any{
			"_revision": 7, "admin_state": "DOWN", "transport_zone_id": DefaultTransportZoneID}, "", 412, "PRECONDITION_FAILED"},
		{"bad credentials", "GET", "/api/v1/logical-switches", nil, "mallory", 403, "FORBIDDEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := *c
			cc.t = t
			if tt.user != "" {
				cc.user = tt.user
			}
			got, body := cc.do(tt.method, tt.path, tt.body)
			if got != tt.status {
				t.Fatalf("status = %d %v, want %d", got, body, tt.status)
			}
			if body["httpStatus"] != tt.httpStatus || body["error_code"] == nil || body["module_name"] == nil || body["error_message"] == "" {
				t.Errorf("error body = %v, want NSX's shape with httpStatus %s", body, tt.httpStatus)
			}
		})
	}
	if got := s.Counts(); got != (Counts{Switches: 1}) {
		t.Errorf("failed calls changed state: %+v", got)
	}
}

func TestUpdateSwitchRevision(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	sw := newSwitch(c, "net-1")
	id := sw["id"].(string)
	sw["admin_state"] = "DOWN"
	got := c.must(http.StatusOK, "PUT", "/api/v1/logical-switches/"+id, sw)
	if got["_revision"] != 1.0 || got["admin_state"] != "DOWN" || got["vni"] != sw["vni"] {
		t.Errorf("updated switch = %v", got)
	}
	// The same body again carries the old revision.
	c.must(http.StatusPreconditionFailed, "PUT", "/api/v1/logical-switches/"+id, sw)
}

func TestPaging(t *testing.T) {
	t.Parallel()
	_, c := start(t)
	var want []string
	for i := range 7 {
		want = append(want, newSwitch(c, fmt.Sprintf("net-%d", i))["id"].(string))
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatal("paging does not end")
		}
		q := url.Values{"page_size": {"3"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		page := c.must(http.StatusOK, "GET", "/api/v1/logical-switches?"+q.Encode(), nil)
		if total := 7.0 - float64(min(pages, 1)); page["result_count"] != total {
			t.Errorf("page %d: result_count = %v, want the total %v", pages, page["result_count"], total)
		}
		for _, r := range page["results"].([]any) {
			got = append(got, r.(map[string]any)["id"].(string))
		}
		if len(got) == 3 {
			// Deleting an object already listed must not shift the next page.
			c.must(http.StatusOK, "DELETE", "/api/v1/logical-switches/"+want[0], nil)
		}
		cursor, _ = page["cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged ids = %v, want %v", got, want)
	}
}

func TestDeleteSwitchWithPorts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		attached bool
		query    string
		status   int
	}{
		{"plain refused", false, "", 400},
		{"cascade deletes free ports", false, "?cascade=true", 200},
		{"cascade refused with attached port", true, "?cascade=true", 400},
		{"detach deletes attached ports", true, "?detach=true", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, c := start(t)
			sw := newSwitch(c, "net")["id"].(string)
			port := map[string]any{"logical_switch_id": sw, "admin_state": "UP"}
			if tt.attached {
				port["attachment"] = map[string]any{"attachment_type": "VIF", "id": "nic-1"}
			}
			pid := c.must(http.StatusCreated, "POST", "/api/v1/logical-ports", port)["id"].(string)
			c.must(tt.status, "DELETE", "/api/v1/logical-switches/"+sw+tt.query, nil)
			want := Counts{Switches: 1, Ports: 1}
			if tt.status == 200 {
				want = Counts{}
				c.must(http.StatusNotFound, "GET", "/api/v1/logical-ports/"+pid, nil)
			}
			if got := s.Counts(); got != want {
				t.Errorf("counts = %+v, want %+v", got, want)
			}
		})
	}
}

func TestRouterPorts(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	sw := newSwitch(c, "net")["id"].(string)
	lr := c.must(http.StatusCreated, "POST", "/api/v1/logical-routers", map[string]any{"router_type": "TIER1", "display_name": "r"})
	lp := c.must(http.StatusCreated, "POST", "/api/v1/logical-ports", map[string]any{"logical_switch_id": sw, "admin_state": "UP"})
	rp := c.must(http.StatusCreated, "POST", "/api/v1/logical-router-ports", map[string]any{
		"resource_type": "LogicalRouterDownLinkPort", "logical_router_id": lr["id"],
		"subnets":                       []map[string]any{{"ip_addresses": []string{"10.0.0.1"}, "prefix_length": 24}},
		"linked_logical_switch_port_id": map[string]any{"target_id": lp["id"], "target_type": "LogicalPort"},
	})
	// The switch port is now attached to the router.
	att := c.must(http.StatusOK, "GET", "/api/v1/logical-ports/"+lp["id"].(string), nil)["attachment"].(map[string]any)
	if att["attachment_type"] != "LOGICALROUTER" || att["id"] != rp["id"] {
		t.Errorf("switch port attachment = %v", att)
	}
	list := c.must(http.StatusOK, "GET", "/api/v1/logical-router-ports?logical_router_id="+lr["id"].(string), nil)
	if list["result_count"] != 1.0 || list["results"].([]any)[0].(map[string]any)["subnets"] == nil {
		t.Errorf("router ports = %v", list)
	}
	c.must(http.StatusBadRequest, "DELETE", "/api/v1/logical-routers/"+lr["id"].(string), nil)
	c.must(http.StatusBadRequest, "DELETE", "/api/v1/logical-ports/"+lp["id"].(string), nil)
	c.must(http.StatusOK, "DELETE", "/api/v1/logical-router-ports/"+rp["id"].(string), nil)
	c.must(http.StatusOK, "DELETE", "/api/v1/logical-ports/"+lp["id"].(string), nil)
	c.must(http.StatusOK, "DELETE", "/api/v1/logical-routers/"+lr["id"].(string), nil)
	c.must(http.StatusOK, "DELETE", "/api/v1/logical-switches/"+sw, nil)
	if got := s.Counts(); got != (Counts{}) {
		t.Errorf("leaked: %+v", got)
	}
}

func TestPoolAllocation(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	pool := c.must(http.StatusCreated, "POST", "/api/v1/pools/ip-pools", map[string]any{
		"display_name": "p",
		"subnets": []map[string]any{{"cidr": "192.168.0.0/29", "gateway_ip": "192.168.0.2",
			"allocation_ranges": []map[string]string{{"start": "192.168.0.1", "end": "192.168.0.4"}}}},
	})
	id := pool["id"].(string)
	if u := pool["pool_usage"].(map[string]any); u["total_ids"] != 3.0 {
		t.Errorf("pool usage = %v, want 3 addresses (the gateway is not handed out)", u)
	}
	action := func(status int, act, ip string) string {
		body := map[string]any{}
		if ip != "" {
			body["allocation_id"] = ip
		}
		out := c.must(status, "POST", "/api/v1/pools/ip-pools/"+id+"?action="+act, body)
		s, _ := out["allocation_id"].(string)
		return s
	}
	var got []string
	for range 3 {
		got = append(got, action(200, "ALLOCATE", ""))
	}
	if want := []string{"192.168.0.1", "192.168.0.3", "192.168.0.4"}; !slices.Equal(got, want) {
		t.Errorf("allocated %v, want %v", got, want)
	}
	action(400, "ALLOCATE", "")
	action(200, "RELEASE", "192.168.0.3")
	action(400, "RELEASE", "192.168.0.3")
	if ip := action(200, "ALLOCATE", ""); ip != "192.168.0.3" {
		t.Errorf("re-allocated %s, want the lowest free 192.168.0.3", ip)
	}
	allocs := c.must(200, "GET", "/api/v1/pools/ip-pools/"+id+"/allocations", nil)
	if allocs["result_count"] != 3.0 {
		t.Errorf("allocations = %v", allocs)
	}
	c.must(400, "DELETE", "/api/v1/pools/ip-pools/"+id, nil)
	c.must(200, "DELETE", "/api/v1/pools/ip-pools/"+id+"?force=true", nil)
	if got := s.Counts(); got != (Counts{}) {
		t.Errorf("leaked: %+v", got)
	}
}

func TestConcurrentAllocation(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	id := c.must(http.StatusCreated, "POST", "/api/v1/pools/ip-pools", map[string]any{
		"subnets": []map[string]any{{"cidr": "10.1.0.0/26",
			"allocation_ranges": []map[string]string{{"start": "10.1.0.1", "end": "10.1.0.62"}}}},
	})["id"].(string)
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				st, out := c.do("POST", "/api/v1/pools/ip-pools/"+id+"?action=ALLOCATE", "{}")
				if st != 200 {
					return
				}
				mu.Lock()
				ip := out["allocation_id"].(string)
				if seen[ip] {
					t.Errorf("%s allocated twice", ip)
				}
				seen[ip] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 62 || s.Counts().AllocatedIPs != 62 {
		t.Errorf("allocated %d distinct addresses (%d counted), want 62", len(seen), s.Counts().AllocatedIPs)
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s, c := start(t)
	s.FailN("POST", "/api/v1/logical-switches", http.StatusServiceUnavailable, 1)
	if st, body := c.do("POST", "/api/v1/logical-switches", "{}"); st != 503 || body["httpStatus"] != "SERVICE_UNAVAILABLE" {
		t.Errorf("injected fault = %d %v", st, body)
	}
	newSwitch(c, "after-one-fault")
	s.Fail("", "/api/v1/", http.StatusInternalServerError)
	c.must(500, "GET", "/api/v1/logical-switches", nil)
	c.must(500, "GET", "/api/v1/transport-zones", nil)
	s.ClearFaults()
	c.must(200, "GET", "/api/v1/logical-switches", nil)
}

func TestSessionLogin(t *testing.T) {
	t.Parallel()
	s, _ := start(t)
	login := func(pass string) *http.Response {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL+"/api/session/create",
			strings.NewReader(url.Values{"j_username": {"admin"}, "j_password": {pass}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := login("wrong"); resp.StatusCode != 403 {
		t.Errorf("login with a wrong password = %d", resp.StatusCode)
	}
	resp := login("secret")
	if resp.StatusCode != 200 || resp.Header.Get("X-XSRF-TOKEN") == "" || len(resp.Cookies()) == 0 {
		t.Fatalf("login = %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+"/api/v1/transport-zones", nil)
	req.AddCookie(resp.Cookies()[0])
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got.Body.Close()
	if got.StatusCode != 200 {
		t.Errorf("request with the session cookie = %d", got.StatusCode)
	}
}
