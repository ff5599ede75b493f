package gateway_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
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
