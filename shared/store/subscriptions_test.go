package store_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

func TestSubscriptionValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sub  store.Subscription
		ok   bool
	}{
		{"http", store.Subscription{Sink: "http://127.0.0.1:8080/hook"}, true},
		{"https with types", store.Subscription{Sink: "https://hooks.example.com/x", Types: []string{"io.photon.vm.*", "io.photon.task.failed"}}, true},
		{"project scope", store.Subscription{Sink: "http://127.0.0.1/", TenantID: "t", ProjectID: "p"}, true},
		{"project without tenant", store.Subscription{Sink: "http://127.0.0.1/", ProjectID: "p"}, false},
		{"ftp", store.Subscription{Sink: "ftp://127.0.0.1/"}, false},
		{"relative", store.Subscription{Sink: "/hook"}, false},
		{"no host", store.Subscription{Sink: "http:///hook"}, false},
		{"userinfo", store.Subscription{Sink: "https://user:pw@example.com/"}, false},
		{"fragment", store.Subscription{Sink: "https://example.com/#x"}, false},
		{"not a url", store.Subscription{Sink: "http://[::1"}, false},
		{"star inside", store.Subscription{Sink: "http://127.0.0.1/", Types: []string{"io.*.vm"}}, false},
		{"empty type", store.Subscription{Sink: "http://127.0.0.1/", Types: []string{""}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sub.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("error %v is not invalid-entity", err)
			}
		})
	}
}

func TestSubscriptionWants(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		types         []string
		prefix, state string
		typ, subject  string
		want          bool
	}{
		{"no filter", nil, "", store.SubscriptionActive, "io.photon.vm.created", "vm1", true},
		{"exact", []string{"io.photon.vm.started"}, "", store.SubscriptionActive, "io.photon.vm.started", "vm1", true},
		{"exact other", []string{"io.photon.vm.started"}, "", store.SubscriptionActive, "io.photon.vm.stopped", "vm1", false},
		{"exact is not a prefix", []string{"io.photon.vm"}, "", store.SubscriptionActive, "io.photon.vm.started", "vm1", false},
		{"prefix", []string{"io.photon.task.*"}, "", store.SubscriptionActive, "io.photon.task.failed", "t1", true},
		{"prefix other", []string{"io.photon.task.*"}, "", store.SubscriptionActive, "io.photon.vm.error", "t1", false},
		{"subject prefix", nil, "vm-a", store.SubscriptionActive, "io.photon.vm.created", "vm-a7", true},
		{"subject prefix other", nil, "vm-a", store.SubscriptionActive, "io.photon.vm.created", "vm-b7", false},
		{"disabled", nil, "", store.SubscriptionDisabled, "io.photon.vm.created", "vm1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sub := store.Subscription{Types: tc.types, SubjectPrefix: tc.prefix, State: tc.state}
			if got := sub.Wants(tc.typ, tc.subject); got != tc.want {
				t.Fatalf("Wants(%q, %q) = %v, want %v", tc.typ, tc.subject, got, tc.want)
			}
		})
	}
}

