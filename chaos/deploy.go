package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/vmware/govmomi/simulator"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/infra"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/nsxsim"
	"github.com/photon-cloud/photon/shared/store"
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

	// redis is redis-server, or on a Redis Cluster the primary of the store's slot (the
	// one the schedule kills), which stays down at least redisDown so that its replica
	// takes over.
	redis      *proc
	redisNodes []*proc // a cluster's nodes, redis among them
	redisDown  time.Duration
	gateways   []*proc
	haproxy    *proc // in front of the gateways when there are several
	nsx        *proc
	hostds     []*proc
	hostIDs    []string   // hostIDs[i] is the Photon id of hostds[i]'s host
	simURLs    []*url.URL // simURLs[i] is the SDK of hostds[i]'s simulated host
	funcs      []*proc
	notifier   *proc
}

// layout is where the parts listen and keep their data; its methods are each part's
// command line, which the README's "The parts, separately" shows (TestREADMEParts).
type layout struct {
	redisPort                   int
	redisDir                    string
	http, grpc, https, join     string // host:port: the gateway's, or HAProxy's fronts
	nsx                         string
	hostListen, simListen, cert []string
	password                    string

	// Scaled out: the Redis Cluster's nodes, the gateways behind HAProxy (whose fronts
	// are http, grpc, https and join), HAProxy's stats address, the function replicas.
	clusterPorts []int
	gateways     []infra.HAProxyAddrs
	stats        string
	replicas     int
	// hollow runs hostds on hollow hosts (photon hostd --hollow) instead of simulated
	// ones: for measuring (Serve), not for Run, whose checks read the simulated hosts.
	hollow bool
}

func (l layout) redisURL() string {
	if len(l.clusterPorts) == 0 {
		return "redis://127.0.0.1:" + strconv.Itoa(l.redisPort)
	}
	nodes := make([]string, len(l.clusterPorts))
	for i, p := range l.clusterPorts {
		nodes[i] = "127.0.0.1:" + strconv.Itoa(p)
	}
	return "redis+cluster://" + strings.Join(nodes, ",")
}

// clusterNodeTimeout is how long a cluster node is unreachable before its replica is
// promoted.
const clusterNodeTimeout = 2 * time.Second

