package steptest_test

import (
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/model"
)

// TestHostIdentity: a step's call goes to the host its VM is placed on, checked by that
// host's certificate. A host whose record names another host's address (a stale or
// forged registration) is never called: the call fails as transient, the other host
// records nothing, and the step is retried.
func TestHostIdentity(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		forged    bool
		want      string
		wantCalls int
	}{
		{"the host itself", false, steptest.Done, 1},
		{"another host's address", true, steptest.Retry, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h1, h2 := e.AddHost(t, "host-1"), e.AddHost(t, "host-2")
			if tc.forged {
				if _, err := e.Store.UpdateHost(t.Context(), h2.ID, func(h *model.Host) error {
					h.Address = h1.Addr
					return nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			task := e.NewTask(&events.VMStart, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMStopped}, task)
			e.Place(t, "vm-1", h2)
			h2.PutVM("vm-1", "poweredOff")
			reply, err := e.Do(t, &events.VMStart, task, 1)
			if got := e.Outcome(t, &events.VMStart, task, 1, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if n := len(h1.Calls()); n != 0 {
				t.Fatalf("host-1 served %d calls for host-2's VM", n)
			}
			if n := len(h2.Calls()); n != tc.wantCalls {
				t.Fatalf("host-2 served %d calls, want %d", n, tc.wantCalls)
			}
		})
	}
}
