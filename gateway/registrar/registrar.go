// Package registrar is the control plane's side of hostd.v1.Registrar: where each hostd
// registers its host and heartbeats what it measures (usage, datastores, the power states
// of its VMs). It alone writes what hosts report into the store, so that no hostd holds
// the control plane's Redis credentials. It is served beside the join and renew endpoints
// (pki.Joiner.ServeWith, photon gateway --join-listen), over the mutual TLS a host joined
// for.
//
// The host is the one the caller's certificate from the platform CA names
// (spiffe://photon/host/<id>); nothing in a request names a host. A host therefore writes
// its own record only, and the store applies the power states it reports to the VMs
// placed on it only (store.HeartbeatHost).
package registrar

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"net"
	"sync"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/events"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/store"
)

// Registrar records what hosts report in the store.
type Registrar struct {
	hostdv1.UnimplementedRegistrarServer
	store *store.Store
	roots *x509.CertPool

	mu       sync.Mutex
	verified map[[sha256.Size]byte]verified // by a digest of the chain's certificates (DER), as presented
}

// verified is a chain that verified: the host it names, and until when it is valid.
type verified struct {
	id    string
	until time.Time
}

// maxVerified bounds the chains kept verified; past it, the expired ones go, and all of
// them when none has.
const maxVerified = 1 << 16

// New returns a registrar that writes to s and takes as hosts the callers whose host
// certificate ca signed.
func New(s *store.Store, ca *pki.CA) *Registrar {
	return &Registrar{store: s, roots: ca.Pool(), verified: map[[sha256.Size]byte]verified{}}
}

// NewServer is a gRPC server of r, to serve on the join endpoint (pki.Joiner.ServeWith).
func NewServer(r *Registrar) *grpc.Server {
	g := grpc.NewServer(grpc.StatsHandler(otelgrpc.NewServerHandler()))
	hostdv1.RegisterRegistrarServer(g, r)
	return g
}

// Register records the calling host.
func (r *Registrar) Register(ctx context.Context, req *hostdv1.RegisterRequest) (*hostdv1.RegisterResponse, error) {
	id, err := r.caller(ctx)
	if err != nil {
		return nil, err
	}
	if _, _, err := net.SplitHostPort(req.GetAddress()); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "register host %s: address %q is not HOST:PORT", id, req.GetAddress())
	}
	h := model.Host{ID: id, Name: req.GetName(), Address: req.GetAddress(), AvailabilityZone: req.GetAvailabilityZone(),
		Tags: req.GetTags(), State: model.HostReady, EsxVersion: req.GetEsxVersion(), CPUCores: req.GetCpuCores(),
		CPUMhz: req.GetCpuMhz(), MemoryMB: req.GetMemoryMb(), Datastores: datastores(req.GetDatastores()),
		Networks: req.GetNetworks(), Usage: usage(req.GetUsage())}
	if err := r.store.RegisterHost(ctx, h); err != nil {
		return nil, errs.As(err)
	}
	// A host that comes back may have lost VMs or gained some meanwhile: the reconciler
	// compares it with the records at once (a failed request fails the registration,
	// which hostd retries).
	if err := r.store.AppendSignals(ctx, events.EncodeSignals("photon/registrar", events.HostReconcile, id)...); err != nil {
		return nil, errs.As(err)
	}
	return &hostdv1.RegisterResponse{}, nil
}

// Heartbeat records that the calling host is alive and what it measured.
func (r *Registrar) Heartbeat(ctx context.Context, req *hostdv1.HeartbeatRequest) (*hostdv1.HeartbeatResponse, error) {
	id, err := r.caller(ctx)
	if err != nil {
		return nil, err
	}
	retry, err := r.store.HeartbeatHost(ctx, id, usage(req.GetUsage()))
	if err != nil {
		return nil, errs.As(err)
	}
	return &hostdv1.HeartbeatResponse{RetryVmIds: retry}, nil
}

