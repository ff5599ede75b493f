package hostdsim

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func gzb64(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	if _, err := z.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// TestReadBoot: what the simulated guest reads from a VM's guestinfo, as cloud-init's
// VMware data source and phone_home module read it.
func TestReadBoot(t *testing.T) {
	t.Parallel()
	const cfg = "#cloud-config\nphone_home:\n  url: https://api.example/v1/nodes/$INSTANCE_ID/ready\n  post: [instance_id, hostname]\n  tries: 3\n"
	meta := `{"instance-id": "i-7", "local-hostname": "node-0"}`
	cases := []struct {
		name  string
		extra map[string]string
		ok    bool
		want  boot
	}{
		{"base64 with metadata", map[string]string{"photon.vmId": "vm-1", "guestinfo.userdata": b64(cfg), "guestinfo.userdata.encoding": "base64",
			"guestinfo.metadata": b64(meta), "guestinfo.metadata.encoding": "base64"}, true,
			boot{vmID: "vm-1", url: "https://api.example/v1/nodes/i-7/ready", instanceID: "i-7", hostname: "node-0",
				fields: []string{"instance_id", "hostname"}, tries: 3}},
		{"gzip+base64, no metadata", map[string]string{"photon.vmId": "vm-1", "guestinfo.userdata": gzb64(t, cfg),
			"guestinfo.userdata.encoding": "gzip+base64"}, true,
			boot{vmID: "vm-1", url: "https://api.example/v1/nodes/vm-1/ready", instanceID: "vm-1", hostname: "web",
				fields: []string{"instance_id", "hostname"}, tries: 3}},
		{"YAML metadata, post all, default tries, no photon.vmId", map[string]string{
			"guestinfo.userdata": "#cloud-config\nphone_home: {url: 'https://h/${INSTANCE_ID}', post: all}\n",
			"guestinfo.metadata": "instance-id: i-9\nhostname: n9\n"}, true,
			boot{vmID: "web", url: "https://h/i-9", instanceID: "i-9", hostname: "n9", fields: []string{"instance_id", "hostname"}, tries: 10}},
		{"quoted tries, one field", map[string]string{"guestinfo.userdata": "#cloud-config\nphone_home: {url: 'https://h/', post: [hostname, pub_key_rsa], tries: '2'}\n"}, true,
			boot{vmID: "web", url: "https://h/", instanceID: "web", hostname: "web", fields: []string{"hostname"}, tries: 2}},
		{"no phone_home", map[string]string{"guestinfo.userdata": "#cloud-config\npackages: [curl]\n"}, false, boot{}},
		{"a script", map[string]string{"guestinfo.userdata": "#!/bin/sh\necho hi\n"}, false, boot{}},
		{"unknown encoding", map[string]string{"guestinfo.userdata": cfg, "guestinfo.userdata.encoding": "rot13"}, false, boot{}},
		{"bad base64", map[string]string{"guestinfo.userdata": "#!", "guestinfo.userdata.encoding": "base64"}, false, boot{}},
		{"no user data", map[string]string{"photon.vmId": "vm-1"}, false, boot{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := readBoot("web", tc.extra)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%+v)", ok, tc.ok, got)
			}
			if ok && (got.vmID != tc.want.vmID || got.url != tc.want.url || got.instanceID != tc.want.instanceID ||
				got.hostname != tc.want.hostname || !slices.Equal(got.fields, tc.want.fields) || got.tries != tc.want.tries) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// report is one POST the phone-home endpoint served.
type report struct {
	path, contentType string
	form              url.Values
	accepted          bool
}

// endpoint is a phone-home endpoint over TLS that refuses its first refuse POSTs (503)
// and sends every POST it serves on posts.
type endpoint struct {
	*httptest.Server
	posts  chan report
	mu     sync.Mutex
	refuse int
}

func newEndpoint(t *testing.T, refuse int) *endpoint {
	t.Helper()
	e := &endpoint{posts: make(chan report, 1024), refuse: refuse}
	e.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		e.mu.Lock()
		accept := e.refuse == 0
		if !accept {
			e.refuse--
		}
		e.mu.Unlock()
		e.posts <- report{path: r.URL.Path, contentType: r.Header.Get("Content-Type"), form: r.PostForm, accepted: accept}
		if !accept {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(e.Certificate())
	return p
}

// next is the next POST, failing the test when none comes in time.
func (e *endpoint) next(t *testing.T) report {
	t.Helper()
	select {
	case r := <-e.posts:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no phone-home POST")
		return report{}
	}
}

// none fails the test when a POST comes within d.
func (e *endpoint) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case r := <-e.posts:
		t.Fatalf("a POST after the guest stopped: %+v", r)
	case <-time.After(d):
	}
}

// vsphere is a govmomi client of a simulator, for the tests to make and power VMs with.
type vsphere struct {
	c      *govmomi.Client
	finder *find.Finder
	folder *object.Folder
	pool   *object.ResourcePool
	ds     *object.Datastore
}

func newVsphere(t *testing.T, s *Sim) *vsphere {
	t.Helper()
	ctx := t.Context()
	c, err := govmomi.NewClient(ctx, s.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Logout(context.Background()) })
	f := find.NewFinder(c.Client, false)
	dc, err := f.DefaultDatacenter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := f.DefaultResourcePool(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := f.DefaultDatastore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &vsphere{c: c, finder: f, folder: folders.VmFolder, pool: pool, ds: ds}
}

// create makes a VM named name with extraConfig extra, powered off, as hostd makes one.
func (v *vsphere) create(name string, extra map[string]string) (*object.VirtualMachine, error) {
	spec := types.VirtualMachineConfigSpec{Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
		NumCPUs: 1, MemoryMB: 32, Files: &types.VirtualMachineFileInfo{VmPathName: "[" + v.ds.Name() + "]"}}
	for k, val := range extra {
		spec.ExtraConfig = append(spec.ExtraConfig, &types.OptionValue{Key: k, Value: val})
	}
	task, err := v.folder.CreateVM(context.Background(), spec, v.pool, nil)
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(context.Background())
	if err != nil {
		return nil, err
	}
	return object.NewVirtualMachine(v.c.Client, info.Result.(types.ManagedObjectReference)), nil
}

// mustCreate is create for a VM the test needs.
func (v *vsphere) mustCreate(t *testing.T, name string, extra map[string]string) *object.VirtualMachine {
	t.Helper()
	vm, err := v.create(name, extra)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return vm
}

func run(t *testing.T, what string, f func(context.Context) (*object.Task, error)) {
	t.Helper()
	task, err := f(t.Context())
	if err == nil {
		err = task.Wait(t.Context())
	}
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitStopped waits until the guest of VM vmID runs no more.
func waitStopped(t *testing.T, s *Sim, vmID string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.guest.active(vmID) {
		if time.Now().After(deadline) {
			t.Fatalf("the guest of %s still runs", vmID)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestGuest: a VM powered on with a phone_home in its guestinfo posts its instance id and
// host name to the URL (after the delay, retrying a refused POST), then re-reports while
// it runs; powering it off or suspending it stops the reports, and so does BreakGuest, also
// before the first. A VM without user data reports nothing.
func TestGuest(t *testing.T) {
	t.Parallel()
	const every = 20 * time.Millisecond
	cases := []struct {
		name        string
		delay       time.Duration
		refuse      int  // the endpoint refuses the first POSTs
		breakEarly  bool // BreakGuest before the first phone home
		stop        string
		wantRefused int
	}{
		{name: "powered off", stop: "off"},
		{name: "suspended", stop: "suspend"},
		{name: "broken", stop: "break"},
		{name: "broken, then powered off and on", stop: "break-reboot"},
		{name: "refused, retried", refuse: 2, stop: "break", wantRefused: 2},
		{name: "after a delay", delay: 200 * time.Millisecond, stop: "off"},
		{name: "broken before it phones home", delay: time.Hour, breakEarly: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep := newEndpoint(t, tc.refuse)
			s, err := StartWith(t.Context(), Options{Guest: GuestOptions{Delay: tc.delay, ReportEvery: every, RootCAs: ep.roots()}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			s.guest.mu.Lock()
			s.guest.retryGap = 10 * time.Millisecond
			s.guest.mu.Unlock()
			v := newVsphere(t, s)
			cfg := "#cloud-config\nhostname: node-0\nphone_home:\n  url: " + ep.URL + "/v1/nodes/$INSTANCE_ID/ready\n  post: [instance_id, hostname]\n  tries: 5\n"
			vm := v.mustCreate(t, "vm-1", map[string]string{"photon.vmId": "vm-1",
				"guestinfo.userdata": b64(cfg), "guestinfo.userdata.encoding": "base64",
				"guestinfo.metadata": b64(`{"instance-id": "i-1", "local-hostname": "node-0"}`), "guestinfo.metadata.encoding": "base64"})
			plain := v.mustCreate(t, "vm-2", map[string]string{"photon.vmId": "vm-2"})
			run(t, "power on the VM without user data", plain.PowerOn)
			if tc.breakEarly {
				run(t, "power on", vm.PowerOn)
				s.BreakGuest("vm-1")
				waitStopped(t, s, "vm-1")
				ep.none(t, 10*every)
				return
			}
			on := time.Now()
			run(t, "power on", vm.PowerOn)
			for i := range tc.wantRefused {
				if r := ep.next(t); r.accepted {
					t.Fatalf("POST %d accepted, want refused", i)
				}
			}
			first := ep.next(t)
			if waited := time.Since(on); waited < tc.delay {
				t.Fatalf("phoned home %s after the power-on, before the delay %s", waited, tc.delay)
			}
			want := url.Values{"instance_id": {"i-1"}, "hostname": {"node-0"}}
			if !first.accepted || first.path != "/v1/nodes/i-1/ready" || first.contentType != "application/x-www-form-urlencoded" ||
				first.form.Encode() != want.Encode() {
				t.Fatalf("phone home %+v, want the form %v at /v1/nodes/i-1/ready", first, want)
			}
			for range 2 { // it re-reports
				if r := ep.next(t); r.form.Encode() != want.Encode() || r.path != first.path {
					t.Fatalf("report %+v", r)
				}
			}
			switch tc.stop {
			case "off":
				run(t, "power off", vm.PowerOff)
				waitStopped(t, s, "vm-1")
			case "suspend":
				run(t, "suspend", vm.Suspend)
				waitStopped(t, s, "vm-1")
			case "break", "break-reboot":
				s.BreakGuest("vm-1")
				if s.guest.active("vm-1") {
					t.Fatal("the guest runs on after BreakGuest returned")
				}
				if tc.stop == "break-reboot" { // the guest stays broken
					run(t, "power off", vm.PowerOff)
					run(t, "power on again", vm.PowerOn)
				}
			}
			for len(ep.posts) > 0 { // reports sent before the guest stopped
				<-ep.posts
			}
			ep.none(t, 10*every)
		})
	}
}

// TestGuestClose: the delay set later is the one a VM powered on then waits; closing the
// simulator stops its guests, reporting every millisecond, before it returns.
func TestGuestClose(t *testing.T) {
	t.Parallel()
	ep := newEndpoint(t, 0)
	s, err := StartWith(t.Context(), Options{Guest: GuestOptions{Delay: time.Hour, ReportEvery: time.Millisecond, RootCAs: ep.roots()}})
	if err != nil {
		t.Fatal(err)
	}
	v := newVsphere(t, s)
	cfg := "#cloud-config\nphone_home: {url: '" + ep.URL + "/ready', post: all}\n"
	vm := v.mustCreate(t, "vm-1", map[string]string{"guestinfo.userdata": cfg})
	s.SetGuestDelay(0)
	run(t, "power on", vm.PowerOn)
	if r := ep.next(t); r.form.Get("instance_id") != "vm-1" || r.form.Get("hostname") != "vm-1" {
		t.Fatalf("phone home %+v: want the VM's name for both", r)
	}
	s.Close()
	if s.guest.active("vm-1") {
		t.Fatal("a guest runs on after Close")
	}
}

// TestCloseAtOnce: a simulator closes in time whether its guests' watch is still
// starting or polling while the host changes (the race detector checks that the watch's
// filter is not destroyed under a poll vcsim is still serving).
func TestCloseAtOnce(t *testing.T) {
	t.Parallel()
	for i := range 10 {
		s, err := StartWith(t.Context(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		busy := make(chan struct{})
		if i%2 == 1 { // let the watch reach its poll, and give it updates to serve
			deadline := time.Now().Add(10 * time.Second)
			for {
				s.guest.mu.Lock()
				polling := s.guest.poll != nil
				s.guest.mu.Unlock()
				if polling {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the watch never polls")
				}
				time.Sleep(time.Millisecond)
			}
			v := newVsphere(t, s)
			go func() {
				defer close(busy)
				for j := 0; ; j++ {
					vm, err := v.create(fmt.Sprint("vm-", j), nil)
					if err != nil {
						return // the simulator has closed
					}
					if task, err := vm.PowerOn(context.Background()); err != nil || task.Wait(context.Background()) != nil {
						return
					}
				}
			}()
		} else {
			close(busy)
		}
		closed := make(chan struct{})
		go func() {
			s.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatalf("close %d hangs", i)
		}
		<-busy
	}
}
