package hostd_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/pki"
)

const image = "images/photon-os.vmdk"

// registrar is a fake hostd.v1.Registrar client that records calls; it refuses the first
// failRegister registrations as an unreachable control plane does, and the heartbeats
// refuse says to refuse.
type registrar struct {
	mu           sync.Mutex
	host         *hostdv1.RegisterRequest
	failRegister int
	registered   chan struct{}
	heartbeats   chan *hostdv1.HostUsage
	refuse       func(*hostdv1.HostUsage) bool
	retry        func(*hostdv1.HostUsage) []string // the VMs a taken beat answers to report again
	beats        []beat                            // every heartbeat, in order
	unary        bool                              // serve no Heartbeats stream, as an older registrar
	loud         bool                              // answer every beat on the stream, as a registrar that knows no quiet beats
	streams      int                               // Heartbeats streams opened
}

// beat is a heartbeat the registrar received, the stream it came over (1 for the first
// opened; 0: a call of Heartbeat), whether it was quiet and whether it refused it.
type beat struct {
	usage   *hostdv1.HostUsage
	stream  int
	quiet   bool
	refused bool
}

func newRegistrar(failRegister int) *registrar {
	return &registrar{failRegister: failRegister, registered: make(chan struct{}), heartbeats: make(chan *hostdv1.HostUsage, 1)}
}

func (r *registrar) Register(_ context.Context, req *hostdv1.RegisterRequest, _ ...grpc.CallOption) (*hostdv1.RegisterResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failRegister > 0 {
		r.failRegister--
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
	if r.host == nil {
		close(r.registered)
	}
	r.host = req
	return &hostdv1.RegisterResponse{}, nil
}

// waitBeats polls until ok holds of the beats so far, and returns them.
func (r *registrar) waitBeats(t *testing.T, what string, ok func([]beat) bool) []beat {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		r.mu.Lock()
		bs := slices.Clone(r.beats)
		r.mu.Unlock()
		if ok(bs) {
			return bs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 30s", what)
		}
		<-tick.C
	}
}

func (r *registrar) Heartbeat(_ context.Context, req *hostdv1.HeartbeatRequest, _ ...grpc.CallOption) (*hostdv1.HeartbeatResponse, error) {
	return r.heartbeat(req, 0)
}

// Heartbeats answers each beat sent on the stream as Heartbeat does, until one is refused.
func (r *registrar) Heartbeats(ctx context.Context, _ ...grpc.CallOption) (grpc.BidiStreamingClient[hostdv1.HeartbeatRequest, hostdv1.HeartbeatResponse], error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unary {
		return nil, status.Error(codes.Unimplemented, "unknown method Heartbeats for service hostd.v1.Registrar")
	}
	r.streams++
	return &beatStream{ctx: ctx, r: r, id: r.streams}, nil
}

// beatStream is the client side of the fake's Heartbeats stream: Recv answers the beat
// sent last; a quiet beat is taken as it is sent, and its refusal ends the stream.
type beatStream struct {
	grpc.ClientStream
	ctx  context.Context
	r    *registrar
	id   int
	sent *hostdv1.HeartbeatRequest
	err  error // the stream ended with it
}

func (s *beatStream) Send(req *hostdv1.HeartbeatRequest) error {
	if s.err != nil {
		return io.EOF
	}
	s.sent = req
	if req.GetQuiet() && !s.r.loud {
		_, s.err = s.r.heartbeat(req, s.id)
		s.sent = nil
	}
	return nil
}

func (s *beatStream) Recv() (*hostdv1.HeartbeatResponse, error) {
	if s.err == nil && s.ctx.Err() != nil {
		s.err = status.FromContextError(s.ctx.Err()).Err()
	}
	if s.err != nil {
		return nil, s.err
	}
	res, err := s.r.heartbeat(s.sent, s.id)
	s.err = err
	if err == nil {
		res.QuietBeats = !s.r.loud
	}
	return res, err
}

func (s *beatStream) CloseSend() error { return nil }

func (r *registrar) heartbeat(req *hostdv1.HeartbeatRequest, stream int) (*hostdv1.HeartbeatResponse, error) {
	r.mu.Lock()
	refused := r.refuse != nil && r.refuse(req.GetUsage())
	r.beats = append(r.beats, beat{req.GetUsage(), stream, req.GetQuiet(), refused})
	var retry []string
	if !refused && r.retry != nil {
		retry = r.retry(req.GetUsage())
	}
	r.mu.Unlock()
	if refused {
		return nil, status.Error(codes.Unavailable, "connection refused")
	}
	select {
	case r.heartbeats <- req.GetUsage():
	default:
	}
	return &hostdv1.HeartbeatResponse{RetryVmIds: retry}, nil
}