func TestSubscriptions(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := open(t)
			ten, task := tenant(s, "acme")
			if err := s.CreateTenant(ctx, ten, task); err != nil {
				t.Fatal(err)
			}
			p := &model.Project{ID: "p1", TenantID: ten.ID, Name: "p1", CreatedAt: s.Now()}
			pt := s.NewTask("task-p1", "CREATE_PROJECT", model.Entity{ID: p.ID, Kind: model.KindProject}, model.Caller{}, nil)
			if err := s.CreateProject(ctx, p, pt); err != nil {
				t.Fatal(err)
			}
			v0, _ := s.Version(ctx, store.KindSubscription)
			subs := []*store.Subscription{
				{Sink: "http://127.0.0.1/system", Owner: model.Caller{Subject: "admin"}},
				{Sink: "http://127.0.0.1/tenant", TenantID: ten.ID},
				{Sink: "http://127.0.0.1/project", TenantID: ten.ID, ProjectID: p.ID, Types: []string{"io.photon.vm.*"}},
			}
			for _, sub := range subs {
				if err := s.CreateSubscription(ctx, sub, nil); err != nil {
					t.Fatal(err)
				}
				if sub.ID == "" || len(sub.Secret) != 64 || sub.State != store.SubscriptionActive || sub.CreatedAt == 0 {
					t.Fatalf("create did not fill in the subscription: %+v", sub)
				}
			}
			if v1, _ := s.Version(ctx, store.KindSubscription); v1 == v0 {
				t.Fatal("creating subscriptions did not change the version")
			}
			if err := s.CreateSubscription(ctx, &store.Subscription{Sink: "http://127.0.0.1/", TenantID: "nope"}, nil); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("subscription of a missing tenant: %v", err)
			}
			if err := s.CreateSubscription(ctx, &store.Subscription{Sink: "gopher://x"}, nil); !errors.Is(err, errs.ErrInvalid) {
				t.Fatalf("bad sink: %v", err)
			}
			got, err := s.GetSubscription(ctx, subs[2].ID)
			if err != nil || got.Secret != subs[2].Secret || got.Types[0] != "io.photon.vm.*" {
				t.Fatalf("get: %+v %v", got, err)
			}
			if got.Redacted().Secret != "" {
				t.Fatal("Redacted kept the secret")
			}
			count := func(page store.Page[store.Subscription], err error) int {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
				return len(page.Items)
			}
			lists := []struct {
				name string
				n    int
				want int
			}{
				{"all", count(s.ListSubscriptions(ctx, 0, "")), 3},
				{"tenant", count(s.ListTenantSubscriptions(ctx, ten.ID, 0, "")), 2},
				{"project", count(s.ListProjectSubscriptions(ctx, p.ID, 0, "")), 1},
			}
			for _, l := range lists {
				if l.n != l.want {
					t.Errorf("list %s: %d subscriptions, want %d", l.name, l.n, l.want)
				}
			}
			page, err := s.ListSubscriptions(ctx, 2, "")
			if err != nil || len(page.Items) != 2 || page.Next == "" {
				t.Fatalf("first page: %d items, next %q, %v", len(page.Items), page.Next, err)
			}

			// Dead letters: recorded, listed, replayed once.
			ev := json.RawMessage(`{"specversion":"1.0","id":"e1","type":"io.photon.vm.created","source":"/photon"}`)
			dl := &store.DeadLetter{SubscriptionID: subs[1].ID, Event: ev, Attempts: 3, LastError: "500", LastStatus: 500}
			if err := s.AddDeadLetter(ctx, dl); err != nil {
				t.Fatal(err)
			}
			dls, err := s.ListDeadLetters(ctx, subs[1].ID, 0, "")
			if err != nil || len(dls.Items) != 1 || dls.Items[0].ID != dl.ID || string(dls.Items[0].Event) != string(ev) {
				t.Fatalf("dead letters: %+v %v", dls.Items, err)
			}
			if err := s.ReplayDeadLetter(ctx, dl.ID); err != nil {
				t.Fatal(err)
			}
			if err := s.ReplayDeadLetter(ctx, dl.ID); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("second replay: %v", err)
			}
			msgs, err := s.Redis().XRange(ctx, s.ReplayStream(), "-", "+").Result()
			if err != nil || len(msgs) != 1 || msgs[0].Values["sub"] != subs[1].ID || msgs[0].Values["ce"] != string(ev) {
				t.Fatalf("replay stream: %+v %v", msgs, err)
			}
			if dls, _ := s.ListDeadLetters(ctx, subs[1].ID, 0, ""); len(dls.Items) != 0 {
				t.Fatalf("a replayed dead letter is still listed: %+v", dls.Items)
			}

			if err := s.DeleteSubscription(ctx, subs[2].ID, nil); err != nil {
				t.Fatal(err)
			}
			if _, err := s.GetSubscription(ctx, subs[2].ID); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("deleted subscription: %v", err)
			}
			if n := count(s.ListProjectSubscriptions(ctx, p.ID, 0, "")); n != 0 {
				t.Fatalf("deleted subscription still listed in its project: %d", n)
			}
			if err := s.DeleteSubscription(ctx, subs[2].ID, nil); !errors.Is(err, errs.ErrNotFound) {
				t.Fatalf("second delete: %v", err)
			}
		})
	}
}
