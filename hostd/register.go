package hostd

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// callTimeout bounds one call to the registrar: a control plane that does not answer is
// tried again at the next beat instead of being waited on.
const callTimeout = 30 * time.Second

// reconnectMax bounds the wait between tries to reach the registrar after it went away.
const reconnectMax = 5 * time.Second

// usageReadTimeout bounds a usage read that the daemon lets finish as it closes.
const usageReadTimeout = 30 * time.Second

// DialRegistrar connects to the control plane's registrar (hostd.v1.Registrar), served
// with the join and renew endpoints at joinURL (https://HOST:PORT), with cfg: the host's
// client config (pki.Host.EndpointClientTLS), which presents the host's certificate, the
// only thing that says which host reports. The connection is made on the first call, so
// a control plane that is down does not stop hostd from starting.
func DialRegistrar(joinURL string, cfg *tls.Config) (*grpc.ClientConn, error) {
	u, err := url.Parse(joinURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("registrar at %q: want the join endpoint's URL, https://HOST:PORT", joinURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	// gRPC's default reconnect backoff grows to two minutes: a control plane back after a
	// long outage would miss that long of heartbeats and see the host as lost.
	bo := backoff.DefaultConfig
	bo.MaxDelay = reconnectMax
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: callTimeout}),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
	if err != nil {
		return nil, fmt.Errorf("registrar at %s: %w", joinURL, err)
	}
	return cc, nil
}

// register records the host with the registrar; false when that failed (the control
// plane unreachable, or refusing), and report tries again at every beat.
func (d *Daemon) register(ctx context.Context, rec *hostdv1.RegisterRequest) bool {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := d.opts.Registrar.Register(ctx, rec); err != nil {
		d.opts.Logger.Warn("register the host; hostd serves meanwhile and tries again at every heartbeat", "host", d.opts.ID, "err", err)
		return false
	}
	return true
}

// report registers the host until that succeeds, then proves it alive every Heartbeat
// with a cheap call to it (its clock) and reports the usage it read last. Reading the
// usage (host summary, datastores, the images on them) is slow on a host with many VMs:
// it runs beside the beats, so a live but busy host does not look silent and lose its
// placements.
//
// A beat carries the power states of the VMs whose state changed since the last beat the
// registrar took (a VM that appeared among them), and those of every VM on the first beat
// after a registration and every PowerListEvery beats after, so that the control plane
// also catches a VM record that drifted on its own side: each power state costs the
// control plane a read of the VM's record. The states a beat carried count as known only
// once the registrar took the beat, so a failed beat's changes go with the next one.
func (d *Daemon) report(ctx context.Context, rec *hostdv1.RegisterRequest, registered bool) {
	defer d.wg.Done()
	var (
		mu    sync.Mutex
		usage = rec.GetUsage()
	)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		t := time.NewTicker(d.opts.Heartbeat)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			readAt := time.Now().UnixMilli()
			// A read under way is let finish when the daemon closes rather than cut off:
			// a cancelled read abandons the property collectors its datastore searches
			// wait on while the host still serves them (vcsim races on exactly that).
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), usageReadTimeout)
			res, err := d.b.GetResources(rctx)
			cancel()
			if err == nil {
				mu.Lock()
				usage = d.opts.usage(res, readAt)
				mu.Unlock()
			} else if ctx.Err() == nil {
				d.opts.Logger.Warn("read host usage", "host", d.opts.ID, "err", err)
			}
		}
	}()
	var (
		acked map[string]string // by VM id, the power states of the last beat the registrar took
		beats int               // beats the registrar took since the registration
	)
	hb := &heartbeats{reg: d.opts.Registrar}
	defer hb.close()
	t := time.NewTicker(d.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mu.Lock()
		u := usage
		mu.Unlock()
		if !registered {
			rec.Usage = u
			registered = d.register(ctx, rec)
			beats = 0
			continue
		}
		sent := u
		if beats%d.opts.PowerListEvery != 0 {
			sent = withPowers(u, changedPowers(u.GetVmPowers(), acked))
		}
		retry, err := d.beat(ctx, hb, sent)
		if err == nil {
			acked = powerStates(u.GetVmPowers())
			for _, id := range retry {
				delete(acked, id) // not taken yet: the next beat reports it again
			}
			beats++
		} else if ctx.Err() == nil {
			d.opts.Logger.Warn("heartbeat", "host", d.opts.ID, "err", err)
		}
	}
}

// changedPowers are the power states in ps that differ from known (VMs not in known
// included).
func changedPowers(ps []*hostdv1.VmPower, known map[string]string) []*hostdv1.VmPower {
	var out []*hostdv1.VmPower
	for _, p := range ps {
		if s, ok := known[p.GetVmId()]; !ok || s != p.GetPowerState() {
			out = append(out, p)
		}
	}
	return out
}

func powerStates(ps []*hostdv1.VmPower) map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.GetVmId()] = p.GetPowerState()
	}
	return m
}

// beat checks that the host answers and reports u over hb; it answers the VMs whose
// power states the registrar did not take yet.
func (d *Daemon) beat(ctx context.Context, hb *heartbeats, u *hostdv1.HostUsage) ([]string, error) {
	if err := d.b.Ping(ctx); err != nil {
		return nil, fmt.Errorf("the host does not answer: %w", err)
	}
	res, err := hb.beat(ctx, &hostdv1.HeartbeatRequest{Usage: u})
	return res.GetRetryVmIds(), err
}

