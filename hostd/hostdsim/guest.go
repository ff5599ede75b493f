package hostdsim

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/event"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
	"gopkg.in/yaml.v3"
)

// GuestOptions say how the simulated guests of a host's VMs behave. vcsim runs no guest
// OS, so the simulated host plays the part of cloud-init in each VM it powers on: a VM
// whose guestinfo holds a #cloud-config user data with phone_home posts to its URL once
// booted, and then re-reports while it runs, as a Photon node's timer does.
type GuestOptions struct {
	Delay       time.Duration  // from power-on to the first phone_home (0: at once)
	ReportEvery time.Duration  // re-report period while powered on (0: never re-report)
	RootCAs     *x509.CertPool // trusted for https phone-home URLs (nil: system roots)
}

const (
	// postTimeout bounds one phone-home POST.
	postTimeout = 10 * time.Second
	// defaultTries is cloud-init's phone_home tries when the cloud-config gives none.
	defaultTries = 10
	// defaultRetryGap is the pause between two tries of a failed phone_home. cloud-init
	// waits 3s; the simulation is quicker so that tests and the dev cloud do not wait.
	defaultRetryGap = 500 * time.Millisecond
	// rewatchGap is the pause before the watch of the simulator's VMs starts again after
	// it failed.
	rewatchGap = 200 * time.Millisecond
)

// guest runs the simulated guests of one simulator's VMs. It follows the VMs' power
// through govmomi as any vSphere client would (watchOnce). Each VM powered on with a
// phone_home in its user data gets a goroutine (a node) that reports until the VM is
// powered off, suspended or destroyed, or its guest is broken.
type guest struct {
	root   context.Context // cancelled by close: ends the watch, every node and every POST
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	delay    time.Duration
	every    time.Duration
	retryGap time.Duration
	client   *http.Client
	poll     *property.Collector                    // the watch's, while it may wait for updates
	nodes    map[types.ManagedObjectReference]*node // the node of each VM powered on
	alive    map[*node]bool                         // nodes whose goroutine has not ended
	broken   map[string]bool                        // Photon VM ids whose guest never reports
}

// node is the guest of one VM in one power-on.
type node struct {
	vmID   string
	cancel context.CancelFunc // stops it; a POST under way still ends (see post)
	done   chan struct{}
}

// boot is what a guest reads from its VM's extraConfig at power-on.
type boot struct {
	vmID       string // photon.vmId, else the VM's name
	url        string // the phone_home URL, $INSTANCE_ID substituted
	instanceID string
	hostname   string
	fields     []string // the phone_home post fields: instance_id, hostname
	tries      int
}

func startGuest(u *url.URL, o GuestOptions) *guest {
	root, cancel := context.WithCancel(context.Background())
	g := &guest{root: root, cancel: cancel, retryGap: defaultRetryGap, delay: o.Delay, every: o.ReportEvery,
		client: phoneHomeClient(o.RootCAs), nodes: map[types.ManagedObjectReference]*node{}, alive: map[*node]bool{},
		broken: map[string]bool{}}
	g.wg.Add(1)
	go g.watch(u)
	return g
}

// phoneHomeClient is the HTTP client of the guests' POSTs. It keeps no idle connection,
// so nothing of it outlives the simulator.
func phoneHomeClient(roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	t.DisableKeepAlives = true
	return &http.Client{Transport: t, Timeout: postTimeout}
}

// close stops the watch and every node, and waits for them.
//
// The watch's long poll is not cut off from the client's side: vcsim would go on serving
// it while the watch destroys its filter, and both touch the same collector unlocked.
// It is cancelled on the host (CancelWaitForUpdates), again until the watch has ended,
// since a cancel that comes between two polls is lost.
func (g *guest) close() {
	g.cancel()
	done := make(chan struct{})
	go func() {
		g.wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		g.mu.Lock()
		poll := g.poll
		g.mu.Unlock()
		if poll != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			poll.CancelWaitForUpdates(ctx)
			cancel()
		}
		select {
		case <-done:
			return
		case <-tick.C:
		}
	}
}

// watch follows the simulator's VMs until close, starting again when a watch fails.
func (g *guest) watch(u *url.URL) {
	defer g.wg.Done()
	for {
		_ = g.watchOnce(u) // a failed watch starts again; the nodes it started run on
		select {
		case <-g.root.Done():
			return
		case <-time.After(rewatchGap):
		}
	}
}

// powerEvents are the events that start or stop a guest.
var powerEvents = []string{"VmPoweredOnEvent", "VmPoweredOffEvent", "VmSuspendedEvent", "VmRemovedEvent"}

