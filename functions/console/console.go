// Package console gets a VM's console (MKS) ticket from its host and puts it in the task's
// resourceProperties, where Photon's clients read it (GET_MKS_TICKET).
//
// Consumes: io.photon.vm.mks_ticket.authorized.
// Emits: io.photon.vm.mks_ticket.ticket.acquired.
// Undoes: nothing (it changes nothing). Idempotency: a replay asks for a fresh ticket,
// which replaces the one in the task.
package console

import (
	"context"
	"strconv"

	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Function is the console step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
}

// New returns the console function.
func New(s *store.Store, hosts *hostclient.Pool) *Function { return &Function{store: s, hosts: hosts} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "console" }

// Do acquires the ticket and records it in the task.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	var t *hostdv1.MksTicket
	placed, err := f.hosts.OnVMHost(ctx, c.Data.EntityID, "get console ticket", func(h hostdv1.HostClient, _ model.HostReservation) error {
		var err error
		t, err = h.GetMksTicket(ctx, &hostdv1.VmRef{VmId: c.Data.EntityID})
		return err
	})
	if err != nil {
		return err
	}
	if !placed {
		return errs.New(errs.CodeStateError, "Vm #%s is on no host", c.Data.EntityID)
	}
	_, err = f.store.UpdateTask(ctx, c.Task.ID, func(task *model.Task) error {
		if task.Properties == nil {
			task.Properties = map[string]string{}
		}
		task.Properties["ticket"], task.Properties["host"] = t.GetTicket(), t.GetHost()
		task.Properties["port"] = strconv.Itoa(int(t.GetPort()))
		task.Properties["sslThumbprint"], task.Properties["cfgFile"] = t.GetSslThumbprint(), t.GetCfgFile()
		return nil
	})
	return err
}

// Undo has nothing to undo.
func (f *Function) Undo(context.Context, *runtime.Call) error { return nil }
