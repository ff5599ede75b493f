// Package hostclient is how the control plane calls hostds, the functions and the
// gateway's uploads alike: a hostd client for a host id, from the host's address in its
// registration, over one gRPC connection per host and address, with mutual TLS: the
// caller's service certificate from the platform CA, and hostd's checked to be the very
// host meant (pki.ForHost), so a call never lands on another host that took over the
// address.
package hostclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/part"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/store"
)

// Pool dials hostds on demand and reuses connections.
type Pool struct {
	store *store.Store
	tls   *tls.Config
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // by host id and address
	addrs map[string]address          // by host id
}

// address is where a host's hostd was, and when that was read.
type address struct {
	addr string
	at   time.Time
}

// addressTTL is how long a hostd address is used without reading the host record again:
// a restarted hostd that moved is found within it (calls to the old address fail as
// transient errors and are retried meanwhile).
const addressTTL = 5 * time.Second

func (p *Pool) address(ctx context.Context, hostID string) (string, error) {
	p.mu.Lock()
	a, ok := p.addrs[hostID]
	p.mu.Unlock()
	if ok && time.Since(a.at) < addressTTL {
		return a.addr, nil
	}
	h, err := p.store.GetHost(ctx, hostID)
	if err != nil {
		return "", fmt.Errorf("host %s: %w", hostID, err)
	}
	p.mu.Lock()
	p.addrs[hostID] = address{h.Address, time.Now()}
	p.mu.Unlock()
	return h.Address, nil
}

// New returns a pool that finds hosts in s and calls them with tlsConf, the caller's
// client config (pki.CA.ServiceClientTLS); each connection accepts only the host it is
// for. Without one, every call fails: hostd serves only mutual TLS.
func New(s *store.Store, tlsConf *tls.Config) *Pool {
	return &Pool{store: s, tls: tlsConf, conns: map[string]*grpc.ClientConn{}, addrs: map[string]address{}}
}

// For returns a client of the hostd that serves host id.
func (p *Pool) For(ctx context.Context, hostID string) (hostdv1.HostClient, error) {
	if p.tls == nil {
		return nil, errs.Permanent(errors.New("no TLS credentials for calls to hostd"))
	}
	addr, err := p.address(ctx, hostID)
	if err != nil {
		return nil, err
	}
	return p.At(hostID, addr)
}

// At returns a client of host hostID's hostd at addr, which the caller read from the
// host's record: the connection accepts that host only, as For's do.
func (p *Pool) At(hostID, addr string) (hostdv1.HostClient, error) {
	if p.tls == nil {
		return nil, errs.Permanent(errors.New("no TLS credentials for calls to hostd"))
	}
	key := hostID + "@" + addr
	p.mu.Lock()
	defer p.mu.Unlock()
	cc, ok := p.conns[key]
	if !ok {
		var err error
		cc, err = dial(addr, grpc.WithTransportCredentials(credentials.NewTLS(pki.ForHost(p.tls, hostID))),
			grpc.WithStatsHandler(otelgrpc.NewClientHandler()))
		if err != nil {
			return nil, fmt.Errorf("dial hostd %s at %s: %w", hostID, addr, err)
		}
		p.conns[key] = cc
	}
	return hostdv1.NewHostClient(cc), nil
}

// hostClientPart labels the connections' goroutines (part.HostClient).
var hostClientPart = part.Context(context.Background(), part.HostClient)

// dial makes a connection from a goroutine of part.HostClient: the goroutines gRPC
// starts for it (its transport's reader and writer) descend from the one that makes it
// and so carry that label, not the label of whichever caller first needed the host.
func dial(addr string, opts ...grpc.DialOption) (cc *grpc.ClientConn, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		part.Set(hostClientPart)
		cc, err = grpc.NewClient(addr, opts...)
	}()
	<-done
	return cc, err
}

// Close closes every connection.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, cc := range p.conns {
		cc.Close()
		delete(p.conns, k)
	}
}

// ForVM returns the client of the host that vm is placed on and its reservation; ok is
// false when the VM holds no host reservation (never placed, or already released).
func (p *Pool) ForVM(ctx context.Context, vmID string) (c hostdv1.HostClient, r model.HostReservation, ok bool, err error) {
	r, ok, err = p.store.HostReservationOf(ctx, vmID)
	if err != nil || !ok {
		return nil, r, ok, err
	}
	c, err = p.For(ctx, r.HostID)
	return c, r, err == nil, err
}

// Err describes a failed hostd call for the Task: a refusal retrying cannot fix becomes a
// permanent HostError naming the operation; anything else stays transient.
func Err(op string, err error) error {
	if err == nil {
		return nil
	}
	if !errs.IsPermanent(err) {
		return fmt.Errorf("%s: %w", op, err)
	}
	st := status.Convert(err)
	return &errs.Error{Code: errs.CodeHostError, Message: fmt.Sprintf("%s: %s", op, st.Message()),
		Data: map[string]string{"hostCode": st.Code().String()}}
}

// VMGone reports whether a hostd call failed because its VM is not on the host (a lost
// host, or a VM removed behind Photon's back, which the reconciler puts in ERROR): an
// undo that takes something off the VM has nothing left to take.
func VMGone(err error) bool { return status.Code(err) == codes.NotFound }

// OnVMHost runs call with the client of the host that vm is placed on, and describes its
// error with Err. A VM that holds no host reservation has nothing on any host: call is
// skipped and ok is false.
func (p *Pool) OnVMHost(ctx context.Context, vmID, op string, call func(hostdv1.HostClient, model.HostReservation) error) (ok bool, err error) {
	h, r, ok, err := p.ForVM(ctx, vmID)
	if err != nil || !ok {
		return ok, err
	}
	return true, Err(fmt.Sprintf("%s on host %s", op, r.HostID), call(h, r))
}