// watchOnce logs in to the simulator and follows its VMs' power-ons and -offs until the
// watch fails or the simulator closes.
//
// It reads the power state of every VM once, through a container view, and then follows
// the power events the host posts, through a property collector on an event history
// collector's latest page. A property collector watching the VMs' runtime.powerState
// through the container view would do, but vcsim answers every change of any of its
// objects by copying every VM in the view again, which tripled the simulator's CPU in a
// burst of creates; an event collector costs it one small object per change. And a guest
// reads its guestinfo once, at boot, so nothing but the power matters to it.
//
// When the simulator closes, the watch leaves what it made on the host (its session, event
// collector and filter) to go with the simulator, which would otherwise serve the
// teardown against its own work unlocked: vcsim destroys an event collector while it may
// be posting an event to it, and a filter while it may be serving a poll of it. A watch
// that fails logs out, which ends its collectors' part in the host's changes.
func (g *guest) watchOnce(u *url.URL) error {
	// No call to vcsim is cut off when the simulator closes (see close): each is short
	// but the long poll, which close cancels on the host.
	ctx := context.WithoutCancel(g.root)
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return err
	}
	defer func() {
		if g.root.Err() == nil {
			c.Logout(ctx)
		}
	}()
	events, err := event.NewManager(c.Client).CreateCollectorForEvents(ctx, types.EventFilterSpec{EventTypeId: powerEvents})
	if err != nil {
		return err
	}
	// What the page holds now is older than the power states read next.
	page, err := events.LatestPage(ctx)
	if err != nil {
		return err
	}
	var seen int32
	for _, e := range page {
		seen = max(seen, e.GetEvent().Key)
	}
	reader := property.DefaultCollector(c.Client)
	if err := g.seed(ctx, c, reader); err != nil {
		return err
	}
	pc, err := reader.Create(ctx)
	if err != nil {
		return err
	}
	filter := new(property.WaitFilter).Add(events.Reference(), events.Reference().Type, []string{"latestPage"})
	if _, err := pc.CreateFilter(ctx, filter.CreateFilter); err != nil {
		return err
	}
	g.mu.Lock()
	g.poll = pc
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.poll = nil
		g.mu.Unlock()
	}()
	if g.root.Err() != nil {
		return g.root.Err() // closed before the poll could be cancelled
	}
	return pc.WaitForUpdatesEx(ctx, &filter.WaitOptions, func(updates []types.ObjectUpdate) bool {
		// Each change of the page is the page after one event: the new events of all
		// of them, in order, are what happened since the last call.
		var news []types.BaseEvent
		for _, up := range updates {
			for _, ch := range up.ChangeSet {
				if page, ok := ch.Val.(types.ArrayOfEvent); ok && ch.Name == "latestPage" {
					for _, e := range page.Event {
						if e.GetEvent().Key > seen {
							news = append(news, e)
						}
					}
				}
			}
		}
		slices.SortFunc(news, func(a, b types.BaseEvent) int { return cmp.Compare(a.GetEvent().Key, b.GetEvent().Key) })
		news = slices.CompactFunc(news, func(a, b types.BaseEvent) bool { return a.GetEvent().Key == b.GetEvent().Key })
		if len(news) > 0 {
			seen = news[len(news)-1].GetEvent().Key
		}
		g.apply(ctx, reader, news)
		return g.root.Err() != nil
	})
}

// seed brings the guests in line with the VMs' power states as the host has them: a
// powered-on VM's guest runs, any other's does not.
func (g *guest) seed(ctx context.Context, c *govmomi.Client, reader *property.Collector) error {
	cv, err := view.NewManager(c.Client).CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return err
	}
	defer cv.Destroy(context.WithoutCancel(ctx))
	var vms []mo.VirtualMachine
	if err := cv.Retrieve(ctx, []string{"VirtualMachine"}, []string{"runtime.powerState"}, &vms); err != nil {
		return err
	}
	on := map[types.ManagedObjectReference]bool{}
	for _, vm := range vms {
		if vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
			on[vm.Self] = true
		}
	}
	g.mu.Lock()
	for ref := range g.nodes {
		if !on[ref] {
			g.stopLocked(ref)
		}
	}
	g.mu.Unlock()
	for ref := range on {
		g.start(ctx, reader, ref)
	}
	return nil
}

