package hostclient

import (
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestPoolTLS: the pool calls a host over mutual TLS and refuses a hostd that is not the
// host it looked up, even at the address registered for it.
func TestPoolTLS(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.HostCredentials("h1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A hostd that implements nothing: a call that reaches it answers Unimplemented.
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.ServerTLS(ca.Pool(), pki.Static(cert), pki.Services()))))
	hostdv1.RegisterHostServer(srv, hostdv1.UnimplementedHostServer{})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	s := storetest.New(t)
	for _, id := range []string{"h1", "h2"} { // h2 registered where h1 serves
		if err := s.RegisterHost(ctx, store.Host{ID: id, Address: ln.Addr().String(), State: store.HostReady}); err != nil {
			t.Fatal(err)
		}
	}
	clientTLS, err := ca.ServiceClientTLS("functions")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		pool *Pool
		host string
		want codes.Code
	}{
		{"the host itself", New(s, clientTLS), "h1", codes.Unimplemented},
		{"another host at its address", New(s, clientTLS), "h2", codes.Unavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(tc.pool.Close)
			c, err := tc.pool.For(ctx, tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetResources(ctx, &hostdv1.GetResourcesRequest{}); status.Code(err) != tc.want {
				t.Fatalf("GetResources: %v, want %v", err, tc.want)
			}
		})
	}
	noTLS := New(s, nil)
	if _, err := noTLS.For(ctx, "h1"); err == nil || !errs.IsPermanent(err) {
		t.Fatalf("a pool without TLS dialed: %v", err)
	}
}