// start runs a host of backend b with its hostd and returns the host, a gRPC client of
// the hostd that calls as a function does (with a service certificate from the platform
// CA, for host h1) and the registrar it reports to.
func start(t testing.TB, b backend) (host, hostdv1.HostClient, *registrar) {
	t.Helper()
	ca := testCA(t)
	hst, d, reg := startDaemon(t, b, hostd.Options{ID: "h1", TLS: hostTLS(t, ca, "h1")})
	return hst, dial(t, d.Addr(), pki.ForHost(serviceTLS(t, ca), "h1")), reg
}

// startDaemon runs a host of backend b and a hostd on it as o says, beating every 50ms
// (unless o says otherwise) to a fake registrar.
func startDaemon(t testing.TB, b backend, o hostd.Options) (host, *hostd.Daemon, *registrar) {
	t.Helper()
	hst := b.run(t)
	d, reg := daemonOn(t, hst, o)
	return hst, d, reg
}

// daemonOn runs a hostd as o says on hst, beating every 50ms unless o says otherwise.
func daemonOn(t testing.TB, hst host, o hostd.Options) (*hostd.Daemon, *registrar) {
	t.Helper()
	reg := newRegistrar(0)
	if o.Registrar != nil {
		reg = o.Registrar.(*registrar)
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 50 * time.Millisecond
	}
	o.Registrar, o.FileOps = reg, 1
	d, err := hst.start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, reg
}

// forBackends runs f as a parallel subtest for each backend: hostd's contract is the same
// on all of them.
func forBackends(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b)
		})
	}
}

func testCA(t testing.TB) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// hostTLS is the server config of host id from ca, at 127.0.0.1.
func hostTLS(t testing.TB, ca *pki.CA, id string) *tls.Config {
	t.Helper()
	cert, err := ca.HostCredentials(id, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return pki.ServerTLS(ca.Pool(), pki.Static(cert), pki.Services())
}

// serviceTLS is the client config of a function from ca.
func serviceTLS(t testing.TB, ca *pki.CA) *tls.Config {
	t.Helper()
	cfg, err := ca.ServiceClientTLS("functions")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func dial(t testing.TB, addr string, cfg *tls.Config) hostdv1.HostClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return hostdv1.NewHostClient(cc)
}

func TestVMLifecycle(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		_, h, reg := start(t, b)
		ctx := t.Context()
		ds := reg.host.Datastores[0].Name
		create := &hostdv1.CreateVmRequest{VmId: "vm-1", Name: "web", CpuCount: 2, MemoryMb: 64, Datastore: ds, ImagePath: image}
		steps := []struct {
			name string
			call func() (*hostdv1.VmInfo, error)
		}{
			{"create", func() (*hostdv1.VmInfo, error) { return h.CreateVm(ctx, create) }},
			{"attach disk", func() (*hostdv1.VmInfo, error) {
				return h.AttachDisk(ctx, &hostdv1.AttachDiskRequest{VmId: "vm-1", DiskId: "d1", CapacityGb: 1})
			}},
			{"add NIC", func() (*hostdv1.VmInfo, error) {
				return h.AddNic(ctx, &hostdv1.AddNicRequest{VmId: "vm-1", NicId: "nic-0", Network: "VM Network"})
			}},
			{"power on", func() (*hostdv1.VmInfo, error) { return h.PowerOn(ctx, &hostdv1.VmRef{VmId: "vm-1"}) }},
		}
		var last *hostdv1.VmInfo
		for _, st := range steps {
			for attempt := range 2 { // the second call is a replay and must change nothing
				info, err := st.call()
				if err != nil {
					t.Fatalf("%s (attempt %d): %v", st.name, attempt, err)
				}
				if attempt == 1 && (len(info.Disks) != len(last.Disks) || len(info.Nics) != len(last.Nics)) {
					t.Fatalf("%s replayed added devices: %v then %v", st.name, last, info)
				}
				last = info
			}
		}
		if last.PowerState != "poweredOn" || len(last.Disks) != 2 || len(last.Nics) != 1 || last.Nics[0].MacAddress == "" {
			t.Fatalf("vm = %v", last)
		}
		// hostd answers changes from what it knows; the host must agree.
		if fresh, err := h.GetVm(ctx, &hostdv1.VmRef{VmId: "vm-1"}); err != nil || !proto.Equal(fresh, last) {
			t.Fatalf("hostd answered %v, the host has %v (%v)", last, fresh, err)
		}
		boot := last.Disks[0]
		if !boot.Boot || boot.Parent != fmt.Sprintf("[%s] %s", ds, image) {
			t.Fatalf("boot disk is not a linked clone of the image: %v", boot)
		}
		if info, err := h.DetachDisk(ctx, &hostdv1.DetachDiskRequest{VmId: "vm-1", DiskId: "d1"}); err != nil || len(info.Disks) != 1 {
			t.Fatalf("detach: %v %v", info, err)
		}
		if info, err := h.RemoveNic(ctx, &hostdv1.RemoveNicRequest{VmId: "vm-1", NicId: "nic-0"}); err != nil || len(info.Nics) != 0 {
			t.Fatalf("remove NIC: %v %v", info, err)
		}
		for _, want := range []bool{true, false} {
			res, err := h.DeleteVm(ctx, &hostdv1.VmRef{VmId: "vm-1"})
			if err != nil || res.Existed != want {
				t.Fatalf("delete: existed=%v err=%v, want existed=%v", res.GetExisted(), err, want)
			}
		}
		if _, err := h.GetVm(ctx, &hostdv1.VmRef{VmId: "vm-1"}); status.Code(err) != codes.NotFound {
			t.Fatalf("get deleted VM: %v", err)
		}
	})
}

