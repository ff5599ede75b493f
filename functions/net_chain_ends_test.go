package functions_test

import (
	"errors"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// TestNetChainEnds: what the router and subnet chains' ends make of their records
// (without NSX, so that every step does nothing but the end is reached). A completed
// create makes its entity READY, a completed delete removes it, a failed one leaves it
// ERROR; all release it.
func TestNetChainEnds(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		chain    *events.Chain
		complete bool   // else authorize refuses the caller
		want     string // state after, "" when the record is gone
	}{
		{"router create completes", &events.RouterCreate, true, model.NetReady},
		{"router create refused", &events.RouterCreate, false, model.NetError},
		{"router delete completes", &events.RouterDelete, true, ""},
		{"router delete refused", &events.RouterDelete, false, model.NetError},
		{"subnet create completes", &events.SubnetCreate, true, model.NetReady},
		{"subnet create refused", &events.SubnetCreate, false, model.NetError},
		{"subnet delete completes", &events.SubnetDelete, true, ""},
		{"subnet delete refused", &events.SubnetDelete, false, model.NetError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			caller := steptest.Root
			if !tc.complete {
				caller = steptest.Stranger
			}
			id := "r-1"
			if tc.chain.Kind == model.KindSubnet {
				id = "sn-1"
			}
			task := e.NewTask(tc.chain, id, caller, nil)
			router := &model.Router{ID: "r-1", Name: "r-1", PrivateIPCIDR: "10.0.0.0/16", State: model.NetCreating}
			subnet := &model.Subnet{ID: "sn-1", Name: "sn-1", RouterID: "r-1", PrivateIPCIDR: "10.0.1.0/24", State: model.NetCreating}
			var err error
			switch tc.chain {
			case &events.RouterCreate:
				e.Router(t, router, task)
			case &events.RouterDelete:
				e.Router(t, router, nil)
				_, err = e.Store.StartRouterDelete(t.Context(), id, task)
			case &events.SubnetCreate:
				e.Router(t, router, nil)
				e.RouterSubnet(t, subnet, task)
			case &events.SubnetDelete:
				e.Router(t, router, nil)
				e.RouterSubnet(t, subnet, nil)
				_, err = e.Store.StartSubnetDelete(t.Context(), id, task)
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.complete {
				for i := range tc.chain.Steps {
					e.MustDo(t, tc.chain, task, i)
				}
			} else {
				reply, err := e.Do(t, tc.chain, task, 0)
				if got := e.Outcome(t, tc.chain, task, 0, reply, err); got != steptest.Failed(errs.CodeAccessForbidden) {
					t.Fatalf("authorize: %s", got)
				}
			}
			var state, held string
			if tc.chain.Kind == model.KindRouter {
				var r *model.Router
				if r, err = store.Get[model.Router](t.Context(), e.Store, model.KindRouter, id); err == nil {
					state, held = r.State, r.ActiveTask
				}
			} else {
				var sn *model.Subnet
				if sn, err = store.Get[model.Subnet](t.Context(), e.Store, model.KindSubnet, id); err == nil {
					state, held = sn.State, sn.ActiveTask
				}
			}
			switch {
			case tc.want == "" && !errors.Is(err, errs.ErrNotFound):
				t.Fatalf("record still there: %v", err)
			case tc.want != "" && err != nil:
				t.Fatal(err)
			case state != tc.want || held != "":
				t.Fatalf("%s held by %q, want %s released", state, held, tc.want)
			}
			if tk := e.Task(t, task.ID); !tk.Done() {
				t.Fatalf("task %s", tk.State)
			}
		})
	}
}
