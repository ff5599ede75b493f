package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/notify"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestFeed tails the events stream: every reader gets what is appended while it reads, a
// reader that names the last event it saw gets what followed first, and a reader that
// goes away is dropped, the last one stopping the loop.
func TestFeed(t *testing.T) {
	rdb, prefix := storetest.Client(t), storetest.Prefix(t)
	stream := notify.EventsStream(prefix)
	add := func(n int, project string) string {
		ce, _ := json.Marshal(map[string]any{"id": fmt.Sprint(n), "type": "io.photon.vm.started", "tenantid": "t1", "projectid": project})
		id, err := rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: stream, Values: []any{"type", "io.photon.vm.started", "ce", ce}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	before := add(0, "p0") // before any reader: only a resume sees it
	f := notify.NewFeed(rdb, prefix, nil)
	ctxA, stopA := context.WithCancel(t.Context())
	a, err := f.Subscribe(ctxA, "")
	if err != nil {
		t.Fatal(err)
	}
	ctxB, stopB := context.WithCancel(t.Context())
	defer stopB()
	first := add(1, "p1")
	second := add(2, "p2")
	b, err := f.Subscribe(ctxB, first) // resumes after the first
	if err != nil {
		t.Fatal(err)
	}
	third := add(3, "p3")

	cases := []struct {
		name string
		ch   <-chan notify.FeedEvent
		want []string
	}{
		{"from now", a, []string{first, second, third}},
		{"resumed", b, []string{second, third}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i, want := range tc.want {
				select {
				case e := <-tc.ch:
					if e.ID != want || e.Type != "io.photon.vm.started" || e.TenantID != "t1" || e.ProjectID == "" || e.ID == before {
						t.Fatalf("event %d: %+v, want id %s", i, e, want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("event %d (%s) never came", i, want)
				}
			}
		})
	}
	stopA()
	for range a { // closed once the reader is dropped
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.Readers() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d readers after one left, want 1", f.Readers())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopB()
	for range b {
	}
	if n := f.Readers(); n != 0 {
		t.Fatalf("%d readers after both left", n)
	}
}
