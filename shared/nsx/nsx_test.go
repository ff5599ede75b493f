package nsx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmware/go-vmware-nsxt/common"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/nsxsim"
)

// newSim starts a simulator and a client of it; pageSize 2 makes every list call page.
func newSim(t *testing.T) (*nsxsim.Server, *Client) {
	t.Helper()
	sim, err := nsxsim.Start(t.Context(), nsxsim.Options{User: "admin", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	c, err := New(Config{ManagerURL: sim.URL, User: "admin", Password: "secret", PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

// okID returns a function that fails the test on an error and otherwise returns the id.
func okID(t *testing.T) func(string, error) string {
	return func(id string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
}

// apiCtx is a context for calling the raw go-vmware-nsxt client directly.
func apiCtx(t *testing.T, c *Client) context.Context {
	ctx, err := c.ctx(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return ctx
}

// TestEnsureDelete runs every Ensure/Delete pair twice: the second Ensure finds what the
// first made (among other objects, across pages), the second Delete finds nothing to do.
func TestEnsureDelete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ensure func(ctx context.Context, c *Client, photonID string) (string, error)
		delete func(c *Client, ctx context.Context, photonID string) error
		count  func(nsxsim.Counts) int
		// read fetches an object by NSX id with the raw client: its tags and resource_type.
		read func(ctx context.Context, c *Client, id string) ([]common.Tag, string, error)
	}{
		{"switch",
			func(ctx context.Context, c *Client, id string) (string, error) {
				return c.EnsureSwitch(ctx, id, "net-"+id)
			},
			(*Client).DeleteSwitch, func(n nsxsim.Counts) int { return n.Switches },
			func(ctx context.Context, c *Client, id string) ([]common.Tag, string, error) {
				v, _, err := c.api.LogicalSwitchingApi.GetLogicalSwitch(ctx, id)
				return v.Tags, v.ResourceType, err
			}},
		{"router",
			func(ctx context.Context, c *Client, id string) (string, error) {
				return c.EnsureRouter(ctx, id, "router-"+id)
			},
			(*Client).DeleteRouter, func(n nsxsim.Counts) int { return n.Routers },
			func(ctx context.Context, c *Client, id string) ([]common.Tag, string, error) {
				v, _, err := c.api.LogicalRoutingAndServicesApi.ReadLogicalRouter(ctx, id)
				return v.Tags, v.ResourceType, err
			}},
		{"ip pool",
			func(ctx context.Context, c *Client, id string) (string, error) {
				return c.EnsureIPPool(ctx, id, "10.0.0.0/24", "10.0.0.1", "10.0.0.10", "10.0.0.200")
			},
			(*Client).DeleteIPPool, func(n nsxsim.Counts) int { return n.Pools },
			func(ctx context.Context, c *Client, id string) ([]common.Tag, string, error) {
				v, _, err := c.api.PoolManagementApi.ReadIpPool(ctx, id)
				return v.Tags, v.ResourceType, err
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim, c := newSim(t)
			ctx := t.Context()
			ids := map[string]string{}
			for i := range 5 {
				pid := fmt.Sprintf("photon-%d", i)
				ids[pid] = okID(t)(tt.ensure(ctx, c, pid))
			}
			for pid, want := range ids {
				if got := okID(t)(tt.ensure(ctx, c, pid)); got != want {
					t.Errorf("second ensure of %s = %s, want %s", pid, got, want)
				}
			}
			if got := tt.count(sim.Counts()); got != 5 {
				t.Fatalf("%d objects after ensuring 5 twice", got)
			}
			for pid, id := range ids {
				tags, typ, err := tt.read(apiCtx(t, c), c, id)
				if err != nil || !tagged(tags, pid) || typ == "" {
					t.Errorf("read %s = tags %v, resource_type %q, %v", id, tags, typ, err)
				}
			}
			for range 2 {
				if err := tt.delete(c, ctx, "photon-3"); err != nil {
					t.Fatal(err)
				}
			}
			if got := tt.count(sim.Counts()); got != 4 {
				t.Errorf("%d objects after deleting one of 5", got)
			}
			if _, _, err := tt.read(apiCtx(t, c), c, ids["photon-3"]); err == nil {
				t.Errorf("read of a deleted object succeeded")
			}
			if got := okID(t)(tt.ensure(ctx, c, "photon-3")); got == ids["photon-3"] {
				t.Errorf("ensure after delete returned the deleted id %s", got)
			}
		})
	}
}

// TestSwitchReadAndList reads what EnsureSwitch made through the raw client: NSX's view.
func TestSwitchReadAndList(t *testing.T) {
	t.Parallel()
	_, c := newSim(t)
	ctx := t.Context()
	id := okID(t)(c.EnsureSwitch(ctx, "sub-1", "net-1"))
	cctx := apiCtx(t, c)
	ls, _, err := c.api.LogicalSwitchingApi.GetLogicalSwitch(cctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if ls.DisplayName != "net-1" || ls.TransportZoneId != nsxsim.DefaultTransportZoneID || ls.AdminState != "UP" ||
		ls.ResourceType != "LogicalSwitch" || !tagged(ls.Tags, "sub-1") {
		t.Errorf("switch = %+v", ls)
	}
	for i := range 4 {
		okID(t)(c.EnsureSwitch(ctx, fmt.Sprintf("sub-x%d", i), "x"))
	}
	page, _, err := c.api.LogicalSwitchingApi.ListLogicalSwitches(cctx, map[string]any{"pageSize": int64(2)})
	if err != nil || page.ResultCount != 5 || len(page.Results) != 2 || page.Cursor == "" {
		t.Errorf("first page = %d of %d, cursor %q, err %v", len(page.Results), page.ResultCount, page.Cursor, err)
	}
}

func TestPortsAndConnection(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t)
	ctx := t.Context()
	sw := okID(t)(c.EnsureSwitch(ctx, "sub-1", "net-1"))
	other := okID(t)(c.EnsureSwitch(ctx, "sub-2", "net-2"))
	port := okID(t)(c.EnsurePort(ctx, "nic-1", sw, "vm-1"))
	if again := okID(t)(c.EnsurePort(ctx, "nic-1", sw, "vm-1")); again != port {
		t.Errorf("second EnsurePort = %s, want %s", again, port)
	}
	cctx := apiCtx(t, c)
	lp, _, err := c.api.LogicalSwitchingApi.GetLogicalPort(cctx, port)
	if err != nil || lp.Attachment == nil || lp.Attachment.AttachmentType != "VIF" || lp.Attachment.Id != "nic-1" || lp.LogicalSwitchId != sw {
		t.Errorf("port = %+v, %v", lp, err)
	}
	if _, err := c.EnsurePort(ctx, "nic-1", other, "vm-1"); !IsConflict(err) || IsTransient(err) {
		t.Errorf("EnsurePort of the NIC on another switch = %v, want a permanent conflict", err)
	}
	if _, err := c.EnsurePort(ctx, "nic-2", "no-such-switch", "vm-1"); !IsNotFound(err) || IsTransient(err) {
		t.Errorf("EnsurePort on a missing switch = %v, want a permanent not-found", err)
	}

	router := okID(t)(c.EnsureRouter(ctx, "rt-1", "router-1"))
	for range 2 {
		if err := c.ConnectSwitch(ctx, "conn-1", router, sw, "10.0.0.1/24"); err != nil {
			t.Fatal(err)
		}
	}
	if n := sim.Counts(); n.RouterPorts != 1 || n.Ports != 2 {
		t.Fatalf("after connecting twice: %+v, want 1 router port and 2 switch ports", n)
	}
	rps, _, err := c.api.LogicalRoutingAndServicesApi.ListLogicalRouterPorts(cctx, map[string]any{"logicalRouterId": router})
	if err != nil || len(rps.Results) != 1 {
		t.Fatalf("router ports = %+v, %v", rps, err)
	}
	down, _, err := c.api.LogicalRoutingAndServicesApi.ReadLogicalRouterDownLinkPort(cctx, rps.Results[0].Id)
	if err != nil || len(down.Subnets) != 1 || down.Subnets[0].IpAddresses[0] != "10.0.0.1" || down.Subnets[0].PrefixLength != 24 ||
		down.LinkedLogicalSwitchPortId == nil {
		t.Fatalf("downlink = %+v, %v", down, err)
	}
	link, _, err := c.api.LogicalSwitchingApi.GetLogicalPort(cctx, down.LinkedLogicalSwitchPortId.TargetId)
	if err != nil || link.LogicalSwitchId != sw || link.Attachment == nil || link.Attachment.AttachmentType != "LOGICALROUTER" {
		t.Errorf("linked switch port = %+v, %v", link, err)
	}

	// Nothing in use can be deleted.
	for name, err := range map[string]error{
		"switch with ports":       c.DeleteSwitch(ctx, "sub-1"),
		"router with a connected": c.DeleteRouter(ctx, "rt-1"),
	} {
		if !IsConflict(err) || IsTransient(err) || !errs.IsPermanent(err) || !errors.Is(err, ErrInUse) {
			t.Errorf("delete %s = %v, want a permanent in-use conflict", name, err)
		}
	}

	for range 2 {
		if err := c.DisconnectSwitch(ctx, "conn-1"); err != nil {
			t.Fatal(err)
		}
		if err := c.DeletePort(ctx, "nic-1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, del := range []func() error{
		func() error { return c.DeleteRouter(ctx, "rt-1") },
		func() error { return c.DeleteSwitch(ctx, "sub-1") },
		func() error { return c.DeleteSwitch(ctx, "sub-2") },
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
	if n := sim.Counts(); n != (nsxsim.Counts{}) {
		t.Errorf("leaked: %+v", n)
	}
}

// TestDisconnectResumes: an interrupted DisconnectSwitch that deleted the router port but
// not the switch port is finished by the next attempt.
func TestDisconnectResumes(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t)
	ctx := t.Context()
	sw := okID(t)(c.EnsureSwitch(ctx, "sub-1", "net-1"))
	router := okID(t)(c.EnsureRouter(ctx, "rt-1", "router-1"))
	if err := c.ConnectSwitch(ctx, "conn-1", router, sw, "10.0.0.1/24"); err != nil {
		t.Fatal(err)
	}
	sim.FailN("DELETE", "/api/v1/logical-ports/", http.StatusServiceUnavailable, 1)
	if err := c.DisconnectSwitch(ctx, "conn-1"); !IsTransient(err) {
		t.Fatalf("disconnect with the port delete failing = %v, want transient", err)
	}
	if n := sim.Counts(); n.RouterPorts != 0 || n.Ports != 1 {
		t.Fatalf("after the failed attempt: %+v", n)
	}
	if err := c.DisconnectSwitch(ctx, "conn-1"); err != nil {
		t.Fatal(err)
	}
	if n := sim.Counts(); n.Ports != 0 {
		t.Errorf("switch port left behind: %+v", n)
	}
}

// TestConnectResumes: a ConnectSwitch whose router port failed reuses the switch port the
// failed attempt created.
func TestConnectResumes(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t)
	ctx := t.Context()
	sw := okID(t)(c.EnsureSwitch(ctx, "sub-1", "net-1"))
	router := okID(t)(c.EnsureRouter(ctx, "rt-1", "router-1"))
	sim.FailN("POST", "/api/v1/logical-router-ports", http.StatusBadGateway, 1)
	if err := c.ConnectSwitch(ctx, "conn-1", router, sw, "10.0.0.1/24"); !IsTransient(err) {
		t.Fatalf("connect with the router port failing = %v, want transient", err)
	}
	if err := c.ConnectSwitch(ctx, "conn-1", router, sw, "10.0.0.1/24"); err != nil {
		t.Fatal(err)
	}
	if n := sim.Counts(); n.Ports != 1 || n.RouterPorts != 1 {
		t.Errorf("after the retry: %+v, want 1 switch port and 1 router port", n)
	}
	if err := c.ConnectSwitch(ctx, "conn-2", router, sw, "not-a-cidr"); IsTransient(err) || !errs.IsPermanent(err) {
		t.Errorf("connect with a bad gateway = %v, want permanent", err)
	}
}

func TestAllocateIP(t *testing.T) {
	t.Parallel()
	sim, c := newSim(t)
	ctx := t.Context()
	// 10.0.0.0/26 with the gateway outside the range: 10.0.0.2-10.0.0.62 is 61 addresses.
	pool := okID(t)(c.EnsureIPPool(ctx, "sub-1", "10.0.0.0/26", "10.0.0.1", "10.0.0.2", "10.0.0.62"))
	prefix := netip.MustParsePrefix("10.0.0.0/26")

	var mu sync.Mutex
	got := map[string]bool{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				ip, err := c.AllocateIP(ctx, pool)
				if IsExhausted(err) {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if got[ip] {
					t.Errorf("%s allocated twice", ip)
				}
				got[ip] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != 61 {
		t.Fatalf("allocated %d distinct addresses, want 61", len(got))
	}
	for ip := range got {
		if a := netip.MustParseAddr(ip); !prefix.Contains(a) || ip == "10.0.0.1" || ip == "10.0.0.0" || ip == "10.0.0.63" {
			t.Errorf("allocated %s, outside the range", ip)
		}
	}
	_, err := c.AllocateIP(ctx, pool)
	if !IsExhausted(err) || IsTransient(err) || !errs.IsPermanent(err) {
		t.Errorf("allocating from a full pool = %v, want a permanent exhaustion", err)
	}
	if err := c.DeleteIPPool(ctx, "sub-1"); !IsConflict(err) {
		t.Errorf("deleting a pool with allocations = %v, want a conflict", err)
	}

	for range 2 { // releasing twice is fine
		if err := c.ReleaseIP(ctx, pool, "10.0.0.7"); err != nil {
			t.Fatal(err)
		}
	}
	if ip := okID(t)(c.AllocateIP(ctx, pool)); ip != "10.0.0.7" {
		t.Errorf("allocated %s after releasing 10.0.0.7", ip)
	}
	for ip := range got {
		if err := c.ReleaseIP(ctx, pool, ip); err != nil {
			t.Fatal(err)
		}
	}
	if n := sim.Counts(); n.AllocatedIPs != 0 {
		t.Errorf("%d addresses still allocated", n.AllocatedIPs)
	}
	for range 2 {
		if err := c.DeleteIPPool(ctx, "sub-1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ReleaseIP(ctx, pool, "10.0.0.7"); err != nil {
		t.Errorf("releasing to a deleted pool = %v, want nil", err)
	}
	if _, err := c.AllocateIP(ctx, pool); !IsNotFound(err) {
		t.Errorf("allocating from a deleted pool = %v, want not found", err)
	}
	if n := sim.Counts(); n != (nsxsim.Counts{}) {
		t.Errorf("leaked: %+v", n)
	}
}

// TestErrorClassification makes one call fail with each status and checks how callers see it.
func TestErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status                        int
		transient, notFound, conflict bool
	}{
		{http.StatusInternalServerError, true, false, false},
		{http.StatusBadGateway, true, false, false},
		{http.StatusServiceUnavailable, true, false, false},
		{http.StatusTooManyRequests, true, false, false},
		{http.StatusRequestTimeout, true, false, false},
		{http.StatusBadRequest, false, false, false},
		{http.StatusForbidden, false, false, false},
		{http.StatusNotFound, false, true, false},
		{http.StatusConflict, false, false, true},
		{http.StatusPreconditionFailed, false, false, true},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			sim, c := newSim(t)
			sim.Fail("POST", "/api/v1/logical-routers", tt.status)
			_, err := c.EnsureRouter(t.Context(), "rt-1", "router-1")
			var e *Error
			if !errors.As(err, &e) || e.Status != tt.status || e.Code == 0 || e.Module == "" || e.Message == "" {
				t.Fatalf("err = %#v, want an *Error with status %d and NSX's error body", err, tt.status)
			}
			if IsTransient(err) != tt.transient || IsNotFound(err) != tt.notFound || IsConflict(err) != tt.conflict {
				t.Errorf("%v: transient %v, not found %v, conflict %v", err, IsTransient(err), IsNotFound(err), IsConflict(err))
			}
			if errs.IsPermanent(err) == tt.transient {
				t.Errorf("%v: errs.IsPermanent = %v, want %v", err, errs.IsPermanent(err), !tt.transient)
			}
			sim.ClearFaults()
			okID(t)(c.EnsureRouter(t.Context(), "rt-1", "router-1"))
			if n := sim.Counts(); n.Routers != 1 {
				t.Errorf("%d routers after a failed and a good ensure", n.Routers)
			}
		})
	}
}

func TestStaleRevisionIsConflict(t *testing.T) {
	t.Parallel()
	_, c := newSim(t)
	ctx := t.Context()
	id := okID(t)(c.EnsureSwitch(ctx, "sub-1", "net-1"))
	cctx := apiCtx(t, c)
	ls, _, err := c.api.LogicalSwitchingApi.GetLogicalSwitch(cctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ls.AdminState = "DOWN"
	if _, resp, err := c.api.LogicalSwitchingApi.UpdateLogicalSwitch(cctx, id, ls); callError("", resp, err) != nil {
		t.Fatal(err)
	}
	_, resp, err := c.api.LogicalSwitchingApi.UpdateLogicalSwitch(cctx, id, ls) // ls still has revision 0
	if e := callError("update logical switch", resp, err); e == nil || !IsConflict(e.result()) || IsTransient(e.result()) {
		t.Errorf("update with a stale revision = %v, want a permanent conflict", e)
	}
}

func TestUnreachableAndCredentials(t *testing.T) {
	t.Parallel()
	sim, good := newSim(t)
	bad, err := New(Config{ManagerURL: sim.URL, User: "admin", Password: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.EnsureSwitch(t.Context(), "sub-1", "net-1")
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusForbidden || IsTransient(err) || !errs.IsPermanent(err) {
		t.Errorf("bad credentials = %v, want a permanent 403", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "403 Forbidden") || !strings.Contains(msg, "credentials were incorrect") {
		t.Errorf("error message %q does not carry NSX's status and message", msg)
	}

	sim.Close()
	_, err = good.EnsureRouter(t.Context(), "rt-1", "router-1")
	if !errors.As(err, &e) || e.Status != 0 || !IsTransient(err) || errs.IsPermanent(err) {
		t.Errorf("manager down = %v, want a transient error", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := good.EnsureRouter(ctx, "rt-1", "router-1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context = %v", err)
	}
}

// TestTimeout: a manager that accepts the request and never answers is a transient error
// once Config.Timeout has passed.
func TestTimeout(t *testing.T) {
	t.Parallel()
	hung := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hung:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(hung) })
	c, err := New(Config{ManagerURL: srv.URL, User: "admin", Password: "secret", Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureRouter(t.Context(), "rt-1", "router-1"); !IsTransient(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung manager = %v, want a transient timeout", err)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	sim, _ := newSim(t)
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool // from New
		zone    string
		zoneErr bool
	}{
		{"first overlay zone", Config{ManagerURL: sim.URL}, false, nsxsim.DefaultTransportZoneID, false},
		{"zone by name", Config{ManagerURL: sim.URL, TransportZone: "photon-vlan"}, false, nsxsim.VLANTransportZoneID, false},
		{"zone by id", Config{ManagerURL: sim.URL + "/", TransportZone: nsxsim.DefaultTransportZoneID}, false, nsxsim.DefaultTransportZoneID, false},
		{"unknown zone", Config{ManagerURL: sim.URL, TransportZone: "nope"}, false, "", true},
		{"not a URL", Config{ManagerURL: "nsx.example"}, true, "", false},
		{"wrong scheme", Config{ManagerURL: "ftp://nsx.example"}, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.cfg.User, tt.cfg.Password = "admin", "secret"
			c, err := New(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("New = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			id, err := c.EnsureSwitch(t.Context(), "sub-"+tt.name, "net")
			if tt.zoneErr {
				if !IsNotFound(err) {
					t.Errorf("EnsureSwitch with an unknown zone = %v, want not found", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ls, _, err := c.api.LogicalSwitchingApi.GetLogicalSwitch(apiCtx(t, c), id)
			if err != nil || ls.TransportZoneId != tt.zone {
				t.Errorf("switch in zone %q (%v), want %q", ls.TransportZoneId, err, tt.zone)
			}
		})
	}
}