func (l layout) clusterNodeArgs(i int) []string {
	p := strconv.Itoa(l.clusterPorts[i])
	dir := filepath.Join(l.redisDir, p)
	return []string{"--port", p, "--bind", "127.0.0.1", "--dir", dir, "--cluster-enabled", "yes",
		"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--cluster-node-timeout", strconv.FormatInt(clusterNodeTimeout.Milliseconds(), 10),
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", ""}
}

// gatewayArgsAt is gateway i's command line when there are several.
func (l layout) gatewayArgsAt(i int) []string {
	g := l.gateways[i]
	return []string{"gateway", "--redis", l.redisURL(), "--admin-password", l.password,
		"--http", g.HTTP, "--grpc", g.GRPC, "--https", g.HTTPS, "--join-listen", g.Join}
}

func (l layout) haproxyConfig() (string, error) {
	o := infra.HAProxyOptions{Listen: infra.HAProxyAddrs{HTTP: l.http, GRPC: l.grpc, HTTPS: l.https, Join: l.join},
		Stats: l.stats, CheckInterval: 500 * time.Millisecond}
	for _, g := range l.gateways {
		o.Gateways = append(o.Gateways, infra.HAProxyGateway{HAProxyAddrs: g})
	}
	return infra.HAProxy(o)
}
func (l layout) joinURL() string { return "https://" + l.join }

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
	if l.hollow {
		return []string{"hostd", "--hollow", "--listen", l.hostListen[i],
			"--join-url", l.joinURL(), "--ca-pin", pin, "--join-token", token, "--cert-dir", l.cert[i], "--heartbeat", "2s"}
	}
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
// function and the notifier from the photon binary, under dir. Scaled out, it starts a
// Redis Cluster of three primaries with a replica each instead of redis-server, two
// gateways behind HAProxy, and two replicas of every function.
func deploy(ctx context.Context, photon, dir string, hosts int, scaled, hollow bool) (d *deployment, err error) {
	redisServer, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is needed (make deps): %w", err)
	}
	const clusterNodes, gateways = 6, 2
	n := 6 + 2*hosts
	if scaled {
		n += clusterNodes + 4*gateways + 1
	}
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	l := layout{redisPort: ports[0], redisDir: filepath.Join(dir, "redis"), http: addr(1), grpc: addr(2), join: addr(3),
		nsx: addr(4), https: addr(5), password: "chaos-admin", replicas: 1, hollow: hollow}
	for i := range hosts {
		l.hostListen = append(l.hostListen, addr(6+2*i))
		l.simListen = append(l.simListen, addr(7+2*i))
		l.cert = append(l.cert, filepath.Join(dir, fmt.Sprintf("hostd-%d", i)))
	}
	if scaled {
		next := 6 + 2*hosts
		for range clusterNodes {
			// A cluster node also listens on its port + 10000, which must be free too.
			if ports[next]+10000 > 65535 || !portFree(ports[next]+10000) {
				return nil, fmt.Errorf("cluster bus port %d is taken; run again", ports[next]+10000)
			}
			l.clusterPorts = append(l.clusterPorts, ports[next])
			next++
		}
		for range gateways {
			l.gateways = append(l.gateways, infra.HAProxyAddrs{HTTP: addr(next), GRPC: addr(next + 1), HTTPS: addr(next + 2), Join: addr(next + 3)})
			next += 4
		}
		l.stats, l.replicas = addr(next), 2
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
	if scaled {
		if err := d.startCluster(ctx, l, redisServer); err != nil {
			return nil, err
		}
	} else {
		d.redis = d.part("redis-server", "redis-server", "Ready to accept connections", redisServer, l.redisArgs()...)
		if err := d.redis.start(ctx, readyTimeout); err != nil {
			return nil, err
		}
	}
	if scaled {
		for i := range l.gateways {
			d.gateways = append(d.gateways, d.part(fmt.Sprintf("gateway %d", i), "gateway", "gateway: join endpoint on", photon, l.gatewayArgsAt(i)...))
		}
	} else {
		d.gateways = []*proc{d.part("gateway", "gateway", "gateway: join endpoint on", photon, l.gatewayArgs()...)}
	}
	d.nsx = d.part("nsxsim", "nsxsim", "NSX-T Manager API on", photon, l.nsxArgs()...)
	if err := startAll(ctx, append(slices.Clone(d.gateways), d.nsx)...); err != nil {
		return nil, err
	}
	if scaled {
		if err := d.startHAProxy(ctx, l); err != nil {
			return nil, err
		}
	}
	for i := range hosts {
		if err := d.startHost(ctx, l, i); err != nil {
			return nil, err
		}
	}
	for _, fn := range events.Functions() {
		for r := range l.replicas {
			name := "function " + fn
			if r > 0 {
				name += fmt.Sprintf(" %d", r+1)
			}
			d.funcs = append(d.funcs, d.part(name, "function "+fn, "function "+fn+" consuming", photon, l.functionArgs(fn)...))
		}
	}
	d.notifier = d.part("notifier", "notifier", "notifier: delivering", photon, l.notifierArgs()...)
	if err := startAll(ctx, append(d.funcs, d.notifier)...); err != nil {
		return nil, err
	}
	return d, nil
}

// startCluster starts the cluster's nodes, makes them a cluster of three primaries with a
// replica each (redis-cli --cluster create), waits until every node serves every slot,
// and names the primary of the store's slot as the node the schedule kills.
func (d *deployment) startCluster(ctx context.Context, l layout, redisServer string) error {
	var nodes []string
	for i, p := range l.clusterPorts {
		if err := os.MkdirAll(filepath.Join(l.redisDir, strconv.Itoa(p)), 0o755); err != nil {
			return err
		}
		d.redisNodes = append(d.redisNodes, d.part(fmt.Sprintf("redis %d", p), "redis-server", "Ready to accept connections", redisServer, l.clusterNodeArgs(i)...))
		nodes = append(nodes, "127.0.0.1:"+strconv.Itoa(p))
	}
	if err := startAll(ctx, d.redisNodes...); err != nil {
		return err
	}
	args := append(append([]string{"--cluster", "create"}, nodes...), "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("redis-cli --cluster create: %w: %s", err, out)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: nodes})
	defer c.Close()
	key := keyspace.Space(store.DefaultPrefix, keyspace.Store)
	deadline := time.Now().Add(readyTimeout)
	for {
		primary, err := clusterReady(ctx, c, nodes, key)
		if err == nil {
			for i, n := range nodes {
				if n == primary {
					d.redis = d.redisNodes[i]
				}
			}
			d.redisDown = 3 * clusterNodeTimeout
			return nil
		}
		if time.Now().After(deadline) || !wait(ctx, 100*time.Millisecond) { // the cluster agreeing; no signal to wait on
			return fmt.Errorf("redis cluster not ready: %w", err)
		}
	}
}

// clusterReady answers the address of key's primary once every node reports the cluster
// ok and every replica has synchronised with its primary (a write that waits for a
// replica waits in vain before).
func clusterReady(ctx context.Context, c *redis.ClusterClient, nodes []string, key string) (string, error) {
	for _, n := range nodes {
		nc := redis.NewClient(&redis.Options{Addr: n})
		info, err := nc.ClusterInfo(ctx).Result()
		repl, rerr := nc.Info(ctx, "replication").Result()
		nc.Close()
		if err = errors.Join(err, rerr); err != nil {
			return "", err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return "", fmt.Errorf("%s: not ok", n)
		}
		if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
			return "", fmt.Errorf("%s: replica not in sync", n)
		}
	}
	c.ReloadState(ctx)
	m, err := c.MasterForKey(ctx, key)
	if err != nil {
		return "", err
	}
	return m.Options().Addr, nil
}

// failedOver says whether the killed primary came back as a replica, its replica having
// taken over its slots.
func (d *deployment) failedOver(ctx context.Context) string {
	addr := "127.0.0.1:" + strings.TrimPrefix(d.redis.name, "redis ")
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return "role unknown: " + err.Error()
	}
	if !strings.Contains(info, "role:slave") {
		return "still a primary: its replica did not take over"
	}
	primary := ""
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "master_port:"); ok {
			primary = "127.0.0.1:" + v
		}
	}
	return "back as a replica of " + primary + ", which took over its slots"
}