// heartbeats sends a daemon's beats over one stream (Registrar.Heartbeats), opened at the
// first beat and again at the beat after one failed: a beat then costs the control plane a
// message, not a call. Against a registrar that does not serve the stream, the beats are
// calls of Heartbeat. Its beats are made one at a time.
//
// Once the stream's registrar said it takes quiet beats, a beat that carries no power
// states (most of them) is sent quiet, without waiting for an answer, which halves what a
// beat costs on each side; every quietRun+1-th beat is still answered, so that a stream
// whose registrar is gone without closing it (behind a load balancer, say) is found out
// within that many beats and callTimeout. A refused quiet beat ends the stream, which the
// next beat finds: that beat is sent again on a new stream.
type heartbeats struct {
	reg    hostdv1.RegistrarClient
	unary  bool // the registrar serves no stream
	stream grpc.BidiStreamingClient[hostdv1.HeartbeatRequest, hostdv1.HeartbeatResponse]
	cancel context.CancelFunc // ends stream
	quiet  bool               // stream's registrar takes quiet beats
	run    int                // quiet beats sent since the last answer
}

// quietRun is how many beats in a row may go unanswered.
const quietRun = 2

// beat sends req and waits for its answer, at most callTimeout; a quiet beat's answer is
// empty.
func (h *heartbeats) beat(ctx context.Context, req *hostdv1.HeartbeatRequest) (*hostdv1.HeartbeatResponse, error) {
	if h.unary {
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		return h.reg.Heartbeat(ctx, req)
	}
	if h.stream == nil {
		sctx, cancel := context.WithCancel(ctx)
		s, err := h.reg.Heartbeats(sctx)
		if err != nil {
			cancel()
			return h.failed(ctx, req, err)
		}
		h.stream, h.cancel = s, cancel
	}
	late := time.AfterFunc(callTimeout, h.cancel) // an answer that long late ends the stream
	defer late.Stop()
	req.Quiet = h.quiet && h.run < quietRun && len(req.GetUsage().GetVmPowers()) == 0
	err := h.stream.Send(req)
	if err == io.EOF {
		// The stream has ended: Recv says why. After quiet beats, it may have ended at
		// one of them, before this beat was sent: this one goes on a new stream.
		if h.quiet {
			h.close()
			return h.beat(ctx, req)
		}
		err = nil
	} else if err == nil && req.Quiet {
		h.run++
		return &hostdv1.HeartbeatResponse{}, nil
	}
	var res *hostdv1.HeartbeatResponse
	if err == nil {
		res, err = h.stream.Recv()
	}
	if err != nil {
		h.close()
		return h.failed(ctx, req, err)
	}
	h.quiet, h.run = res.GetQuietBeats(), 0
	return res, nil
}

// failed is the outcome of a beat that the stream could not carry (err): the beat is
// made again as a call when the registrar turns out to serve no stream.
func (h *heartbeats) failed(ctx context.Context, req *hostdv1.HeartbeatRequest, err error) (*hostdv1.HeartbeatResponse, error) {
	if status.Code(err) != codes.Unimplemented {
		return nil, err
	}
	h.unary = true
	return h.beat(ctx, req)
}

// close ends the stream, if one is open.
func (h *heartbeats) close() {
	if h.stream != nil {
		h.stream.CloseSend()
		h.cancel()
		h.stream, h.cancel, h.quiet, h.run = nil, nil, false, 0
	}
}

// withPowers is u carrying the power states ps.
func withPowers(u *hostdv1.HostUsage, ps []*hostdv1.VmPower) *hostdv1.HostUsage {
	return &hostdv1.HostUsage{CpuUsedMhz: u.GetCpuUsedMhz(), MemoryUsedMb: u.GetMemoryUsedMb(), VmCount: u.GetVmCount(),
		Datastores: u.GetDatastores(), VmPowers: ps, ReadAtMs: u.GetReadAtMs()}
}

func (o *Options) datastores(r *hostdv1.Resources) []*hostdv1.HostDatastore {
	out := make([]*hostdv1.HostDatastore, 0, len(r.GetDatastores()))
	for _, d := range r.GetDatastores() {
		id := d.GetId()
		if o.QualifyLocalDatastores && !d.GetShared() && id != "" {
			id += "@" + o.ID
		}
		tags := DefaultDatastoreTags(d.GetType(), d.GetShared())
		for _, t := range o.DatastoreTags[d.GetName()] {
			if !slices.Contains(tags, t) {
				tags = append(tags, t)
			}
		}
		out = append(out, &hostdv1.HostDatastore{Id: id, Name: d.GetName(), Type: d.GetType(), Tags: tags,
			CapacityBytes: d.GetCapacityBytes(), FreeBytes: d.GetFreeBytes(), Images: d.GetImages()})
	}
	return out
}

// usage is what a heartbeat reports of r, read at readAt (ms).
func (o *Options) usage(r *hostdv1.Resources, readAt int64) *hostdv1.HostUsage {
	return &hostdv1.HostUsage{CpuUsedMhz: r.GetCpuUsedMhz(), MemoryUsedMb: r.GetMemoryUsedMb(), VmCount: r.GetVmCount(),
		Datastores: o.datastores(r), VmPowers: r.GetVmPowers(), ReadAtMs: readAt}
}