// Heartbeats answers each beat of the stream as Heartbeat does, in order, except the quiet
// ones, which it takes without an answer (each answer says so, quiet_beats); it ends the
// stream with the error of the first beat it refuses. Each beat is checked as a call is,
// so a certificate that expires while its stream is open stops being taken.
func (r *Registrar) Heartbeats(stream grpc.BidiStreamingServer[hostdv1.HeartbeatRequest, hostdv1.HeartbeatResponse]) error {
	ctx := stream.Context()
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := r.Heartbeat(ctx, req)
		if err != nil {
			return err
		}
		if req.GetQuiet() {
			continue
		}
		res.QuietBeats = true
		if err := stream.Send(res); err != nil {
			return err
		}
	}
}

// caller is the id of the host whose certificate from the platform CA the call came
// with. The chain is verified here again rather than trusted to the listener's TLS
// settings, which let callers without a certificate through to the join endpoint. A
// chain that verified is remembered until it expires: a host presents the same chain on
// every heartbeat, and checking its signatures again was the largest cost of one.
func (r *Registrar) caller(ctx context.Context) (string, error) {
	p, ok := peer.FromContext(ctx)
	if ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
			certs := ti.State.PeerCertificates
			digest := sha256.New()
			for _, c := range certs {
				digest.Write(c.Raw)
			}
			var key [sha256.Size]byte
			digest.Sum(key[:0])
			now := time.Now()
			r.mu.Lock()
			v, ok := r.verified[key]
			r.mu.Unlock()
			if ok && now.Before(v.until) {
				return v.id, nil
			}
			leaf := certs[0]
			inter := x509.NewCertPool()
			for _, c := range certs[1:] {
				inter.AddCert(c)
			}
			chains, err := leaf.Verify(x509.VerifyOptions{Roots: r.roots, Intermediates: inter, CurrentTime: now,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
			if err != nil {
				return "", status.Errorf(codes.Unauthenticated, "the certificate is not from the platform CA: %v", err)
			}
			id, ok := pki.HostID(leaf)
			if !ok {
				return "", status.Errorf(codes.PermissionDenied, "%q is not a host's certificate", leaf.Subject.CommonName)
			}
			r.remember(key, verified{id: id, until: validUntil(chains)})
			return id, nil
		}
	}
	return "", status.Error(codes.Unauthenticated, "present the host's certificate from the platform CA")
}

// validUntil is when the first of the certificates of chains expires.
func validUntil(chains [][]*x509.Certificate) time.Time {
	var until time.Time
	for _, chain := range chains {
		for _, c := range chain {
			if until.IsZero() || c.NotAfter.Before(until) {
				until = c.NotAfter
			}
		}
	}
	return until
}

func (r *Registrar) remember(key [sha256.Size]byte, v verified) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.verified) >= maxVerified {
		now := time.Now()
		for k, old := range r.verified {
			if !now.Before(old.until) {
				delete(r.verified, k)
			}
		}
		if len(r.verified) >= maxVerified {
			clear(r.verified)
		}
	}
	r.verified[key] = v
}

func datastores(in []*hostdv1.HostDatastore) []model.Datastore {
	out := make([]model.Datastore, len(in))
	for i, d := range in {
		out[i] = model.Datastore{ID: d.GetId(), Name: d.GetName(), Type: d.GetType(), Tags: d.GetTags(),
			CapacityBytes: d.GetCapacityBytes(), FreeBytes: d.GetFreeBytes(), Images: d.GetImages()}
	}
	return out
}

func usage(u *hostdv1.HostUsage) model.HostUsage {
	out := model.HostUsage{CPUUsedMhz: u.GetCpuUsedMhz(), MemoryUsedMB: u.GetMemoryUsedMb(), VMCount: u.GetVmCount(),
		Datastores: datastores(u.GetDatastores()), ReadAt: u.GetReadAtMs()}
	if len(u.GetVmPowers()) > 0 {
		out.VMPower = make(map[string]string, len(u.GetVmPowers()))
		for _, p := range u.GetVmPowers() {
			out.VMPower[p.GetVmId()] = p.GetPowerState()
		}
	}
	return out
}
