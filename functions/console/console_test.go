package console_test

import (
	"maps"
	"slices"
	"testing"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// TestConsole: the ticket the VM's host hands out is put in the task's properties, where
// clients read it; without a ticket the task carries none.
func TestConsole(t *testing.T) {
	t.Parallel()
	ticket := map[string]string{"ticket": steptest.Ticket.Ticket, "host": steptest.Ticket.Host, "port": "902",
		"sslThumbprint": steptest.Ticket.SslThumbprint, "cfgFile": steptest.Ticket.CfgFile}
	cases := []struct {
		name      string
		placed    bool
		err       error
		want      string
		wantCalls []string
		wantProps map[string]string
	}{
		{"ticket", true, nil, steptest.Done, []string{"GetMksTicket"}, ticket},
		{"host refuses", true, steptest.Refused, steptest.Failed(errs.CodeHostError), []string{"GetMksTicket"}, nil},
		{"host busy", true, steptest.Busy, steptest.Retry, []string{"GetMksTicket"}, nil},
		{"VM on no host", false, nil, steptest.Failed(errs.CodeStateError), nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := steptest.New(t)
			h := e.AddHost(t, "host-1")
			task := e.NewTask(&events.VMMksTicket, "vm-1", steptest.Root, nil)
			e.VM(t, &model.VM{ID: "vm-1", Name: "vm-1", State: model.VMStarted}, task)
			if tc.placed {
				e.Place(t, "vm-1", h)
				h.PutVM("vm-1", "poweredOn")
			}
			h.Fail("GetMksTicket", tc.err)
			reply, err := e.Do(t, &events.VMMksTicket, task, 1)
			if got := e.Outcome(t, &events.VMMksTicket, task, 1, reply, err); got != tc.want {
				t.Fatalf("outcome %s, want %s", got, tc.want)
			}
			if got := h.Methods(); !slices.Equal(got, tc.wantCalls) {
				t.Fatalf("host calls %v, want %v", got, tc.wantCalls)
			}
			if got := e.Task(t, task.ID).Properties; !maps.Equal(got, tc.wantProps) {
				t.Fatalf("task properties %v, want %v", got, tc.wantProps)
			}
			if got := e.GetVM(t, "vm-1"); got.State != model.VMStarted {
				t.Fatalf("VM %s", got.State)
			}
			if tc.want == steptest.Done {
				h.Forget()
				e.MustDo(t, &events.VMMksTicket, task, 1)
				if got := h.Methods(); len(got) != 0 {
					t.Fatalf("replay called the host: %v", got)
				}
			}
		})
	}
}
