package wiresubnet_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// connectNetworks is CONNECT_NETWORKS's index in the create chain.
const connectNetworks = 5

// subnets writes two port-group subnets: sn-a on the hosts' port group, sn-b on one the
// hosts lack; vm-0 already holds an address on sn-a.
func subnets(t *testing.T, e *steptest.Env) {
	t.Helper()
	e.Subnet(t, &model.Subnet{ID: "sn-a", Name: "a", PrivateIPCIDR: "10.0.0.0/24", PortGroups: []string{steptest.PortGroup}, State: model.NetReady})
	e.Subnet(t, &model.Subnet{ID: "sn-b", Name: "b", PrivateIPCIDR: "10.0.1.0/24", PortGroups: []string{"Other PG"}, State: model.NetReady})
	if _, err := e.Store.AllocateIP(t.Context(), "sn-a", "vm-0/nic-0"); err != nil {
		t.Fatal(err)
	}
}

func connected(t *testing.T, e *steptest.Env, subnet string) int {
	t.Helper()
	n, _, err := e.Store.SubnetUsage(t.Context(), subnet)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// nic is a NIC as the test compares it.
func nic(n model.Nic) string { return strings.Join([]string{n.ID, n.Network, n.MAC, n.IP}, " ") }

// TestWire: one NIC per subnet the VM names (else the default, else the host's port
// group), each with an address from its subnet and a port group the host has when the
// subnet names one; a refusal fails the chain, a busy host is retried, a subnet that does
// not exist is refused before anything is made.
func TestWire(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		subnets    []string
		dflt       string // system default subnet
		err        error
		want       string
		wantCalls  []string // AddNic networks
		wantNics   []string
		wantUsageA int
	}{
		{name: "no subnet", want: steptest.Done, wantCalls: []string{steptest.PortGroup},
			wantNics: []string{"nic-0 VM Network " + steptest.MAC("nic-0") + " "}, wantUsageA: 1},
		// .1 is the gateway and vm-0 holds 10.0.0.2.
		{name: "named subnets", subnets: []string{"sn-a", "sn-b"}, want: steptest.Done,
			wantCalls:  []string{steptest.PortGroup, "Other PG"},
			wantNics:   []string{"nic-0 sn-a " + steptest.MAC("nic-0") + " 10.0.0.3", "nic-1 sn-b " + steptest.MAC("nic-1") + " 10.0.1.2"},
			wantUsageA: 2},
		{name: "default subnet", dflt: "sn-b", want: steptest.Done, wantCalls: []string{"Other PG"},
			wantNics: []string{"nic-0 sn-b " + steptest.MAC("nic-0") + " 10.0.1.2"}, wantUsageA: 1},
		{name: "missing subnet", subnets: []string{"sn-x"}, want: steptest.Failed(errs.CodeInvalidEntity), wantUsageA: 1},
		{name: "host refuses", subnets: []string{"sn-a"}, err: steptest.Refused, want: steptest.Failed(errs.CodeHostError),
			wantCalls: []string{steptest.PortGroup}, wantUsageA: 2},
		{name: "host busy", subnets: []string{"sn-a"}, err: steptest.Busy, want: steptest.Retry,
			wantCalls: []string{steptest.PortGroup}, wantUsageA: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			subnets(t, e)
			if tc.dflt != "" {
				sn, err := store.Get[model.Subnet](t.Context(), e.Store, model.KindSubnet, tc.dflt)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Store.SetDefaultSubnet(t.Context(), sn, e.NewTask(&events.SubnetCreate, tc.dflt, steptest.Root, nil)); err != nil {
					t.Fatal(err)
				}
			}
			task := e.NewTask(&events.VMCreate, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMCreating, Subnets: tc.subnets}, task)
			e.Place(t, "vm-1", h)
			h.Fail("AddNic", tc.err)
			reply, err := e.Do(t, &events.VMCreate, task, connectNetworks)
			if got := e.Outcome(t, &events.VMCreate, task, connectNetworks, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			var calls []string
			for _, c := range h.Calls() {
				calls = append(calls, c.Request.(*hostdv1.AddNicRequest).GetNetwork())
			}
			if !slices.Equal(calls, tc.wantCalls) {
				t.Fatalf("AddNic on %v, want %v (calls %v)", calls, tc.wantCalls, h.Methods())
			}
			var nics []string
			for _, n := range e.GetVM(t, "vm-1").Nics {
				nics = append(nics, nic(n))
			}
			if !slices.Equal(nics, tc.wantNics) {
				t.Fatalf("NICs %q, want %q", nics, tc.wantNics)
			}
			if got := connected(t, e, "sn-a"); got != tc.wantUsageA {
				t.Fatalf("sn-a has %d NICs, want %d", got, tc.wantUsageA)
			}
			if tc.want == steptest.Done {
				h.Forget()
				e.MustDo(t, &events.VMCreate, task, connectNetworks)
				if got := h.Methods(); len(got) != 0 {
					t.Fatalf("replay called the host: %v", got)
				}
			}
		})
	}
}

// TestUnwire: the create's undo removes the NICs the step added from the host and gives
// their addresses back; the delete chain's last step (the VM is gone from its host) gives
// the addresses back without asking the host, and the VM's record goes. A VM no longer on
// its host has no NICs to remove: its undo gives the addresses back all the same. vm-0's
// address stays either way.
func TestUnwire(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		delete    bool
		gone      bool // the VM left its host (a lost host) before the undo
		wantCalls []string
	}{
		{"undo of a create", false, false, []string{"RemoveNic nic-0", "RemoveNic nic-1"}},
		{"undo of a create whose VM left its host", false, true, []string{"RemoveNic nic-0", "RemoveNic nic-1"}},
		{"delete", true, false, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			subnets(t, e)
			task := e.NewTask(&events.VMCreate, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMCreating, Subnets: []string{"sn-a", "sn-b"}}, task)
			e.Place(t, "vm-1", h)
			e.MustDo(t, &events.VMCreate, task, connectNetworks)
			h.Forget()
			if tc.gone {
				h.Fail("RemoveNic", status.Error(codes.NotFound, "VM vm-1 not found on this host"))
			}
			if tc.delete {
				del := e.NewTask(&events.VMDelete, "vm-1", steptest.Root, nil)
				if _, err := store.StartTask(t.Context(), e.Store, model.KindVM, "vm-1", del, func(v *model.VM) error {
					v.ActiveTask, v.State = del.ID, model.VMDeleting
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				e.MustDo(t, &events.VMDelete, del, len(events.VMDelete.Steps)-1) // the last step
				if _, err := store.Get[model.VM](t.Context(), e.Store, model.KindVM, "vm-1"); !errors.Is(err, errs.ErrNotFound) {
					t.Fatalf("VM still there: %v", err)
				}
			} else {
				for range 2 { // the second is a replay
					if _, err := e.Undo(t, &events.VMCreate, task, connectNetworks, errs.New(errs.CodeHostError, "later step failed")); err != nil {
						t.Fatal(err)
					}
				}
				if nics := e.GetVM(t, "vm-1").Nics; len(nics) != 0 {
					t.Fatalf("NICs left: %v", nics)
				}
			}
			var calls []string
			for _, c := range h.Calls() {
				calls = append(calls, c.Method+" "+c.Request.(*hostdv1.RemoveNicRequest).GetNicId())
			}
			if !slices.Equal(calls, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", calls, tc.wantCalls)
			}
			if a, b := connected(t, e, "sn-a"), connected(t, e, "sn-b"); a != 1 || b != 0 {
				t.Fatalf("NICs left on sn-a %d (want vm-0's), sn-b %d", a, b)
			}
		})
	}
}
