package registrar_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/gateway/registrar"
	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/hostd/hostdsim"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// cloud is a store on the test Redis and the registrar served on a join endpoint, as
// photon gateway --join-listen serves it.
type cloud struct {
	s       *store.Store
	ca      *pki.CA
	joiner  *pki.Joiner
	reg     *registrar.Registrar
	joinURL string
	stop    func()
}

func newCloud(t testing.TB) *cloud {
	t.Helper()
	rdb := storetest.Client(t)
	prefix := storetest.Prefix(t)
	s := store.New(rdb, prefix)
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	c := &cloud{s: s, ca: ca, joiner: pki.NewJoiner(ca, rdb, prefix), reg: registrar.New(s, ca)}
	c.start(t, "127.0.0.1:0")
	return c
}

// start serves the join endpoint and the registrar on addr until c.stop.
func (c *cloud) start(t testing.TB, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	rpc := registrar.NewServer(c.reg)
	srv, err := c.joiner.ServeWith(ln, rpc, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c.joinURL, c.stop = "https://"+ln.Addr().String(), sync.OnceFunc(func() { srv.Close(); rpc.Stop() })
	t.Cleanup(c.stop)
}

// client is a registrar client that presents cert, as hostd does with its host
// certificate (pki.Host.EndpointClientTLS).
func (c *cloud) client(t testing.TB, cert *tls.Certificate) hostdv1.RegistrarClient {
	t.Helper()
	cfg := pki.ClientTLS(c.ca.Pool(), func() (*tls.Certificate, error) { return cert, nil }, nil)
	if cert == nil {
		cfg.GetClientCertificate = nil
	}
	cc, err := hostd.DialRegistrar(c.joinURL, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return hostdv1.NewRegistrarClient(cc)
}

// host is a registrar client with host id's certificate from ca.
func (c *cloud) host(t testing.TB, ca *pki.CA, id string) hostdv1.RegistrarClient {
	t.Helper()
	cert, err := ca.HostCredentials(id, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return c.client(t, &cert)
}

// registered is the client of host id, registered at addr.
func (c *cloud) registered(t testing.TB, id, addr string) hostdv1.RegistrarClient {
	t.Helper()
	h := c.host(t, c.ca, id)
	if _, err := h.Register(t.Context(), registration(addr)); err != nil {
		t.Fatal(err)
	}
	return h
}

func registration(addr string) *hostdv1.RegisterRequest {
	return &hostdv1.RegisterRequest{Name: "esx", Address: addr, Tags: []string{model.HostTagCloud}, EsxVersion: "8.0.3",
		CpuCores: 32, CpuMhz: 2400, MemoryMb: 262144, Networks: []string{"VM Network"},
		Datastores: []*hostdv1.HostDatastore{{Id: "ds-1", Name: "LocalDS_0", Type: "VMFS", Tags: []string{"LOCAL_VMFS"},
			CapacityBytes: 1 << 40, FreeBytes: 1 << 39, Images: []string{"images/photon-os.vmdk"}}},
		Usage: &hostdv1.HostUsage{CpuUsedMhz: 100, MemoryUsedMb: 1024}}
}

// TestRegistrationAndHeartbeats: what a hostd reports arrives in the store through the
// registrar, under the id its certificate names.
func TestRegistrationAndHeartbeats(t *testing.T) {
	t.Parallel()
	c := newCloud(t)
	ctx := t.Context()
	h1 := c.registered(t, "h1", "10.0.0.1:8835")
	got, err := c.s.GetHost(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.HostReady || got.Address != "10.0.0.1:8835" || got.CPUCores != 32 || got.MemoryMB != 262144 ||
		got.EsxVersion != "8.0.3" || len(got.Datastores) != 1 || got.Datastores[0].ID != "ds-1" ||
		got.Datastores[0].Images[0] != "images/photon-os.vmdk" || !got.HasTag(model.HostTagCloud) || got.Usage.CPUUsedMhz != 100 {
		t.Fatalf("registered %+v", got)
	}
	// The registration asks the reconciler for a pass over the host (through the starts
	// stream, which the relay publishes).
	starts, err := storetest.Client(t).XRange(ctx, c.s.StartsStream(), "-", "+").Result()
	if err != nil || len(starts) != 1 {
		t.Fatalf("starts after a registration: %v %v", starts, err)
	}
	var e cloudevents.Event
	if raw, _ := starts[0].Values["e"].(string); json.Unmarshal([]byte(raw), &e) != nil || e.Type() != events.HostReconcile.Type || e.Subject() != "h1" {
		t.Fatalf("the start after a registration: %v", starts[0].Values)
	}
	// What placement reads of a host (its datastores' tags and images here) goes through
	// the host change feed; usage and space do not.
	ds := func(free int64, images ...string) []*hostdv1.HostDatastore {
		return []*hostdv1.HostDatastore{{Id: "ds-1", Name: "LocalDS_0", Type: "VMFS", Tags: []string{"LOCAL_VMFS"},
			CapacityBytes: 1 << 40, FreeBytes: free, Images: images}}
	}
	cases := []struct {
		name    string
		u       *hostdv1.HostUsage
		publish bool
		want    func(*model.Host) bool
	}{
		{"usage", &hostdv1.HostUsage{CpuUsedMhz: 700, MemoryUsedMb: 4096, VmCount: 3}, false,
			func(h *model.Host) bool {
				return h.Usage.CPUUsedMhz == 700 && h.Usage.MemoryUsedMB == 4096 && h.Usage.VMCount == 3
			}},
		{"datastore space", &hostdv1.HostUsage{Datastores: ds(1<<30, "images/photon-os.vmdk")}, false,
			func(h *model.Host) bool {
				return len(h.Datastores) == 1 && h.Datastores[0].FreeBytes == 1<<30 && h.Datastores[0].Tags[0] == "LOCAL_VMFS"
			}},
		{"an image copied", &hostdv1.HostUsage{Datastores: ds(1<<29, "images/photon-os.vmdk", "images/b.vmdk")}, true,
			func(h *model.Host) bool {
				return h.Datastores[0].FreeBytes == 1<<29 && len(h.Datastores[0].Images) == 2
			}},
		{"the datastore's tags left to Photon", &hostdv1.HostUsage{Datastores: []*hostdv1.HostDatastore{{Id: "ds-1",
			Name: "LocalDS_0", Type: "VMFS", CapacityBytes: 1 << 40, FreeBytes: 1 << 28, Images: []string{"images/photon-os.vmdk", "images/b.vmdk"}}}}, false,
			func(h *model.Host) bool {
				return h.Datastores[0].FreeBytes == 1<<28 && h.Datastores[0].Tags[0] == "LOCAL_VMFS"
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := c.s.GetHost(ctx, "h1")
			gen, err := c.s.HostGeneration(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h1.Heartbeat(ctx, &hostdv1.HeartbeatRequest{Usage: tc.u}); err != nil {
				t.Fatal(err)
			}
			after, err := c.s.GetHost(ctx, "h1")
			if err != nil || !tc.want(after) || after.LastHeartbeat < before.LastHeartbeat {
				t.Fatalf("after the heartbeat: %+v %v", after, err)
			}
			if g, err := c.s.HostGeneration(ctx); err != nil || (g != gen) != tc.publish {
				t.Fatalf("host change feed at %d after the heartbeat, %d before (%v); want published %v", g, gen, err, tc.publish)
			}
		})
	}
}

// TestHostReportsOnlyItself: through the real registrar over real mutual TLS, a host
// writes its own record only, and the power states it reports change only the VMs placed
// on it; callers without a host certificate of the platform write nothing.
func TestHostReportsOnlyItself(t *testing.T) {
	t.Parallel()
	c := newCloud(t)
	ctx := t.Context()
	h1, h2 := c.host(t, c.ca, "h1"), c.host(t, c.ca, "h2")
	if _, err := h2.Register(ctx, registration("10.0.0.2:8835")); err != nil {
		t.Fatal(err)
	}
	if _, err := h1.Register(ctx, registration("10.0.0.1:8835")); err != nil {
		t.Fatal(err)
	}
	c.project(t)
	// Each VM is STOPPED, its create task long over.
	for id, host := range map[string]string{"vm-on-h1": "h1", "vm-on-h2": "h2", "vm-unplaced": ""} {
		vm := &model.VM{ID: id, Name: id, TenantID: "t1", ProjectID: "p1", State: model.VMStopped, HostID: host, CreatedAt: 1}
		task := c.s.NewTask("task-"+id, "CREATE_VM", model.Entity{ID: id, Kind: model.KindVM}, model.Caller{}, nil)
		task.State, task.EndTime = model.TaskCompleted, 1
		if err := c.s.CreateVM(ctx, vm, task); err != nil {
			t.Fatal(err)
		}
	}
	h2Before, err := c.s.GetHost(ctx, "h2")
	if err != nil {
		t.Fatal(err)
	}

	// h1 reports every VM powered on; only its own changes.
	power := &hostdv1.HostUsage{CpuUsedMhz: 999, ReadAtMs: time.Now().UnixMilli(), VmPowers: []*hostdv1.VmPower{
		{VmId: "vm-on-h1", PowerState: "poweredOn"}, {VmId: "vm-on-h2", PowerState: "poweredOn"},
		{VmId: "vm-unplaced", PowerState: "poweredOn"}}}
	if _, err := h1.Heartbeat(ctx, &hostdv1.HeartbeatRequest{Usage: power}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"vm-on-h1": model.VMStarted, "vm-on-h2": model.VMStopped, "vm-unplaced": model.VMStopped} {
		vm, err := store.Get[model.VM](ctx, c.s, model.KindVM, id)
		if err != nil || vm.State != want {
			t.Errorf("%s after h1 reported it powered on: %+v %v, want %s", id, vm, err, want)
		}
	}
	if h2After, err := c.s.GetHost(ctx, "h2"); err != nil || h2After.Usage.CPUUsedMhz != h2Before.Usage.CPUUsedMhz ||
		h2After.Address != "10.0.0.2:8835" || h2After.LastHeartbeat != h2Before.LastHeartbeat {
		t.Fatalf("h1's heartbeat changed h2: %+v %v", h2After, err)
	}

	service, err := c.ca.ServiceCredentials("functions")
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	callers := []struct {
		name   string
		client hostdv1.RegistrarClient
		want   codes.Code
	}{
		{"no certificate", c.client(t, nil), codes.Unauthenticated},
		{"a service's certificate", c.client(t, &service), codes.PermissionDenied},
		{"h2's id from another CA", c.host(t, other, "h2"), codes.Unavailable}, // the handshake fails
	}
	for _, tc := range callers {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.client.Register(ctx, registration("10.6.6.6:8835"))
			if status.Code(err) != tc.want {
				t.Errorf("register: %v, want %s", err, tc.want)
			}
			_, err = tc.client.Heartbeat(ctx, &hostdv1.HeartbeatRequest{Usage: power})
			if status.Code(err) != tc.want {
				t.Errorf("heartbeat: %v, want %s", err, tc.want)
			}
			if h2After, err := c.s.GetHost(ctx, "h2"); err != nil || h2After.Address != "10.0.0.2:8835" {
				t.Fatalf("h2 after the call: %+v %v", h2After, err)
			}
			if vm, err := store.Get[model.VM](ctx, c.s, model.KindVM, "vm-on-h2"); err != nil || vm.State != model.VMStopped {
				t.Fatalf("vm-on-h2 after the call: %+v %v", vm, err)
			}
		})
	}
}

// project writes tenant t1 and its project p1, for VMs to be made in.
func (c *cloud) project(t testing.TB) {
	t.Helper()
	ctx := t.Context()
	ten := &model.Tenant{ID: "t1", Name: "acme", CreatedAt: c.s.Now()}
	if err := c.s.CreateTenant(ctx, ten, c.s.NewTask("task-t1", "CREATE_TENANT", model.Entity{ID: "t1", Kind: model.KindTenant}, model.Caller{}, nil)); err != nil {
		t.Fatal(err)
	}
	proj := &model.Project{ID: "p1", TenantID: "t1", Name: "p1", CreatedAt: c.s.Now()}
	if err := c.s.CreateProject(ctx, proj, c.s.NewTask("task-p1", "CREATE_PROJECT", model.Entity{ID: "p1", Kind: model.KindProject}, model.Caller{}, nil)); err != nil {
		t.Fatal(err)
	}
}

// TestHeartbeatRetries: of the power states a beat reports, those of VMs a task holds or
// whose last task ended about when the states were read are answered for the host to
// report again; the others are weighed at once, and a VM in line is not answered.
func TestHeartbeatRetries(t *testing.T) {
	t.Parallel()
	c := newCloud(t)
	ctx := t.Context()
	h1 := c.registered(t, "h1", "10.0.0.1:8835")
	c.project(t)
	now := time.Now().UnixMilli()
	cases := []struct {
		id, state string
		held      bool  // a task holds it
		ended     int64 // when its last task ended (unix ms)
		want      string
		retry     bool
	}{
		{"vm-settled", model.VMStopped, false, 1, model.VMStarted, false},
		{"vm-in-line", model.VMStarted, false, 1, model.VMStarted, false},
		{"vm-held", model.VMStopped, true, 0, model.VMStopped, true},
		{"vm-just-ended", model.VMStopped, false, now, model.VMStopped, true},
	}
	power := &hostdv1.HostUsage{ReadAtMs: now}
	for _, tc := range cases {
		vm := &model.VM{ID: tc.id, Name: tc.id, TenantID: "t1", ProjectID: "p1", State: tc.state, HostID: "h1", CreatedAt: 1}
		task := c.s.NewTask("task-"+tc.id, "CREATE_VM", model.Entity{ID: tc.id, Kind: model.KindVM}, model.Caller{}, nil)
		if tc.held {
			vm.ActiveTask = task.ID
		} else {
			task.State, task.EndTime = model.TaskCompleted, tc.ended
		}
		if err := c.s.CreateVM(ctx, vm, task); err != nil {
			t.Fatal(err)
		}
		power.VmPowers = append(power.VmPowers, &hostdv1.VmPower{VmId: tc.id, PowerState: "poweredOn"})
	}
	res, err := h1.Heartbeat(ctx, &hostdv1.HeartbeatRequest{Usage: power})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		if got := slices.Contains(res.GetRetryVmIds(), tc.id); got != tc.retry {
			t.Errorf("%s answered to report again: %v, want %v (answer %v)", tc.id, got, tc.retry, res.GetRetryVmIds())
		}
		if vm, err := store.Get[model.VM](ctx, c.s, model.KindVM, tc.id); err != nil || vm.State != tc.want {
			t.Errorf("%s after the beat: %+v %v, want %s", tc.id, vm, err, tc.want)
		}
	}
}

// TestHeartbeatsStream: over the Heartbeats stream, each beat that is not quiet is
// answered in order (each answer saying that quiet beats are taken), a quiet one is taken
// without an answer, and all are recorded as a call of Heartbeat records them; a caller
// that a call would refuse has the stream ended at its first beat, quiet or not, with the
// same code, and writes nothing.
func TestHeartbeatsStream(t *testing.T) {
	t.Parallel()
	c := newCloud(t)
	ctx := t.Context()
	h1 := c.registered(t, "h1", "10.0.0.1:8835")
	service, err := c.ca.ServiceCredentials("functions")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		client hostdv1.RegistrarClient
		want   codes.Code
	}{
		{"h1", h1, codes.OK},
		{"no certificate", c.client(t, nil), codes.Unauthenticated},
		{"a service's certificate", c.client(t, &service), codes.PermissionDenied},
	}
	quiet := []bool{true, false, true, true, false, true}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stream, err := tc.client.Heartbeats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			took := func(i int, mhz int64, err error) {
				t.Helper()
				h, herr := c.s.GetHost(ctx, "h1")
				if herr != nil || (h.Usage.CPUUsedMhz == mhz) != (tc.want == codes.OK) {
					t.Fatalf("h1 after beat %d of %d MHz (%v): %+v %v", i, mhz, err, h.Usage, herr)
				}
			}
			var mhz int64
			for i, q := range quiet {
				mhz = int64(1000*len(tc.name) + i)
				if err := stream.Send(&hostdv1.HeartbeatRequest{Usage: &hostdv1.HostUsage{CpuUsedMhz: mhz}, Quiet: q}); err != nil && err != io.EOF {
					t.Fatal(err)
				}
				if q && tc.want == codes.OK {
					continue // taken without an answer: the next answer, or the stream's end, follows it
				}
				res, err := stream.Recv()
				if status.Code(err) != tc.want || (err == nil && !res.GetQuietBeats()) {
					t.Fatalf("beat %d: %v %v, want %s and quiet beats taken", i, res, err, tc.want)
				}
				took(i, mhz, err)
				if err != nil {
					return // the stream has ended
				}
			}
			if err := stream.CloseSend(); err != nil {
				t.Fatal(err)
			}
			if _, err := stream.Recv(); err != io.EOF {
				t.Fatalf("the stream's end: %v, want EOF", err)
			}
			took(len(quiet)-1, mhz, nil) // the last beat, quiet, was taken before the stream ended
		})
	}
}