func TestErrors(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		v, h, reg := start(t, b)
		ctx := t.Context()
		ds := reg.host.Datastores[0].Name
		if _, err := h.CreateVm(ctx, &hostdv1.CreateVmRequest{VmId: "vm-x", CpuCount: 1, MemoryMb: 16, Datastore: ds, ImagePath: image}); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			call func() error
			want codes.Code
		}{
			{"missing image", func() error {
				_, err := h.CreateVm(ctx, &hostdv1.CreateVmRequest{VmId: "vm-2", CpuCount: 1, MemoryMb: 16, Datastore: ds, ImagePath: "images/none.vmdk"})
				return err
			}, codes.NotFound},
			{"missing VM", func() error { _, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: "nope"}); return err }, codes.NotFound},
			{"injected fault", func() error {
				v.fail("PowerOnVM_Task", "PowerOn")
				defer v.clearFaults()
				_, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: "vm-x"})
				return err
			}, codes.FailedPrecondition},
			{"console of a powered-off VM", func() error {
				_, err := h.GetMksTicket(ctx, &hostdv1.VmRef{VmId: "vm-x"})
				return err
			}, codes.FailedPrecondition},
			{"console where the host has no ticket service (vcsim, a hollow host)", func() error {
				if _, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: "vm-x"}); err != nil {
					return err
				}
				_, err := h.GetMksTicket(ctx, &hostdv1.VmRef{VmId: "vm-x"})
				return err
			}, codes.Unimplemented},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.call(); status.Code(err) != tc.want {
					t.Fatalf("got %v, want %s", err, tc.want)
				}
			})
		}
	})
}

func TestRegistration(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		_, h, reg := start(t, b)
		reg.mu.Lock()
		host := reg.host
		reg.mu.Unlock()
		if host.GetAddress() == "" || host.GetCpuCores() == 0 || host.GetMemoryMb() == 0 || len(host.GetDatastores()) == 0 ||
			!slices.Equal(host.Datastores[0].GetImages(), []string{image}) || len(host.GetNetworks()) == 0 {
			t.Fatalf("registered %v", host)
		}
		select {
		case <-reg.heartbeats:
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat")
		}
		res, err := h.GetResources(t.Context(), &hostdv1.GetResourcesRequest{})
		if err != nil || res.GetMemoryMb() != host.GetMemoryMb() {
			t.Fatalf("resources %v %v", res, err)
		}
		// The usage is read beside the beats: a later beat carries the VM created now.
		if _, err := h.CreateVm(t.Context(), &hostdv1.CreateVmRequest{VmId: "vm-hb", Name: "hb", CpuCount: 1, MemoryMb: 32,
			Datastore: host.Datastores[0].Name, ImagePath: image}); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case u := <-reg.heartbeats:
				if u.GetVmCount() >= 1 {
					return
				}
			case <-deadline:
				t.Fatal("no heartbeat counted the new VM")
			}
		}
	})
}

