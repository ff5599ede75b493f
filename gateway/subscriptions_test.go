package gateway_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// TestSubscriptionsAPI: a subscription's secret is shown once, in the create's answer;
// bad sinks and filters are refused; dead letters are listed and replayed.
func TestSubscriptionsAPI(t *testing.T) {
	h := newHarness(t)
	w := h.world(t)
	create := func(sink string, types ...string) (*pb.Task, error) {
		out, err := h.invoke(t, userA1, m("Subscriptions", "CreateSubscription"), &pb.CreateSubscriptionRequest{ProjectId: w.p1,
			Spec: &pb.SubscriptionSpec{Sink: sink, Types: types}})
		tk, _ := out.(*pb.Task)
		return tk, err
	}
	for _, tc := range []struct {
		name, sink, typ string
	}{
		{"not http", "ftp://127.0.0.1/x", "io.photon.vm.*"},
		{"credentials in the URL", "http://u:p@127.0.0.1/x", "io.photon.vm.*"},
		{"a star inside a type", "http://127.0.0.1/x", "io.*.vm"},
	} {
		if _, err := create(tc.sink, tc.typ); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", tc.name, err)
		}
	}
	tk, err := create("http://127.0.0.1:9/hook", "io.photon.vm.*")
	if err != nil || tk.GetState() != "COMPLETED" || len(tk.GetResourceProperties().GetFields()["secret"].GetStringValue()) != 64 {
		t.Fatalf("create: %v %v", tk, err)
	}
	id := tk.GetEntity().GetId()
	got, err := h.invoke(t, userA1, m("Tasks", "GetTask"), &pb.IdRequest{Id: tk.GetId()})
	if err != nil || got.(*pb.Task).GetResourceProperties().GetFields()["secret"] != nil {
		t.Fatalf("the stored task shows the secret: %v %v", got, err)
	}
	sub, err := h.invoke(t, userA1, m("Subscriptions", "GetSubscription"), &pb.IdRequest{Id: id})
	if err != nil || sub.(*pb.Subscription).GetSink() != "http://127.0.0.1:9/hook" || sub.(*pb.Subscription).GetOwner() != "pat" {
		t.Fatalf("get: %v %v", sub, err)
	}
	dl := &store.DeadLetter{SubscriptionID: id, Event: []byte(`{"specversion":"1.0","id":"e","source":"s","type":"io.photon.vm.started"}`), Attempts: 5, LastStatus: 500}
	if err := h.s.AddDeadLetter(t.Context(), dl); err != nil {
		t.Fatal(err)
	}
	list, err := h.invoke(t, userA1, m("Subscriptions", "ListDeadLetters"), &pb.ListEntityTasksRequest{Id: id})
	if err != nil || len(list.(*pb.DeadLetterList).GetItems()) != 1 || list.(*pb.DeadLetterList).GetItems()[0].GetLastStatus() != 500 {
		t.Fatalf("dead letters: %v %v", list, err)
	}
	if _, err := h.invoke(t, userA1, m("Subscriptions", "ReplayDeadLetter"), &pb.IdRequest{Id: dl.ID}); err != nil {
		t.Fatalf("replay: %v", err)
	}
	n, err := h.rdb.XLen(t.Context(), h.s.ReplayStream()).Result()
	if err != nil || n != 1 {
		t.Fatalf("replay stream holds %d (%v), want 1", n, err)
	}
	if _, err := h.invoke(t, userA1, m("Subscriptions", "ReplayDeadLetter"), &pb.IdRequest{Id: dl.ID}); status.Code(err) != codes.NotFound {
		t.Fatalf("a replayed dead letter replays again: %v", err)
	}
	if _, err := h.invoke(t, userA1, m("Subscriptions", "DeleteSubscription"), &pb.IdRequest{Id: id}); err != nil {
		t.Fatalf("delete: %v", err)
	}
}

// fixedNames resolves names to fixed addresses; others do not resolve.
type fixedNames map[string]string

func (n fixedNames) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	a, ok := n[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return []netip.Addr{netip.MustParseAddr(a)}, nil
}

// TestSubscriptionSinkPolicy: a sink that is not https, or that is or resolves to an
// address inside the platform, is refused at create with InvalidEntity, unless a system
// administrator allowed its network (Options.Sinks).
func TestSubscriptionSinkPolicy(t *testing.T) {
	dns := fixedNames{"example.com": "93.184.215.14", "loop.example.com": "127.0.0.1", "inside.example.com": "10.0.0.5"}
	cases := []struct {
		sink            string
		refused, opened bool // refused by default; refused with 127.0.0.0/8 and 10.0.0.0/8 allowed
	}{
		{"https://example.com/hook", false, false},
		{"http://example.com/hook", true, true},
		{"https://127.0.0.1/hook", true, false},
		{"http://127.0.0.1:9/hook", true, false},
		{"https://10.1.2.3/hook", true, false},
		{"https://169.254.169.254/latest/meta-data/", true, true},
		{"https://[::1]/hook", true, true},
		{"https://localhost/hook", true, true}, // it is ::1 too, not in 127.0.0.0/8
		{"https://loop.example.com/hook", true, false},
		{"https://inside.example.com/hook", true, false},
	}
	allow, err := egress.ParsePrefixes([]string{"127.0.0.0/8", "10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*egress.Policy{"default": {Resolver: dns}, "opened": {Resolver: dns, Allow: allow}} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(o *gateway.Options) { o.Sinks = p })
			for _, tc := range cases {
				_, err := h.invoke(t, sys, m("Subscriptions", "CreateSubscription"), &pb.CreateSubscriptionRequest{
					Spec: &pb.SubscriptionSpec{Sink: tc.sink}})
				want := tc.refused
				if name == "opened" {
					want = tc.opened
				}
				switch {
				case !want && err != nil:
					t.Errorf("%s: %v", tc.sink, err)
				case want && (status.Code(err) != codes.InvalidArgument || errs.FromStatus(status.Convert(err)).Code != errs.CodeInvalidEntity ||
					!strings.Contains(err.Error(), "refused")):
					t.Errorf("%s: %v, want InvalidEntity saying it is refused", tc.sink, err)
				}
			}
		})
	}
}
