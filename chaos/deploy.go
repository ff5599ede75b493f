package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/nsxsim"
)

// readyTimeout bounds a part's start; a redis-server loading a large AOF takes longest.
const readyTimeout = 60 * time.Second

// deployment is Photon run as separate processes, as the README's "The parts,
// separately" shows.
type deployment struct {
	dir      string
	photon   string
	redisURL string
	apiURL   string
	joinURL  string
	nsxURL   string
	password string

	redis    *proc
	gateway  *proc
	nsx      *proc
	hostds   []*proc
	hostIDs  []string   // hostIDs[i] is the Photon id of hostds[i]'s host
	simURLs  []*url.URL // simURLs[i] is the SDK of hostds[i]'s simulated host
	funcs    []*proc
	notifier *proc
}

// layout is where the parts listen and keep their data; its methods are each part's
// command line, which the README's "The parts, separately" shows (TestREADMEParts).
type layout struct {
	redisPort                   int
	redisDir                    string
	http, grpc, https, join     string // host:port
	nsx                         string
	hostListen, simListen, cert []string
	password                    string
}

func (l layout) redisURL() string { return "redis://127.0.0.1:" + strconv.Itoa(l.redisPort) }
func (l layout) joinURL() string  { return "https://" + l.join }

func (l layout) redisArgs() []string {
	return []string{"--port", strconv.Itoa(l.redisPort), "--bind", "127.0.0.1", "--dir", l.redisDir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", ""}
}

func (l layout) gatewayArgs() []string {
	return []string{"gateway", "--redis", l.redisURL(), "--admin-password", l.password,
		"--http", l.http, "--grpc", l.grpc, "--https", l.https, "--join-listen", l.join}
}

func (l layout) nsxArgs() []string { return []string{"nsxsim", "--listen", l.nsx} }

func (l layout) joinTokenArgs() []string {
	return []string{"hostd", "join-token", "--redis", l.redisURL(), "--join-url", l.joinURL()}
}

func (l layout) hostdArgs(i int, pin, token string) []string {
	return []string{"hostd", "--sim", "--sim-listen", l.simListen[i], "--listen", l.hostListen[i],
		"--join-url", l.joinURL(), "--ca-pin", pin, "--join-token", token, "--cert-dir", l.cert[i], "--heartbeat", "2s"}
}

// reconcileEvery is the reconciler's timer in the harness: a VM a lost host no longer
// has is in ERROR two passes after the host came back, well within the settle time.
const reconcileEvery = "5s"

func (l layout) functionArgs(fn string) []string {
	args := []string{"function", fn, "--redis", l.redisURL(), "--nsx-manager", "http://" + l.nsx,
		"--nsx-user", nsxsim.DefaultUser, "--nsx-password", nsxsim.DefaultPassword}
	if fn == "reconcile" {
		args = append(args, "--reconcile-every", reconcileEvery)
	}
	return args
}

func (l layout) notifierArgs() []string { return []string{"notifier", "--redis", l.redisURL()} }

// deploy starts redis-server, the gateway, the NSX simulator, hosts hostds, every
// function and the notifier from the photon binary, under dir.
func deploy(ctx context.Context, photon, dir string, hosts int) (d *deployment, err error) {
	redisServer, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is needed (make deps): %w", err)
	}
	ports, err := freePorts(6 + 2*hosts)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	l := layout{redisPort: ports[0], redisDir: filepath.Join(dir, "redis"), http: addr(1), grpc: addr(2), join: addr(3),
		nsx: addr(4), https: addr(5), password: "chaos-admin"}
	for i := range hosts {
		l.hostListen = append(l.hostListen, addr(6+2*i))
		l.simListen = append(l.simListen, addr(7+2*i))
		l.cert = append(l.cert, filepath.Join(dir, fmt.Sprintf("hostd-%d", i)))
	}
	d = &deployment{dir: dir, photon: photon, password: l.password, redisURL: l.redisURL(), apiURL: "http://" + l.http,
		joinURL: l.joinURL(), nsxURL: "http://" + l.nsx}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if err := os.MkdirAll(l.redisDir, 0o755); err != nil {
		return nil, err
	}
	d.redis = d.part("redis-server", "redis-server", "Ready to accept connections", redisServer, l.redisArgs()...)
	if err := d.redis.start(ctx, readyTimeout); err != nil {
		return nil, err
	}
	d.gateway = d.part("gateway", "gateway", "gateway: join endpoint on", photon, l.gatewayArgs()...)
	d.nsx = d.part("nsxsim", "nsxsim", "NSX-T Manager API on", photon, l.nsxArgs()...)
	if err := startAll(ctx, d.gateway, d.nsx); err != nil {
		return nil, err
	}
	for i := range hosts {
		if err := d.startHost(ctx, l, i); err != nil {
			return nil, err
		}
	}
	for _, fn := range events.Functions() {
		d.funcs = append(d.funcs, d.part("function "+fn, "function "+fn, "function "+fn+" consuming", photon, l.functionArgs(fn)...))
	}
	d.notifier = d.part("notifier", "notifier", "notifier: delivering", photon, l.notifierArgs()...)
	if err := startAll(ctx, append(d.funcs, d.notifier)...); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *deployment) part(name, kind, ready, path string, args ...string) *proc {
	return &proc{name: name, kind: kind, ready: ready, path: path, args: args, log: logPath(d.dir, name)}
}

// startHost makes host i's join token and starts its hostd, which joins with it and
// keeps its certificate in a directory of its own, so that a restart needs no token.
func (d *deployment) startHost(ctx context.Context, l layout, i int) error {
	out, err := exec.CommandContext(ctx, d.photon, l.joinTokenArgs()...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("join token for host %d: %w: %s", i, err, out)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.Contains(k, " ") {
			fields[k], _, _ = strings.Cut(strings.TrimSpace(v), " ")
		}
	}
	if fields["host"] == "" || fields["token"] == "" || fields["ca-pin"] == "" {
		return fmt.Errorf("join token for host %d: unexpected output %q", i, out)
	}
	h := d.part(fmt.Sprintf("hostd %d", i), "hostd", "serving on", d.photon, l.hostdArgs(i, fields["ca-pin"], fields["token"])...)
	if err := h.start(ctx, readyTimeout); err != nil {
		return err
	}
	d.hostds = append(d.hostds, h)
	d.hostIDs = append(d.hostIDs, fields["host"])
	d.simURLs = append(d.simURLs, &url.URL{Scheme: "http", Host: l.simListen[i], Path: "/sdk", User: simulator.DefaultLogin})
	return nil
}

// startAll starts ps at once and waits until every one is ready.
func startAll(ctx context.Context, ps ...*proc) error {
	errsOut := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errsOut[i] = p.start(ctx, readyTimeout)
		}()
	}
	wg.Wait()
	return errors.Join(errsOut...)
}

// procs are every part, in the order they stop: the users of Redis before it.
func (d *deployment) procs() []*proc {
	var out []*proc
	out = append(out, d.notifier)
	out = append(out, d.funcs...)
	out = append(out, d.gateway)
	out = append(out, d.hostds...)
	out = append(out, d.nsx, d.redis)
	var live []*proc
	for _, p := range out {
		if p != nil {
			live = append(live, p)
		}
	}
	return live
}

// close stops every part.
func (d *deployment) close() {
	for _, p := range d.procs() {
		p.stop(10 * time.Second)
	}
}