// TestRegistrationRetried: a hostd whose control plane is unreachable starts, serves, and
// registers once the registrar answers; heartbeats follow.
func TestRegistrationRetried(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		ca := testCA(t)
		reg := newRegistrar(3)
		_, d, _ := startDaemon(t, b, hostd.Options{ID: "h1", TLS: hostTLS(t, ca, "h1"), Registrar: reg})
		h := dial(t, d.Addr(), pki.ForHost(serviceTLS(t, ca), "h1"))
		if _, err := h.GetResources(t.Context(), &hostdv1.GetResourcesRequest{}); err != nil {
			t.Fatalf("hostd does not serve while it cannot register: %v", err)
		}
		select {
		case <-reg.registered:
		case <-time.After(10 * time.Second):
			t.Fatal("hostd did not register once the registrar answered")
		}
		reg.mu.Lock()
		failed, host := reg.failRegister, reg.host
		reg.mu.Unlock()
		if failed != 0 || host.GetAddress() != d.Addr() || host.GetUsage() == nil {
			t.Fatalf("registered after %d more refusals: %v", failed, host)
		}
		select {
		case <-reg.heartbeats:
		case <-time.After(10 * time.Second):
			t.Fatal("no heartbeat after the registration")
		}
	})
}

func TestConcurrentCreates(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		_, h, reg := start(t, b)
		ds := reg.host.Datastores[0].Name
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := h.CreateVm(t.Context(), &hostdv1.CreateVmRequest{VmId: fmt.Sprint("vm-", i), CpuCount: 1, MemoryMb: 16, Datastore: ds, ImagePath: image})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range 20 {
			if _, err := h.GetVm(t.Context(), &hostdv1.VmRef{VmId: fmt.Sprint("vm-", i)}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestHeartbeatPowers: a heartbeat carries the power states that changed since the last
// one the registrar took (a new VM's among them), every VM's on every PowerListEvery-th
// beat from the registration, and a change that a refused heartbeat carried again on the
// next one.
func TestHeartbeatPowers(t *testing.T) {
	t.Parallel()
	const every = 4
	forBackends(t, func(t *testing.T, b backend) {
		ca := testCA(t)
		_, d, reg := startDaemon(t, b, hostd.Options{ID: "h1", TLS: hostTLS(t, ca, "h1"), PowerListEvery: every})
		h := dial(t, d.Addr(), pki.ForHost(serviceTLS(t, ca), "h1"))
		ctx := t.Context()
		if _, err := h.CreateVm(ctx, &hostdv1.CreateVmRequest{VmId: "vm-p", Name: "p", CpuCount: 1, MemoryMb: 32,
			Datastore: reg.host.Datastores[0].Name, ImagePath: image}); err != nil {
			t.Fatal(err)
		}
		state := func(u *hostdv1.HostUsage, vm string) string {
			for _, p := range u.GetVmPowers() {
				if p.GetVmId() == vm {
					return p.GetPowerState()
				}
			}
			return ""
		}
		waitBeats := func(what string, ok func([]beat) bool) []beat { return reg.waitBeats(t, what, ok) }
		taken := func(bs []beat) []*hostdv1.HostUsage {
			var out []*hostdv1.HostUsage
			for _, b := range bs {
				if !b.refused {
					out = append(out, b.usage)
				}
			}
			return out
		}
		// The new VM is reported as it appears, then only by the full lists.
		var first int
		bs := waitBeats("beats past the new VM's", func(bs []beat) bool {
			us := taken(bs)
			first = slices.IndexFunc(us, func(u *hostdv1.HostUsage) bool { return state(u, "vm-p") != "" })
			return first >= 0 && len(us) > first+2*every
		})
		for k, u := range taken(bs)[first:] {
			k += first
			full := k%every == 0
			if got := state(u, "vm-p"); (got != "") != (full || k == first) {
				t.Errorf("beat %d (full list: %v) reports vm-p as %q: %v", k, full, got, u.GetVmPowers())
			}
			if full && len(u.GetVmPowers()) != int(u.GetVmCount()) {
				t.Errorf("full list of beat %d: %d power states of %d VMs", k, len(u.GetVmPowers()), u.GetVmCount())
			}
		}

		// The registrar refuses beats until one carried vm-p's power-on: the next beat it
		// takes carries it again.
		reg.mu.Lock()
		reg.refuse = func(u *hostdv1.HostUsage) bool {
			refused := slices.ContainsFunc(reg.beats, func(b beat) bool { return b.refused && state(b.usage, "vm-p") == "poweredOn" })
			return !refused
		}
		mark := len(reg.beats)
		reg.mu.Unlock()
		if _, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: "vm-p"}); err != nil {
			t.Fatal(err)
		}
		bs = waitBeats("beat taken after the refusals", func(bs []beat) bool {
			return slices.ContainsFunc(bs[mark:], func(b beat) bool { return !b.refused })
		})
		i := mark + slices.IndexFunc(bs[mark:], func(b beat) bool { return !b.refused })
		if got := state(bs[i].usage, "vm-p"); got != "poweredOn" || !bs[i-1].refused || state(bs[i-1].usage, "vm-p") != "poweredOn" {
			t.Fatalf("the beat taken after a refused one that carried vm-p poweredOn carries %q: %v", got, bs[i].usage.GetVmPowers())
		}

		// The registrar takes the beats but cannot weigh vm-p's power-off yet (a task held
		// it) for three beats: vm-p is reported on each, then no more until a full list.
		const retries = 3
		reg.mu.Lock()
		reg.refuse = nil
		answered := 0
		reg.retry = func(u *hostdv1.HostUsage) []string {
			if state(u, "vm-p") != "poweredOff" || answered == retries {
				return nil
			}
			answered++
			return []string{"vm-p"}
		}
		mark = len(reg.beats)
		reg.mu.Unlock()
		if _, err := h.PowerOff(ctx, &hostdv1.VmRef{VmId: "vm-p"}); err != nil {
			t.Fatal(err)
		}
		bs = waitBeats("beats past the retries", func(bs []beat) bool {
			first := slices.IndexFunc(bs[mark:], func(b beat) bool { return state(b.usage, "vm-p") == "poweredOff" })
			return first >= 0 && len(bs[mark:]) > first+retries+1
		})
		first = mark + slices.IndexFunc(bs[mark:], func(b beat) bool { return state(b.usage, "vm-p") == "poweredOff" })
		for k := first; k <= first+retries; k++ {
			if got := state(bs[k].usage, "vm-p"); got != "poweredOff" {
				t.Errorf("beat %d after %d of %d retries reports vm-p as %q, want poweredOff", k-first, min(k-first, retries), retries, got)
			}
		}
	})
}

// TestHeartbeatStream: the beats go over one Heartbeats stream, and a refused beat ends it
// (the next beat opens another); beats without power states go quiet once the stream's
// first answer said the registrar takes them, at most two in a row; a registrar that
// answers every beat gets no quiet one; a registrar that serves no stream gets every beat
// as a call of Heartbeat.
func TestHeartbeatStream(t *testing.T) {
	t.Parallel()
	hollow := backends[slices.IndexFunc(backends, func(b backend) bool { return b.name == "hollow" })]
	const f, q = false, true
	for _, tc := range []struct {
		name    string
		unary   bool
		loud    bool
		streams []int  // of the first seven beats; the third is refused
		quiet   []bool // of the same beats
	}{
		{"stream", false, false, []int{1, 1, 1, 2, 2, 2, 2}, []bool{f, q, q, f, q, q, f}},
		{"registrar that answers every beat", false, true, []int{1, 1, 1, 2, 2, 2, 2}, []bool{f, f, f, f, f, f, f}},
		{"registrar without the stream", true, false, []int{0, 0, 0, 0, 0, 0, 0}, []bool{f, f, f, f, f, f, f}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newRegistrar(0)
			reg.unary, reg.loud = tc.unary, tc.loud
			reg.refuse = func(*hostdv1.HostUsage) bool { return len(reg.beats) == 2 } // reg.mu held
			daemonOn(t, hollow.run(t), hostd.Options{ID: "h1", TLS: hostTLS(t, testCA(t), "h1"), Registrar: reg})
			bs := reg.waitBeats(t, fmt.Sprintf("%d beats", len(tc.streams)), func(bs []beat) bool { return len(bs) >= len(tc.streams) })
			var got []int
			var quiet []bool
			for i, b := range bs[:len(tc.streams)] {
				got, quiet = append(got, b.stream), append(quiet, b.quiet)
				if b.refused != (i == 2) {
					t.Fatalf("beat %d refused: %v", i, b.refused)
				}
			}
			if !slices.Equal(got, tc.streams) || !slices.Equal(quiet, tc.quiet) {
				t.Fatalf("the beats came over streams %v, quiet %v; want %v, %v", got, quiet, tc.streams, tc.quiet)
			}
		})
	}
}
