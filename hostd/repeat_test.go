package hostd_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/photon-cloud/photon/hostd"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/pki"
)

// withoutExisted is m without its "existed" field, which a repeat answers differently:
// the first call made the thing, the repeat found it.
func withoutExisted(m proto.Message) proto.Message {
	m = proto.Clone(m)
	if f := m.ProtoReflect().Descriptor().Fields().ByName("existed"); f != nil {
		m.ProtoReflect().Clear(f)
	}
	return m
}

func boolCount(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestRepeatedCalls calls every hostd operation twice, the second time through the same
// hostd or through one started afresh on the host (hostd restarted between the calls):
// the repeat must give the same answer, and the host, read beside hostd,
// must hold exactly what one call makes.
func TestRepeatedCalls(t *testing.T) {
	t.Parallel()
	forBackends(t, func(t *testing.T, b backend) {
		ca := testCA(t)
		v, first, reg := startDaemon(t, b, hostd.Options{ID: "h1", TLS: hostTLS(t, ca, "h1")})
		ctx := t.Context()
		ds := reg.host.Datastores[0].Name
		// h is the hostd the calls go to: the first one, or for a repeat after a restart one
		// started on the host after the first call.
		h := dial(t, first.Addr(), pki.ForHost(serviceTLS(t, ca), "h1"))
		restarted := func(t *testing.T) hostdv1.HostClient {
			d, _ := daemonOn(t, v, hostd.Options{ID: "h1", TLS: hostTLS(t, ca, "h1")})
			return dial(t, d.Addr(), pki.ForHost(serviceTLS(t, ca), "h1"))
		}
		must := func(_ proto.Message, err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		vmRef := func(vm string) *hostdv1.VmRef { return &hostdv1.VmRef{VmId: vm} }
		pdRef := func(vm string) *hostdv1.DiskRef { return &hostdv1.DiskRef{DiskId: vm + "-pd", Datastore: ds} }
		isoPath := func(vm string) string { return "isos/" + vm + ".iso" }
		newVM := func(vm string) { createVM(t, h, ds, vm) }
		on := func(vm string) { newVM(vm); must(h.PowerOn(ctx, vmRef(vm))) }
		withISO := func(vm string) {
			newVM(vm)
			must(upload(t, h, ds, isoPath(vm), []byte("iso"), 3))
		}
		state := func(want string) func(string) int {
			return func(vm string) int { return boolCount(string(v.powerState(vm)) == want) }
		}
		file := func(p func(string) string) func(string) int {
			return func(vm string) int { return boolCount(v.exists(ds, p(vm))) }
		}
		cases := []struct {
			name  string
			setup func(vm string)
			call  func(vm string) (proto.Message, error)
			count func(vm string) int // the objects of the call on the host
			want  int
		}{
			{"create VM", nil, func(vm string) (proto.Message, error) {
				return h.CreateVm(ctx, &hostdv1.CreateVmRequest{VmId: vm, Name: vm, CpuCount: 1, MemoryMb: 32, Datastore: ds, ImagePath: image})
			}, v.vmCount, 1},
			{"delete VM", newVM, func(vm string) (proto.Message, error) { return h.DeleteVm(ctx, vmRef(vm)) }, v.vmCount, 0},
			{"power on", newVM, func(vm string) (proto.Message, error) { return h.PowerOn(ctx, vmRef(vm)) }, state("poweredOn"), 1},
			{"power off", on, func(vm string) (proto.Message, error) { return h.PowerOff(ctx, vmRef(vm)) }, state("poweredOff"), 1},
			{"suspend", on, func(vm string) (proto.Message, error) { return h.Suspend(ctx, vmRef(vm)) }, state("suspended"), 1},
			{"reset", on, func(vm string) (proto.Message, error) { return h.Reset(ctx, vmRef(vm)) }, state("poweredOn"), 1},
			{"resize", newVM, func(vm string) (proto.Message, error) {
				return h.Reconfigure(ctx, &hostdv1.ReconfigureRequest{VmId: vm, CpuCount: 2})
			}, func(vm string) int { cpus, _ := v.hardware(vm); return boolCount(cpus == 2) }, 1},
			{"attach disk", newVM, func(vm string) (proto.Message, error) {
				return h.AttachDisk(ctx, &hostdv1.AttachDiskRequest{VmId: vm, DiskId: "d1", CapacityGb: 1})
			}, func(vm string) int { return v.diskCount(vm, "d1") }, 1},
			{"detach disk", func(vm string) {
				newVM(vm)
				must(h.AttachDisk(ctx, &hostdv1.AttachDiskRequest{VmId: vm, DiskId: "d1", CapacityGb: 1}))
			}, func(vm string) (proto.Message, error) {
				return h.DetachDisk(ctx, &hostdv1.DetachDiskRequest{VmId: vm, DiskId: "d1"})
			}, func(vm string) int { return v.diskCount(vm, "d1") }, 0},
			{"add NIC", newVM, func(vm string) (proto.Message, error) {
				return h.AddNic(ctx, &hostdv1.AddNicRequest{VmId: vm, NicId: "nic-0", Network: "VM Network"})
			}, v.nicCount, 1},
			{"remove NIC", func(vm string) {
				newVM(vm)
				must(h.AddNic(ctx, &hostdv1.AddNicRequest{VmId: vm, NicId: "nic-0", Network: "VM Network"}))
			}, func(vm string) (proto.Message, error) {
				return h.RemoveNic(ctx, &hostdv1.RemoveNicRequest{VmId: vm, NicId: "nic-0"})
			}, v.nicCount, 0},
			{"create persistent disk", nil, func(vm string) (proto.Message, error) {
				return h.CreateDisk(ctx, &hostdv1.CreateDiskRequest{DiskId: vm + "-pd", Datastore: ds, CapacityGb: 1})
			}, file(func(vm string) string { return "disks/" + vm + "-pd.vmdk" }), 1},
			{"delete persistent disk", func(vm string) {
				must(h.CreateDisk(ctx, &hostdv1.CreateDiskRequest{DiskId: vm + "-pd", Datastore: ds, CapacityGb: 1}))
			}, func(vm string) (proto.Message, error) { return h.DeleteDisk(ctx, pdRef(vm)) },
				file(func(vm string) string { return "disks/" + vm + "-pd.vmdk" }), 0},
			{"attach persistent disk", func(vm string) {
				newVM(vm)
				must(h.CreateDisk(ctx, &hostdv1.CreateDiskRequest{DiskId: vm + "-pd", Datastore: ds, CapacityGb: 1}))
			}, func(vm string) (proto.Message, error) {
				return h.AttachPersistentDisk(ctx, &hostdv1.AttachPersistentDiskRequest{VmId: vm, DiskId: vm + "-pd", Datastore: ds})
			}, func(vm string) int { return v.diskCount(vm, vm+"-pd") }, 1},
			{"attach ISO", withISO, func(vm string) (proto.Message, error) {
				return h.AttachIso(ctx, &hostdv1.AttachIsoRequest{VmId: vm, Datastore: ds, Path: isoPath(vm)})
			}, func(vm string) int { return boolCount(v.iso(vm) != "") }, 1},
			{"detach ISO", func(vm string) {
				withISO(vm)
				must(h.AttachIso(ctx, &hostdv1.AttachIsoRequest{VmId: vm, Datastore: ds, Path: isoPath(vm)}))
			}, func(vm string) (proto.Message, error) { return h.DetachIso(ctx, vmRef(vm)) },
				func(vm string) int { return boolCount(v.iso(vm) != "") }, 0},
			{"upload file", nil, func(vm string) (proto.Message, error) {
				return upload(t, h, ds, "files/"+vm+".txt", []byte("data"), 4)
			}, file(func(vm string) string { return "files/" + vm + ".txt" }), 1},
			{"copy image", nil, func(vm string) (proto.Message, error) {
				return h.CopyImage(ctx, &hostdv1.CopyImageRequest{SourceDatastore: ds, SourcePath: image,
					TargetDatastore: ds, TargetPath: "images/" + vm + ".vmdk"})
			}, file(func(vm string) string { return "images/" + vm + ".vmdk" }), 1},
			{"delete file", func(vm string) {
				must(upload(t, h, ds, "files/"+vm+".txt", []byte("data"), 4))
			}, func(vm string) (proto.Message, error) {
				return h.DeleteFile(ctx, &hostdv1.DeleteFileRequest{Datastore: ds, Path: "files/" + vm + ".txt"})
			}, file(func(vm string) string { return "files/" + vm + ".txt" }), 0},
			{"create image from VM", newVM, func(vm string) (proto.Message, error) {
				return h.CreateImageFromVm(ctx, &hostdv1.CreateImageFromVmRequest{VmId: vm, Datastore: ds, TargetPath: "images/" + vm + "-img.vmdk"})
			}, file(func(vm string) string { return "images/" + vm + "-img.vmdk" }), 1},
		}
		// The code of a repeat where hostd.v1 answers one that finds nothing to do with an
		// error: DetachIso's FailedPrecondition, which its callers take as done.
		repeatCode := map[string]codes.Code{"detach ISO": codes.FailedPrecondition}
		for i, tc := range cases {
			for _, restart := range []bool{false, true} {
				name := tc.name
				if restart {
					name += ", hostd restarted"
				}
				t.Run(name, func(t *testing.T) {
					vm := fmt.Sprint("rep-", i, "-", restart)
					if tc.setup != nil {
						tc.setup(vm)
					}
					answer, err := tc.call(vm)
					if err != nil {
						t.Fatalf("first call: %v", err)
					}
					if restart {
						defer func(before hostdv1.HostClient) { h = before }(h)
						h = restarted(t)
					}
					again, err := tc.call(vm)
					if want := repeatCode[tc.name]; status.Code(err) != want {
						t.Fatalf("repeat: %v, want %s", err, want)
					}
					if err == nil && !proto.Equal(withoutExisted(answer), withoutExisted(again)) {
						t.Errorf("repeat answered %v, the first call %v", again, answer)
					}
					if n := tc.count(vm); n != tc.want {
						t.Errorf("the host has %d, want %d", n, tc.want)
					}
				})
			}
		}
	})
}

// holdProxy stands between hostd and its simulated host. Armed with a vSphere method, it
// holds the next call of it until released, as a slow network or a busy host does, and
// then hands it on whether or not hostd still waits for the answer: the host got the call.
type holdProxy struct {
	srv   *httptest.Server
	u     *url.URL
	calls atomic.Int64 // calls handed on to the host
	mu    sync.Mutex
	h     *hold
}

// hold is one armed method: seen is closed when its call arrives, again when a second
// call of it arrives while the first is held.
type hold struct {
	method            string
	seen, again, free chan struct{}
	held, repeated    bool
	release           func()
	// lose makes the proxy answer the held call with an error once the host has run it,
	// as a connection that breaks before the answer comes back does.
	lose bool
}

func newHoldProxy(t testing.TB, target *url.URL) *holdProxy {
	t.Helper()
	p := &holdProxy{}
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.mu.Lock()
		var wait chan struct{}
		lose := false
		if h := p.h; h != nil && bytes.Contains(body, []byte("<"+h.method)) {
			switch {
			case !h.held:
				h.held, wait, lose = true, h.free, h.lose
				close(h.seen)
			case !h.repeated:
				h.repeated = true
				close(h.again)
			}
		}
		p.mu.Unlock()
		if wait != nil {
			<-wait
		}
		p.calls.Add(1)
		r = r.WithContext(context.WithoutCancel(r.Context()))
		if lose {
			rp.ServeHTTP(httptest.NewRecorder(), r)
			http.Error(w, "connection reset", http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	u := *target
	u.Host = p.srv.Listener.Addr().String()
	p.u = &u
	return p
}

// arm holds the next call of method, and loses its answer if lose; the hold is released at
// the latest when t ends.
func (p *holdProxy) arm(t testing.TB, method string, lose bool) *hold {
	h := &hold{method: method, lose: lose, seen: make(chan struct{}), again: make(chan struct{}), free: make(chan struct{})}
	h.release = sync.OnceFunc(func() { close(h.free) })
	t.Cleanup(h.release)
	p.mu.Lock()
	p.h = h
	p.mu.Unlock()
	return h
}

// proxied runs a simulated host and a hostd that reaches it through a holdProxy, beating
// every heartbeat (0: daemonOn's default), and returns the proxy, a client of the hostd,
// the host and its first datastore.
func proxied(t testing.TB, heartbeat time.Duration) (*holdProxy, hostdv1.HostClient, *vsphere, string) {
	t.Helper()
	v := newVsphere(t, startSim(t))
	p := newHoldProxy(t, v.url)
	behind := *v
	behind.url = p.u
	ca := testCA(t)
	d, reg := daemonOn(t, &behind, hostd.Options{ID: "h1", TLS: hostTLS(t, ca, "h1"), Heartbeat: heartbeat})
	return p, dial(t, d.Addr(), pki.ForHost(serviceTLS(t, ca), "h1")), v, reg.host.Datastores[0].Name
}

// TestInterruptedCalls: the host gets a call but hostd's caller never learns how it
// ended, and makes the call again, as a redelivered event does. hostd must neither run
// the call twice nor lose what the first one did: the host ends with exactly one VM, or
// disk, or none after a delete. The call is interrupted three ways:
//   - cancelled, repeated at once: the caller goes away (a function killed mid-call) while
//     the host has the call, and the repeat comes while the host still has it;
//   - cancelled, repeated after the host is done with the first call;
//   - answer lost: the host runs the call, and its answer never reaches hostd.
func TestInterruptedCalls(t *testing.T) {
	t.Parallel()
	p, h, v, ds := proxied(t, 0)
	newVM := func(vm string) { createVM(t, h, ds, vm) }
	cases := []struct {
		name, method string // the call and the vSphere method interrupted
		setup        func(vm string)
		call         func(ctx context.Context, vm string) error
		count        func(vm string) int
		want         int
	}{
		{"create VM", "CreateVM_Task", nil, func(ctx context.Context, vm string) error {
			_, err := h.CreateVm(ctx, &hostdv1.CreateVmRequest{VmId: vm, Name: vm, CpuCount: 1, MemoryMb: 32, Datastore: ds, ImagePath: image})
			return err
		}, v.vmCount, 1},
		{"delete VM", "Destroy_Task", newVM, func(ctx context.Context, vm string) error {
			_, err := h.DeleteVm(ctx, &hostdv1.VmRef{VmId: vm})
			return err
		}, v.vmCount, 0},
		{"attach disk", "ReconfigVM_Task", newVM, func(ctx context.Context, vm string) error {
			_, err := h.AttachDisk(ctx, &hostdv1.AttachDiskRequest{VmId: vm, DiskId: "d1", CapacityGb: 1})
			return err
		}, func(vm string) int { return v.diskCount(vm, "d1") }, 1},
		{"power on", "PowerOnVM_Task", newVM, func(ctx context.Context, vm string) error {
			_, err := h.PowerOn(ctx, &hostdv1.VmRef{VmId: vm})
			return err
		}, func(vm string) int { return boolCount(v.powerState(vm) == "poweredOn") }, 1},
	}
	const (
		atOnce = iota
		afterHost
		answerLost
	)
	modes := []string{atOnce: "cancelled, repeated at once", afterHost: "cancelled, repeated after the host is done",
		answerLost: "answer lost"}
	for i, tc := range cases {
		for mode, how := range modes {
			t.Run(tc.name+", "+how, func(t *testing.T) {
				vm := fmt.Sprint("int-", i, "-", mode)
				if tc.setup != nil {
					tc.setup(vm)
				}
				held := p.arm(t, tc.method, mode == answerLost)
				if mode == answerLost {
					held.release()
					if err := tc.call(t.Context(), vm); status.Code(err) != codes.Unavailable {
						t.Fatalf("call whose answer was lost: %v, want Unavailable", err)
					}
					v.settle()
				} else {
					ctx, cancel := context.WithCancel(t.Context())
					first := make(chan error, 1)
					go func() { first <- tc.call(ctx, vm) }()
					<-held.seen
					cancel()
					if err := <-first; status.Code(err) != codes.Canceled {
						t.Fatalf("cancelled call: %v", err)
					}
				}
				if mode == afterHost {
					held.release()
					v.settle()
				}
				repeat := make(chan error, 1)
				go func() { repeat <- tc.call(t.Context(), vm) }()
				if mode == atOnce {
					// A hostd that lets the repeat go ahead sends the call again at once;
					// one that makes it follow the first call's work sends nothing until
					// that ends. The timer only bounds the wait for a call that must not
					// come.
					select {
					case <-held.again:
					case err := <-repeat:
						repeat <- err
					case <-time.After(300 * time.Millisecond):
					}
					held.release()
				}
				if err := <-repeat; err != nil {
					t.Fatalf("repeat: %v", err)
				}
				v.settle()
				if n := tc.count(vm); n != tc.want {
					t.Errorf("the host has %d, want %d", n, tc.want)
				}
			})
		}
	}
}

// TestCreateAfterRestart: a hostd started while a previous one is still creating a VM
// lists the host's VMs without it; a create of that VM repeated through the new hostd must
// still end with one VM.
func TestCreateAfterRestart(t *testing.T) {
	t.Parallel()
	p, h1, v, ds := proxied(t, 0)
	req := &hostdv1.CreateVmRequest{VmId: "vm-late", Name: "vm-late", CpuCount: 1, MemoryMb: 32, Datastore: ds, ImagePath: image}
	held := p.arm(t, "CreateVM_Task", false)
	late := make(chan error, 1)
	go func() { _, err := h1.CreateVm(t.Context(), req); late <- err }()
	<-held.seen

	ca := testCA(t)
	after, _ := daemonOn(t, v, hostd.Options{ID: "h2", TLS: hostTLS(t, ca, "h2")})
	h2 := dial(t, after.Addr(), pki.ForHost(serviceTLS(t, ca), "h2"))
	held.release()
	if err := <-late; err != nil {
		t.Fatal(err)
	}
	if _, err := h2.CreateVm(t.Context(), req); err != nil {
		t.Fatalf("repeat create: %v", err)
	}
	v.settle()
	if n := v.vmCount("vm-late"); n != 1 {
		t.Errorf("the host has %d VMs vm-late, want 1", n)
	}
}