// apply starts and stops guests as the power events say, in order. A VM powered off and
// on again among them (a reset) boots anew; one powered on and off again does not boot.
func (g *guest) apply(ctx context.Context, reader *property.Collector, events []types.BaseEvent) {
	type change struct{ stopped, on bool }
	changes := map[types.ManagedObjectReference]*change{}
	var order []types.ManagedObjectReference
	for _, e := range events {
		vm := e.GetEvent().Vm
		if vm == nil {
			continue
		}
		ch := changes[vm.Vm]
		if ch == nil {
			ch = &change{}
			changes[vm.Vm] = ch
			order = append(order, vm.Vm)
		}
		switch e.(type) {
		case *types.VmPoweredOnEvent:
			ch.on = true
		default:
			ch.stopped, ch.on = true, false
		}
	}
	for _, ref := range order {
		if ch := changes[ref]; ch.stopped {
			g.stop(ref)
		}
		if changes[ref].on {
			g.start(ctx, reader, ref)
		}
	}
}

// start boots the guest of VM ref, powered on, unless it runs already: it reads the
// VM's guestinfo, and when the user data has a phone_home, a node reports.
func (g *guest) start(ctx context.Context, pc *property.Collector, ref types.ManagedObjectReference) {
	g.mu.Lock()
	_, running := g.nodes[ref]
	g.mu.Unlock()
	if running {
		return // a watch started again sees the VMs powered on anew
	}
	var vm mo.VirtualMachine
	if err := pc.RetrieveOne(ctx, ref, []string{"name", "config.extraConfig"}, &vm); err != nil {
		return // destroyed meanwhile, or the simulator is closing
	}
	extra := map[string]string{}
	if vm.Config != nil {
		for _, o := range vm.Config.ExtraConfig {
			if ov := o.GetOptionValue(); ov != nil {
				if s, ok := ov.Value.(string); ok {
					extra[ov.Key] = s
				}
			}
		}
	}
	b, ok := readBoot(vm.Name, extra)
	if !ok {
		return // no cloud-config with a phone_home: a guest that reports nothing
	}
	nctx, cancel := context.WithCancel(g.root)
	n := &node{vmID: b.vmID, cancel: cancel, done: make(chan struct{})}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.root.Err() != nil || g.broken[b.vmID] {
		cancel()
		return
	}
	g.nodes[ref], g.alive[n] = n, true
	g.wg.Add(1)
	go g.run(nctx, ref, n, b, g.delay, g.every, g.retryGap)
}

// stop stops the guest of VM ref, powered off, suspended or destroyed. A POST under way
// ends on its own.
func (g *guest) stop(ref types.ManagedObjectReference) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopLocked(ref)
}

func (g *guest) stopLocked(ref types.ManagedObjectReference) {
	if n := g.nodes[ref]; n != nil {
		n.cancel()
		delete(g.nodes, ref)
	}
}

// run is a node: after delay it phones home (with the cloud-config's tries, retryGap
// apart), then re-reports every period while ctx lasts.
func (g *guest) run(ctx context.Context, ref types.ManagedObjectReference, n *node, b boot, delay, every, retryGap time.Duration) {
	defer g.wg.Done()
	defer func() {
		g.mu.Lock()
		delete(g.alive, n)
		if g.nodes[ref] == n {
			delete(g.nodes, ref)
		}
		g.mu.Unlock()
		close(n.done)
	}()
	if !sleep(ctx, delay) {
		return
	}
	for try := range b.tries {
		if try > 0 && !sleep(ctx, retryGap) {
			return
		}
		ok, stopped := g.post(ctx, n, b)
		if stopped {
			return
		}
		if ok {
			break
		}
	}
	if every <= 0 {
		return
	}
	for sleep(ctx, every) {
		if _, stopped := g.post(ctx, n, b); stopped {
			return
		}
	}
}

