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
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/pki"
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
		if err := s.RegisterHost(ctx, model.Host{ID: id, Address: ln.Addr().String(), State: model.HostReady}); err != nil {
			t.Fatal(err)
		}
	}
	clientTLS, err := ca.ServiceClientTLS("functions")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	// For looks the address up, as functions do; At takes the one the caller read, as the
	// gateway's uploads do: both pin the host.
	cases := []struct {
		name string
		pool *Pool
		dial func(p *Pool) (hostdv1.HostClient, error)
		want codes.Code
	}{
		{"the host itself", New(s, clientTLS), func(p *Pool) (hostdv1.HostClient, error) { return p.For(ctx, "h1") }, codes.Unimplemented},
		{"another host at its address", New(s, clientTLS), func(p *Pool) (hostdv1.HostClient, error) { return p.For(ctx, "h2") }, codes.Unavailable},
		{"the host itself, at an address read", New(s, clientTLS), func(p *Pool) (hostdv1.HostClient, error) { return p.At("h1", addr) }, codes.Unimplemented},
		{"another host at an address read", New(s, clientTLS), func(p *Pool) (hostdv1.HostClient, error) { return p.At("h2", addr) }, codes.Unavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(tc.pool.Close)
			c, err := tc.dial(tc.pool)
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
	if _, err := noTLS.At("h1", addr); err == nil || !errs.IsPermanent(err) {
		t.Fatalf("a pool without TLS dialed an address: %v", err)
	}
}
