package logicalrouter_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestCreateRouter: a router's create makes its logical router once however often the
// event comes, records it on the router, and the chain's end makes the router READY; an
// NSX that is down is retried, one that refuses fails the chain. Without NSX a router is
// an address space only.
func TestCreateRouter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		noNSX       bool
		status      int
		want        string
		wantRouters int // besides r-0's
		wantState   string
	}{
		{name: "makes the router", want: steptest.Done, wantRouters: 1, wantState: model.NetReady},
		{name: "without NSX", noNSX: true, want: steptest.Done, wantState: model.NetReady},
		{name: "NSX down", status: http.StatusServiceUnavailable, want: steptest.Retry, wantState: model.NetCreating},
		{name: "NSX refuses", status: http.StatusBadRequest, want: steptest.Failed(errs.CodeInternal), wantState: model.NetCreating},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, client := steptest.NSX(t)
			var opts []functions.Option
			if !tc.noNSX {
				opts = append(opts, functions.WithNSX(client))
			}
			e := steptest.New(t, opts...)
			if _, err := client.EnsureRouter(t.Context(), "r-0", "r-0"); err != nil {
				t.Fatal(err)
			}
			task := e.NewTask(&events.RouterCreate, "r-1", steptest.Root, nil)
			e.Router(t, &model.Router{ID: "r-1", Name: "r-1", PrivateIPCIDR: "10.0.0.0/16", State: model.NetCreating}, task)
			if tc.status != 0 {
				sim.Fail(http.MethodPost, "/api/v1/logical-routers", tc.status)
			}
			for try := range 2 { // the second is a replay
				reply, err := e.Do(t, &events.RouterCreate, task, 1)
				if got := e.Outcome(t, &events.RouterCreate, task, 1, reply, err); got != tc.want {
					t.Fatalf("try %d: outcome %s, want %s", try, got, tc.want)
				}
				if got := sim.Counts().Routers; got != 1+tc.wantRouters {
					t.Fatalf("try %d: %d routers, want %d", try, got, 1+tc.wantRouters)
				}
			}
			r, err := store.Get[model.Router](t.Context(), e.Store, model.KindRouter, "r-1")
			if err != nil {
				t.Fatal(err)
			}
			if r.State != tc.wantState || (r.NSXID != "") != (tc.wantRouters == 1) {
				t.Fatalf("router %s with NSX id %q, want %s", r.State, r.NSXID, tc.wantState)
			}
		})
	}
}

// TestDeleteRouter: the create's undo and the router's delete remove its logical router
// and no other; the delete's end removes the router.
func TestDeleteRouter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		del  bool
	}{{"undo of a create", false}, {"delete", true}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, client := steptest.NSX(t)
			e := steptest.New(t, functions.WithNSX(client))
			for _, id := range []string{"r-0", "r-1"} {
				if _, err := client.EnsureRouter(t.Context(), id, id); err != nil {
					t.Fatal(err)
				}
			}
			r := &model.Router{ID: "r-1", Name: "r-1", PrivateIPCIDR: "10.0.0.0/16", State: model.NetCreating}
			if tc.del {
				e.Router(t, r, nil)
				dt := e.NewTask(&events.RouterDelete, "r-1", steptest.Root, nil)
				if _, err := e.Store.StartRouterDelete(t.Context(), "r-1", dt); err != nil {
					t.Fatal(err)
				}
				e.MustDo(t, &events.RouterDelete, dt, 1)
				if _, err := store.Get[model.Router](t.Context(), e.Store, model.KindRouter, "r-1"); !errors.Is(err, errs.ErrNotFound) {
					t.Fatalf("router still there: %v", err)
				}
			} else {
				task := e.NewTask(&events.RouterCreate, "r-1", steptest.Root, nil)
				e.Router(t, r, task)
				for range 2 { // the second is a replay
					if _, err := e.Undo(t, &events.RouterCreate, task, 1, errs.New(errs.CodeInternal, "failed")); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := sim.Counts().Routers; got != 1 {
				t.Fatalf("%d routers, want r-0's alone", got)
			}
		})
	}
}

// TestConnect: a subnet's create connects its switch to its router's logical router
// (a downlink port answering on the subnet's gateway address) and the chain's end makes
// the subnet READY; a router without a logical router cannot take it. The undo
// disconnects it again.
func TestConnect(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		noRouter  bool // the router has no logical router
		want      string
		wantPorts int
		wantState string
	}{
		{"connects", false, steptest.Done, 1, model.NetReady},
		{"router without a logical router", true, steptest.Failed(errs.CodeStateError), 0, model.NetCreating},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim, client := steptest.NSX(t)
			e := steptest.New(t, functions.WithNSX(client))
			r := &model.Router{ID: "r-1", Name: "r-1", PrivateIPCIDR: "10.0.0.0/16"}
			if !tc.noRouter {
				id, err := client.EnsureRouter(t.Context(), "r-1", "r-1")
				if err != nil {
					t.Fatal(err)
				}
				r.NSXID = id
			}
			e.Router(t, r, nil)
			sw, err := client.EnsureSwitch(t.Context(), "sn-1", "sn-1")
			if err != nil {
				t.Fatal(err)
			}
			task := e.NewTask(&events.SubnetCreate, "sn-1", steptest.Root, nil)
			e.RouterSubnet(t, &model.Subnet{ID: "sn-1", Name: "sn-1", RouterID: "r-1", PrivateIPCIDR: "10.0.1.0/24",
				State: model.NetCreating, SwitchID: sw}, task)
			for try := range 2 { // the second is a replay
				reply, err := e.Do(t, &events.SubnetCreate, task, 2)
				if got := e.Outcome(t, &events.SubnetCreate, task, 2, reply, err); got != tc.want {
					t.Fatalf("try %d: outcome %s, want %s", try, got, tc.want)
				}
				if got := sim.Counts(); got.RouterPorts != tc.wantPorts {
					t.Fatalf("try %d: %+v, want %d router ports", try, got, tc.wantPorts)
				}
			}
			sn, err := store.Get[model.Subnet](t.Context(), e.Store, model.KindSubnet, "sn-1")
			if err != nil {
				t.Fatal(err)
			}
			if sn.State != tc.wantState {
				t.Fatalf("subnet %s, want %s", sn.State, tc.wantState)
			}
			if tc.want != steptest.Done {
				return
			}
			if _, err := e.Undo(t, &events.SubnetCreate, task, 2, errs.New(errs.CodeInternal, "failed")); err != nil {
				t.Fatal(err)
			}
			if got := sim.Counts(); got.RouterPorts != 0 || got.Switches != 1 || got.Routers != 1 {
				t.Fatalf("after the undo: %+v, want the switch and the router alone", got)
			}
		})
	}
}