// TestHostdReportsThroughRegistrar: a hostd that joined at the join endpoint registers
// and heartbeats its host through the registrar there, with the certificate it joined
// for. When the control plane is down at its start, it serves anyway and registers once
// the control plane is back.
func TestHostdReportsThroughRegistrar(t *testing.T) {
	t.Parallel()
	c := newCloud(t)
	ctx := t.Context()
	token, err := c.joiner.CreateJoinToken(ctx, "h1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := pki.Enroll(ctx, pki.EnrollOptions{JoinURL: c.joinURL, Token: token, Pin: c.ca.Pin(), Names: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	c.stop() // the control plane goes away
	sim, err := hostdsim.Start(ctx, "images/photon-os.vmdk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	cc, err := hostd.DialRegistrar(c.joinURL, cred.EndpointClientTLS())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	d, err := hostd.Start(ctx, hostd.Options{ID: cred.ID(), URL: sim.URL, Insecure: true, TLS: cred.ServerTLS(),
		Heartbeat: 50 * time.Millisecond, FileOps: 1, Registrar: hostdv1.NewRegistrarClient(cc)})
	if err != nil {
		t.Fatalf("hostd did not start while the control plane was down: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := c.s.GetHost(ctx, "h1"); !errors.Is(err, errs.ErrNotFound) {
		t.Fatalf("host h1 with the control plane down: %v", err)
	}

	c.start(t, strings.TrimPrefix(c.joinURL, "https://")) // back, at the same address
	registered := waitHost(t, c.s, "h1", "registered", func(h *model.Host) bool {
		return h.State == model.HostReady && h.Address == d.Addr() && len(h.Datastores) > 0
	})
	waitHost(t, c.s, "h1", "heartbeat", func(h *model.Host) bool { return h.LastHeartbeat > registered.LastHeartbeat })
}

// waitHost polls host id until ok holds of its record, for at most 30 seconds.
func waitHost(t *testing.T, s *store.Store, id, what string, ok func(*model.Host) bool) *model.Host {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		h, err := s.GetHost(t.Context(), id)
		if err == nil && ok(h) {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %s: no %s within 30s: %+v %v", id, what, h, err)
		}
		<-tick.C
	}
}

