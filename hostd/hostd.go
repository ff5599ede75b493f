package hostd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/part"
)

// Options configure a hostd.
type Options struct {
	ID       string   // Photon host id (required)
	URL      *url.URL // ESXi SDK URL with user:password, e.g. https://root:pw@host/sdk
	Insecure bool     // skip TLS verification of the host
	// ListenAddr is the gRPC listen address; default 127.0.0.1:0.
	ListenAddr string
	// AdvertiseAddr is the address registered for functions to dial; default the
	// listener's address.
	AdvertiseAddr string
	// TLS is the server side of the mutual TLS with functions and the gateway (required):
	// it presents the host's certificate from the platform CA, valid for the advertised
	// address, and must require and verify a client certificate from that CA
	// (pki.Host.ServerTLS). hostd serves no plaintext: whoever reaches its port drives
	// the host.
	TLS              *tls.Config
	AvailabilityZone string
	Tags             []string
	Heartbeat        time.Duration // default 10s
	// PowerListEvery is how often, in beats, a heartbeat carries the power state of every
	// VM on the host rather than of those that changed since the last one (default 30:
	// every 5 minutes at the default Heartbeat). The full list lets the control plane
	// catch a VM record that drifted on its own side; 1 sends it on every beat.
	PowerListEvery int
	// FileOps bounds the calls that create, reconfigure or delete VMs (create VM, attach,
	// detach, add and remove NIC, resize, ISO, delete), the persistent disk and image file
	// calls (an upload holds its slot while its data streams in) and the datastore
	// searches of the usage read running at once; 0 is no bound. Simulated hosts need 1: vcsim (govmomi v0.56) copies
	// a datastore's whole record without its lock whenever it resolves a datastore path (a
	// reconfigure, a delete, a search), while a create, attach or delete updates that
	// record's free space under the lock.
	FileOps int
	// DatastoreTags are tags to add, by datastore name, to the ones every datastore gets
	// from its type (DefaultDatastoreTags). Placement matches them with a VM's
	// datastoreTag affinity.
	DatastoreTags map[string][]string
	// QualifyLocalDatastores makes the id of a datastore that only this host mounts
	// "<vSphere id>@<host id>". Simulated hosts need it: every vcsim ESX host gives its
	// local datastore the same managed object id, where a real ESXi host's local VMFS
	// datastore is named by its volume UUID and is unique already.
	QualifyLocalDatastores bool
	// Registrar is the control plane's registrar (DialRegistrar), which records the host
	// for placement; nil: no registration.
	Registrar hostdv1.RegistrarClient
	Logger    *slog.Logger
}

// Photon's built-in datastore tags, which every datastore gets from its type.
const (
	TagLocalVMFS  = "LOCAL_VMFS"
	TagSharedVMFS = "SHARED_VMFS"
	TagNFS        = "NFS"
	TagVSAN       = "VSAN"
)

// DefaultDatastoreTags are the tags a datastore of vSphere type typ gets, as Photon
// tagged them: LOCAL_VMFS or SHARED_VMFS for VMFS (by whether more hosts can mount it),
// NFS for NFS 3 and 4.1, VSAN for vSAN; none for other types (vcsim's local datastores
// are of type OTHER).
func DefaultDatastoreTags(typ string, shared bool) []string {
	switch strings.ToUpper(typ) {
	case "VMFS":
		if shared {
			return []string{TagSharedVMFS}
		}
		return []string{TagLocalVMFS}
	case "NFS", "NFS41":
		return []string{TagNFS}
	case "VSAN":
		return []string{TagVSAN}
	}
	return nil
}

// Daemon is a running hostd.
type Daemon struct {
	opts   Options
	b      Backend
	srv    *grpc.Server
	host   *Server
	ln     net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start connects to the ESXi host at o.URL, serves hostd.v1, registers the host and
// heartbeats.
func Start(ctx context.Context, o Options) (*Daemon, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.URL == nil {
		return nil, errors.New("hostd: URL is required")
	}
	c, err := govmomi.NewClient(ctx, o.URL, o.Insecure)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", o.URL.Host, err)
	}
	// Functions call one hostd concurrently: keep that many connections to the host open
	// instead of Go's default of two (each new one costs a TLS handshake).
	c.Client.DefaultTransport().MaxIdleConnsPerHost = 64
	c.Client.RoundTripper = timedRoundTripper{c.Client.RoundTripper}
	files := newSlots(o.FileOps)
	h, err := newHost(ctx, c.Client, files)
	if err != nil {
		c.Logout(context.WithoutCancel(ctx))
		return nil, err
	}
	return serve(ctx, o, vsphere{h: h, c: c}, files)
}

// StartBackend serves hostd.v1 on b's host, registers it and heartbeats, as Start does
// for an ESXi host (o.URL and o.Insecure are not used). Close closes b.
func StartBackend(ctx context.Context, o Options, b Backend) (*Daemon, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	return serve(ctx, o, b, newSlots(o.FileOps))
}

func (o *Options) check() error {
	if o.ID == "" {
		return errors.New("hostd: ID is required")
	}
	if o.TLS == nil || o.TLS.ClientAuth != tls.RequireAndVerifyClientCert || o.TLS.ClientCAs == nil {
		return errors.New("hostd: TLS is required, with client certificates from the platform CA required and verified")
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 10 * time.Second
	}
	if o.PowerListEvery <= 0 {
		o.PowerListEvery = 30
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// serve serves hostd.v1 on b, taking file-operation slots from files, and registers the
// host; b is closed if that fails.
func serve(ctx context.Context, o Options, b Backend, files slots) (*Daemon, error) {
	defer part.Enter(ctx, part.Hostd)() // its server's connections and its heartbeats
	ln, err := net.Listen("tcp", orDefault(o.ListenAddr, "127.0.0.1:0"))
	if err != nil {
		b.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	d := &Daemon{opts: o, b: b, ln: ln, srv: grpc.NewServer(
		grpc.Creds(credentials.NewTLS(o.TLS)), grpc.StatsHandler(otelgrpc.NewServerHandler()))}
	d.host = &Server{b: b, files: files}
	hostdv1.RegisterHostServer(d.srv, d.host)
	go d.srv.Serve(ln)

	if o.Registrar != nil {
		readAt := time.Now().UnixMilli()
		res, err := b.GetResources(ctx)
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("read host resources: %w", err)
		}
		rec := &hostdv1.RegisterRequest{Name: res.GetHostName(), Address: d.Addr(), AvailabilityZone: o.AvailabilityZone,
			Tags: o.Tags, EsxVersion: b.Version(), CpuCores: res.GetCpuCores(), CpuMhz: res.GetCpuMhz(),
			MemoryMb: res.GetMemoryMb(), Datastores: o.datastores(res), Networks: res.GetNetworks(), Usage: o.usage(res, readAt)}
		hbCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		d.cancel = cancel
		registered := d.register(ctx, rec)
		d.wg.Add(1)
		go d.report(hbCtx, rec, registered)
	}
	return d, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Addr is the address functions dial.
func (d *Daemon) Addr() string { return orDefault(d.opts.AdvertiseAddr, d.ln.Addr().String()) }

// ID is the Photon id of the host.
func (d *Daemon) ID() string { return d.opts.ID }

// Close stops heartbeats and the gRPC server, lets the host work of calls whose callers
// left end, and closes the backend (logs out of the host).
func (d *Daemon) Close() error {
	if d.cancel != nil {
		d.cancel()
	}
	d.wg.Wait()
	d.srv.GracefulStop()
	d.host.work.Wait()
	return d.b.Close(context.Background())
}