// post sends one phone-home POST and reports whether the endpoint took it; stopped is
// true when the node was stopped or broken before it began. The POST runs under the
// simulator's context rather than the node's, so that once BreakGuest has waited for a
// node, every POST the node sent has been answered.
func (g *guest) post(ctx context.Context, n *node, b boot) (ok, stopped bool) {
	g.mu.Lock()
	client := g.client
	stopped = ctx.Err() != nil || g.broken[n.vmID]
	g.mu.Unlock()
	if stopped {
		return false, true
	}
	form := url.Values{}
	for _, f := range b.fields {
		switch f {
		case "instance_id":
			form.Set(f, b.instanceID)
		case "hostname":
			form.Set(f, b.hostname)
		}
	}
	req, err := http.NewRequestWithContext(g.root, http.MethodPost, b.url, strings.NewReader(form.Encode()))
	if err != nil {
		return false, false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := client.Do(req)
	if err != nil {
		return false, false
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	res.Body.Close()
	return res.StatusCode >= 200 && res.StatusCode < 300, false
}

// breakGuest makes VM vmID's guest report no more, and waits for a node of it that is
// reporting to end.
func (g *guest) breakGuest(vmID string) {
	g.mu.Lock()
	g.broken[vmID] = true
	var stopping []*node
	for n := range g.alive {
		if n.vmID == vmID {
			n.cancel()
			stopping = append(stopping, n)
		}
	}
	g.mu.Unlock()
	for _, n := range stopping {
		<-n.done
	}
}

func (g *guest) setDelay(d time.Duration) {
	g.mu.Lock()
	g.delay = d
	g.mu.Unlock()
}

func (g *guest) setRootCAs(roots *x509.CertPool) {
	g.mu.Lock()
	g.client = phoneHomeClient(roots)
	g.mu.Unlock()
}

// active reports whether a node of VM vmID is running.
func (g *guest) active(vmID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for n := range g.alive {
		if n.vmID == vmID {
			return true
		}
	}
	return false
}

// sleep waits d, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// readBoot reads what cloud-init would from a VM's extraConfig: the user data and
// metadata of VMware's guestinfo. ok is false unless the user data is a #cloud-config
// with a phone_home URL.
func readBoot(name string, extra map[string]string) (boot, bool) {
	userdata, err := guestinfo(extra, "guestinfo.userdata")
	if err != nil || userdata == nil {
		return boot{}, false
	}
	ph, err := phoneHome(userdata)
	if err != nil || ph == nil || ph.URL == "" {
		return boot{}, false
	}
	b := boot{vmID: extra["photon.vmId"], hostname: name, tries: defaultTries}
	if b.vmID == "" {
		b.vmID = name // hostd's identity of a VM without the key
	}
	b.instanceID = b.vmID
	if meta, err := guestinfo(extra, "guestinfo.metadata"); err == nil && meta != nil {
		var md map[string]any
		if yaml.Unmarshal(meta, &md) == nil { // JSON is YAML too
			if s := str(md["instance-id"]); s != "" {
				b.instanceID = s
			}
			if s := str(md["local-hostname"]); s != "" {
				b.hostname = s
			} else if s := str(md["hostname"]); s != "" {
				b.hostname = s
			}
		}
	}
	if n, err := strconv.Atoi(str(ph.Tries)); err == nil && n > 0 {
		b.tries = n
	}
	b.fields = postFields(ph.Post)
	b.url = strings.NewReplacer("${INSTANCE_ID}", b.instanceID, "$INSTANCE_ID", b.instanceID).Replace(ph.URL)
	return b, true
}

// phoneHomeConfig is cloud-init's phone_home module config.
type phoneHomeConfig struct {
	URL   string `yaml:"url"`
	Post  any    `yaml:"post"`  // "all" or a list of fields
	Tries any    `yaml:"tries"` // a number, which YAML may quote
}

// phoneHome is the phone_home of a #cloud-config user data, if any.
func phoneHome(userdata []byte) (*phoneHomeConfig, error) {
	text := bytes.TrimLeft(userdata, "\ufeff \t\r\n")
	if !bytes.HasPrefix(text, []byte("#cloud-config")) {
		return nil, nil // a script or a MIME multipart: nothing the simulation reads
	}
	var cc struct {
		PhoneHome *phoneHomeConfig `yaml:"phone_home"`
	}
	if err := yaml.Unmarshal(text, &cc); err != nil {
		return nil, err
	}
	return cc.PhoneHome, nil
}

// postFields are the fields a phone_home posts that the simulated guest has: "all" (the
// default) is both of them.
func postFields(post any) []string {
	var names []string
	switch p := post.(type) {
	case nil:
		names = []string{"all"}
	case string:
		names = []string{p}
	case []any:
		for _, v := range p {
			names = append(names, str(v))
		}
	}
	var out []string
	for _, n := range names {
		switch n {
		case "all":
			return []string{"instance_id", "hostname"}
		case "instance_id", "hostname":
			out = append(out, n)
		}
	}
	return out
}

// guestinfo is the value of guestinfo key decoded as key+".encoding" says (none, base64
// or gzip+base64, by cloud-init's names); nil when the VM has no such key.
func guestinfo(extra map[string]string, key string) ([]byte, error) {
	v, ok := extra[key]
	if !ok || v == "" {
		return nil, nil
	}
	switch enc := strings.ToLower(extra[key+".encoding"]); enc {
	case "":
		return []byte(v), nil
	case "base64", "b64":
		return base64.StdEncoding.DecodeString(v)
	case "gzip+base64", "gz+b64":
		z, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, err
		}
		r, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(io.LimitReader(r, 16<<20))
	default:
		return nil, fmt.Errorf("%s: unknown encoding %q", key, enc)
	}
}

// str is a scalar YAML value as text.
func str(v any) string {
	switch s := v.(type) {
	case nil:
		return ""
	case string:
		return s
	default:
		return fmt.Sprint(s)
	}
}