// BenchmarkHeartbeat: one heartbeat of a host with one datastore and 100 VMs placed on
// it, through the registrar over mutual TLS into Redis as hostd sends them: with the power
// state of every VM (a full list) and with none (no VM changed since the last beat). Each
// reports the CPU a beat costs: cpu-ns/op of this process (the registrar's server and the
// hostd-side client both run in it) and redis-cpu-ns/op of the Redis server. "store" is
// the registrar's store write alone, without gRPC. 10,000 hosts beating every 10 s are
// 1,000 beats a second: a beat of 50µs of CPU is 5% of one core.
func BenchmarkHeartbeat(b *testing.B) {
	c := newCloud(b)
	ctx := b.Context()
	h1 := c.host(b, c.ca, "h1")
	req := registration("10.0.0.1:8835")
	if _, err := h1.Register(ctx, req); err != nil {
		b.Fatal(err)
	}
	c.project(b)
	var powers []*hostdv1.VmPower
	vmPower := map[string]string{}
	for i := range 100 {
		id := fmt.Sprintf("vm-%03d", i)
		vm := &model.VM{ID: id, Name: id, TenantID: "t1", ProjectID: "p1", State: model.VMStarted, HostID: "h1", CreatedAt: 1}
		task := c.s.NewTask("task-"+id, "CREATE_VM", model.Entity{ID: id, Kind: model.KindVM}, model.Caller{}, nil)
		task.State, task.EndTime = model.TaskCompleted, 1
		if err := c.s.CreateVM(ctx, vm, task); err != nil {
			b.Fatal(err)
		}
		powers = append(powers, &hostdv1.VmPower{VmId: id, PowerState: "poweredOn"})
		vmPower[id] = "poweredOn"
	}
	usage := func(p []*hostdv1.VmPower) *hostdv1.HeartbeatRequest {
		return &hostdv1.HeartbeatRequest{Usage: &hostdv1.HostUsage{CpuUsedMhz: 100, MemoryUsedMb: 1024, VmCount: 100,
			Datastores: req.GetDatastores(), VmPowers: p, ReadAtMs: time.Now().UnixMilli()}}
	}
	rdb := storetest.Client(b)
	stream, err := h1.Heartbeats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		beat   *hostdv1.HeartbeatRequest
		stream bool // over the Heartbeats stream, as hostd beats
	}{
		{"registrar/full", usage(powers), false}, {"registrar/unchanged", usage(nil), false},
		{"registrar/stream/full", usage(powers), true}, {"registrar/stream/unchanged", usage(nil), true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			measureCPU(b, rdb, 1, func() {
				var err error
				if bc.stream {
					if err = stream.Send(bc.beat); err == nil {
						_, err = stream.Recv()
					}
				} else {
					_, err = h1.Heartbeat(ctx, bc.beat)
				}
				if err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	// Many hosts beat at once, as a fleet does (10,000 hosts every 10 s are a thousand beats
	// a second): each round is one unchanged beat from each of fleet hosts, on its stream,
	// the rounds 10 ms apart so that one host's beats never share a read, as beats 10 s
	// apart do not. Every beat answered, then hostd's mix: two quiet beats, then an answered one.
	const fleet = 100
	beats := make([]hostdv1.Registrar_HeartbeatsClient, fleet)
	for i := range beats {
		h := c.registered(b, fmt.Sprintf("f%03d", i), fmt.Sprintf("10.0.1.%d:8835", i))
		if beats[i], err = h.Heartbeats(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name  string
		quiet func(round int) bool
	}{
		{"unchanged", func(int) bool { return false }},
		{"quiet", func(round int) bool { return round%3 != 2 }},
	} {
		b.Run(fmt.Sprintf("registrar/stream/%s/%d-hosts", bc.name, fleet), func(b *testing.B) {
			errs := make(chan error, fleet)
			pace := time.NewTicker(10 * time.Millisecond)
			defer pace.Stop()
			round := 0
			measureCPU(b, rdb, fleet, func() {
				<-pace.C
				beat := usage(nil)
				beat.Quiet = bc.quiet(round)
				round++
				var wg sync.WaitGroup
				for _, s := range beats {
					wg.Go(func() {
						if err := s.Send(beat); err != nil {
							errs <- err
						} else if !beat.Quiet {
							if _, err := s.Recv(); err != nil {
								errs <- err
							}
						}
					})
				}
				wg.Wait()
				select {
				case err := <-errs:
					b.Fatal(err)
				default:
				}
			})
			if round%3 != 0 { // the last beats quiet: one answered beat waits for them to be taken
				for _, s := range beats {
					if err := s.Send(usage(nil)); err != nil {
						b.Fatal(err)
					}
					if _, err := s.Recv(); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
	ds := []model.Datastore{{ID: "ds-1", Name: "LocalDS_0", Type: "VMFS", Tags: []string{"LOCAL_VMFS"},
		CapacityBytes: 1 << 40, FreeBytes: 1 << 39, Images: []string{"images/photon-os.vmdk"}}}
	for _, bc := range []struct {
		name  string
		power map[string]string
	}{{"store/full", vmPower}, {"store/unchanged", nil}} {
		b.Run(bc.name, func(b *testing.B) {
			u := model.HostUsage{CPUUsedMhz: 100, MemoryUsedMB: 1024, VMCount: 100, Datastores: ds, ReadAt: time.Now().UnixMilli()}
			measureCPU(b, rdb, 1, func() {
				u.VMPower = bc.power
				if _, err := c.s.HeartbeatHost(ctx, "h1", u); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// measureCPU runs beat b.N times and reports the CPU this process and the Redis server
// spent per beat (a call of beat makes n).
func measureCPU(b *testing.B, rdb redis.UniversalClient, n int, beat func()) {
	b.Helper()
	p0, r0 := storetest.CPU(b, rdb)
	calls := 0
	for b.Loop() {
		beat()
		calls++
	}
	n *= calls
	p1, r1 := storetest.CPU(b, rdb)
	b.ReportMetric(float64(p1-p0)/float64(n), "cpu-ns/op")
	b.ReportMetric(float64(r1-r0)/float64(n), "redis-cpu-ns/op")
}
