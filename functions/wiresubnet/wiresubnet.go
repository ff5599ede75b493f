// Package wiresubnet connects the VM to its network: it adds a NIC on the host's VM port
// group and records the adapter's MAC address; its undo removes the NIC. (NSX-T logical
// ports and IP allocation join this step when subnets arrive.)
//
// Consumes: io.photon.vm.create.disks.attached; undo: io.photon.vm.create.undo.wiresubnet.
// Emits: io.photon.vm.create.subnet.wired.
// Undoes: the NIC. Idempotency: the NIC has a fixed id per VM, so hostd adds it once.
package wiresubnet

import (
	"context"
	"fmt"

	"github.com/photon-cloud/photon/functions/internal/hostclient"
	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/store"
)

// DefaultNetwork is the port group used when the host reports none.
const DefaultNetwork = "VM Network"

const nicID = "nic-0"

// Function is the wiresubnet step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
}

// New returns the wiresubnet function.
func New(s *store.Store, hosts *hostclient.Pool) *Function { return &Function{store: s, hosts: hosts} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "wiresubnet" }

// Do adds the NIC and records it on the VM.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	h, r, ok, err := f.hosts.ForVM(ctx, c.Data.EntityID)
	if err != nil || !ok {
		return err
	}
	host, err := f.store.GetHost(ctx, r.HostID)
	if err != nil {
		return err
	}
	network := DefaultNetwork
	if len(host.Networks) > 0 {
		network = host.Networks[0]
	}
	info, err := h.AddNic(ctx, &hostdv1.AddNicRequest{VmId: c.Data.EntityID, NicId: nicID, Network: network})
	if err != nil {
		return hostclient.Err(fmt.Sprintf("add NIC on host %s", r.HostID), err)
	}
	nic := store.Nic{ID: nicID, Network: network}
	for _, n := range info.GetNics() {
		if n.GetId() == nicID {
			nic.MAC = n.GetMacAddress()
		}
	}
	_, err = store.Update(ctx, f.store, store.KindVM, c.Data.EntityID, func(v *store.VM) error {
		v.Nics = []store.Nic{nic}
		return nil
	})
	return err
}

// Undo removes the NIC.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	_, err := f.hosts.OnVMHost(ctx, c.Data.EntityID, "remove NIC", func(h hostdv1.HostClient, _ store.HostReservation) error {
		_, err := h.RemoveNic(ctx, &hostdv1.RemoveNicRequest{VmId: c.Data.EntityID, NicId: nicID})
		return err
	})
	return err
}
