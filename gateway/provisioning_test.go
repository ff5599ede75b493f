package gateway_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// fakeProvisioner provisions hosts as its outcome says: block (until its gateway closes),
// ok (the host's hostd registers it READY) or fail.
type fakeProvisioner struct {
	s       *store.Store
	outcome atomic.Value // "block", "ok", "fail"
	calls   chan string  // the host of each call
}

func (f *fakeProvisioner) Provision(ctx context.Context, h model.Host, _ gateway.HostCredentials) error {
	f.calls <- h.ID
	switch f.outcome.Load() {
	case "block":
		<-ctx.Done()
		return ctx.Err()
	case "fail":
		return errors.New("no route to host")
	}
	h.State, h.Address = model.HostReady, "127.0.0.1:1"
	return f.s.RegisterHost(ctx, h)
}

func (f *fakeProvisioner) Deprovision(context.Context, string) error { return nil }

// TestHostProvisioningSurvivesAGatewayCrash: gateway A dies while it provisions a host;
// gateway B, which saw the provisioning through Redis, takes it over and ends it: the
// host READY and the task COMPLETED, or the host and the task ERROR.
func TestHostProvisioningSurvivesAGatewayCrash(t *testing.T) {
	cases := []struct {
		outcome   string
		wantTask  string
		wantHost  string
		wantCalls int
	}{
		{"ok", model.TaskCompleted, model.HostReady, 2},
		{"fail", model.TaskError, model.HostError, 2},
	}
	for _, tc := range cases {
		t.Run(tc.outcome, func(t *testing.T) {
			ctx := t.Context()
			fp := &fakeProvisioner{calls: make(chan string, 8)}
			fp.outcome.Store("block")
			var opts gateway.Options
			h := newHarness(t, func(o *gateway.Options) {
				// A closing gateway hands its provisioning over at once, so the lease is long:
				// a short one can lapse while A lives on a loaded machine (a renewal late by
				// a scheduling stall), and a takeover then is right but calls Provision again.
				o.Provisioner, o.TakeoverAfter = fp, 2*time.Second
				opts = *o
			})
			fp.s = h.s
			out, err := h.invoke(t, sys, m("Hosts", "CreateHost"), &pb.CreateHostRequest{Spec: &pb.HostCreateSpec{
				Address: nextAddress(), Username: "root", Password: "secret"}})
			if err != nil {
				t.Fatal(err)
			}
			task := out.(*pb.Task)
			hostID := task.GetEntity().GetId()
			<-fp.calls // A is provisioning

			b, err := gateway.Start(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close(context.WithoutCancel(ctx)) })
			onB := func(method string, req, resp proto.Message) error {
				cc, err := grpc.NewClient(b.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
				if err != nil {
					t.Fatal(err)
				}
				defer cc.Close()
				return cc.Invoke(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+h.tokens[sys]), method, req, resp)
			}
			err = onB(m("Hosts", "DeleteHost"), &pb.IdRequest{Id: hostID}, &pb.Task{})
			if !errors.Is(errs.FromStatus(status.Convert(err)), errs.ErrConcurrentTask) {
				t.Fatalf("delete on another gateway while A provisions: %v, want ConcurrentTask", err)
			}

			// A dies mid-provision; B takes over.
			fp.outcome.Store(tc.outcome)
			if err := h.gw.Close(ctx); err != nil {
				t.Fatal(err)
			}
			poll(t, "task ended", func() bool { return mustTask(t, h.s, task.GetId()).Done() })
			got := mustTask(t, h.s, task.GetId())
			host, err := h.s.GetHost(ctx, hostID)
			if err != nil {
				t.Fatal(err)
			}
			if got.State != tc.wantTask || got.Steps[0].State != tc.wantTask || host.State != tc.wantHost {
				t.Fatalf("task %s (step %s), host %s; want task %s, host %s", got.State, got.Steps[0].State, host.State, tc.wantTask, tc.wantHost)
			}
			if calls := 1 + len(fp.calls); calls != tc.wantCalls {
				t.Fatalf("Provision called %d times, want %d", calls, tc.wantCalls)
			}
			poll(t, "provisioning record gone", func() bool {
				_, busy, err := h.s.ProvisioningTask(ctx, hostID)
				return err == nil && !busy
			})
			err = onB(m("Hosts", "DeleteHost"), &pb.IdRequest{Id: hostID}, &pb.Task{})
			if errors.Is(errs.FromStatus(status.Convert(err)), errs.ErrConcurrentTask) {
				t.Fatalf("delete after the provisioning ended: %v", err)
			}
		})
	}
}
