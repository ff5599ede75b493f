package logicalswitch_test

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

// TestCreateSwitch: a subnet's create makes its logical switch on NSX once however often
// the event comes, and records it on the subnet; an NSX that is down is retried, one that
// refuses fails the chain into the step's undo. Without NSX there is nothing to make.
func TestCreateSwitch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		noNSX        bool
		status       int // NSX's answer to the switch create, when it fails
		want         string
		wantSwitches int
	}{
		{name: "makes the switch", want: steptest.Done, wantSwitches: 2},
		{name: "without NSX", noNSX: true, want: steptest.Done, wantSwitches: 1},
		{name: "NSX down", status: http.StatusServiceUnavailable, want: steptest.Retry, wantSwitches: 1},
		{name: "NSX refuses", status: http.StatusBadRequest, want: steptest.Failed(errs.CodeInternal), wantSwitches: 1},
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
			// Another subnet's switch, which nothing here may touch.
			if _, err := client.EnsureSwitch(t.Context(), "sn-0", "sn-0"); err != nil {
				t.Fatal(err)
			}
			e.Router(t, &model.Router{ID: "r-1", Name: "r-1", PrivateIPCIDR: "10.0.0.0/16"}, nil)
			task := e.NewTask(&events.SubnetCreate, "sn-1", steptest.Root, nil)
			e.RouterSubnet(t, &model.Subnet{ID: "sn-1", Name: "sn-1", RouterID: "r-1", PrivateIPCIDR: "10.0.1.0/24", State: model.NetCreating}, task)
			if tc.status != 0 {
				sim.Fail(http.MethodPost, "/api/v1/logical-switches", tc.status)
			}
			for try := range 2 { // the second is a replay
				reply, err := e.Do(t, &events.SubnetCreate, task, 1)
				if got := e.Outcome(t, &events.SubnetCreate, task, 1, reply, err); got != tc.want {
					t.Fatalf("try %d: outcome %s, want %s", try, got, tc.want)
				}
				if got := sim.Counts().Switches; got != tc.wantSwitches {
					t.Fatalf("try %d: %d switches, want %d", try, got, tc.wantSwitches)
				}
			}
			sn, err := store.Get[model.Subnet](t.Context(), e.Store, model.KindSubnet, "sn-1")
			if err != nil {
				t.Fatal(err)
			}
			if made := sn.SwitchID != ""; made != (tc.want == steptest.Done && !tc.noNSX) {
				t.Fatalf("subnet's switch %q after %s", sn.SwitchID, tc.want)
			}
		})
	}
}

// TestDeleteSwitch: the create's undo and the delete chain's last step delete the
// subnet's switch and no other; the delete's end removes the subnet.
func TestDeleteSwitch(t *testing.T) {
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
			if _, err := client.EnsureSwitch(t.Context(), "sn-0", "sn-0"); err != nil {
				t.Fatal(err)
			}
			e.Router(t, &model.Router{ID: "r-1", Name: "r-1", PrivateIPCIDR: "10.0.0.0/16"}, nil)
			sn := &model.Subnet{ID: "sn-1", Name: "sn-1", RouterID: "r-1", PrivateIPCIDR: "10.0.1.0/24", State: model.NetCreating}
			if tc.del {
				// A subnet its create made, then released.
				if _, err := client.EnsureSwitch(t.Context(), "sn-1", "sn-1"); err != nil {
					t.Fatal(err)
				}
				e.RouterSubnet(t, sn, nil)
				dt := e.NewTask(&events.SubnetDelete, "sn-1", steptest.Root, nil)
				if _, err := e.Store.StartSubnetDelete(t.Context(), "sn-1", dt); err != nil {
					t.Fatal(err)
				}
				e.MustDo(t, &events.SubnetDelete, dt, 2)
				if _, err := store.Get[model.Subnet](t.Context(), e.Store, model.KindSubnet, "sn-1"); !errors.Is(err, errs.ErrNotFound) {
					t.Fatalf("subnet still there: %v", err)
				}
			} else {
				task := e.NewTask(&events.SubnetCreate, "sn-1", steptest.Root, nil)
				e.RouterSubnet(t, sn, task)
				e.MustDo(t, &events.SubnetCreate, task, 1)
				for range 2 { // the second is a replay
					if _, err := e.Undo(t, &events.SubnetCreate, task, 1, errs.New(errs.CodeInternal, "later step failed")); err != nil {
						t.Fatal(err)
					}
				}
			}
			if got := sim.Counts().Switches; got != 1 {
				t.Fatalf("%d switches, want sn-0's alone", got)
			}
		})
	}
}