// startHAProxy writes HAProxy's configuration for the gateways and starts it.
func (d *deployment) startHAProxy(ctx context.Context, l layout) error {
	cfg, err := l.haproxyConfig()
	if err != nil {
		return err
	}
	path := filepath.Join(d.dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return err
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return fmt.Errorf("haproxy is needed (make deps): %w", err)
	}
	// -V prints the polling mechanism once the fronts are bound.
	d.haproxy = d.part("haproxy", "haproxy", "as the polling mechanism", bin, "-f", path, "-db", "-V")
	return d.haproxy.start(ctx, readyTimeout)
}

// portFree says whether nothing listens on port.
func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// functionKinds are the kinds of the function processes, each once, in deployment order.
func (d *deployment) functionKinds() []string {
	var out []string
	for _, f := range d.funcs {
		if !slices.Contains(out, f.kind) {
			out = append(out, f.kind)
		}
	}
	return out
}

// replicas are the processes of one kind of function.
func (d *deployment) replicas(kind string) []*proc {
	var out []*proc
	for _, f := range d.funcs {
		if f.kind == kind {
			out = append(out, f)
		}
	}
	return out
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
	out = append(out, d.haproxy)
	out = append(out, d.gateways...)
	out = append(out, d.hostds...)
	out = append(out, d.nsx)
	if len(d.redisNodes) > 0 {
		out = append(out, d.redisNodes...)
	} else {
		out = append(out, d.redis)
	}
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
