// Package wiresubnet connects the VM to its networks: one NIC per subnet the VM names
// (else on its project's default subnet, else on the system's default subnet, else one
// NIC on the host's VM port group, with no subnet). For each subnet it takes an address
// from Photon's IPAM (store.AllocateIP), makes the NIC's NSX logical port on the subnet's
// logical switch when the subnet has one, has hostd add the NIC, and records
// {id, network (the subnet id), MAC, IP} on the VM.
//
// Consumes: io.photon.vm.create.disks.attached; undo: io.photon.vm.create.undo.wiresubnet;
// and, as the delete chain's last step, io.photon.vm.delete.quota.released.
// Emits: io.photon.vm.create.subnet.wired, io.photon.vm.delete.networks.disconnected.
// Undoes: the NICs on the host (create chain only: the delete chain has deleted the VM),
// the logical ports and the addresses.
// Idempotency: the subnets a VM goes on are recorded once (store.VMNets) before anything
// is made; a NIC has a fixed id per VM and index, so hostd adds it once; an address is
// allocated once per NIC; the logical port is found by the NIC's attachment id.
package wiresubnet

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/photon-cloud/photon/functions/runtime"
	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/hostclient"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/nsx"
	"github.com/photon-cloud/photon/shared/store"
)

// DefaultNetwork is the port group used when the host reports none.
const DefaultNetwork = "VM Network"

// Function is the wiresubnet step.
type Function struct {
	store *store.Store
	hosts *hostclient.Pool
	nsx   *nsx.Client
}

// New returns the wiresubnet function; n is nil when Photon runs without NSX (subnets are
// then port-group backed).
func New(s *store.Store, hosts *hostclient.Pool, n *nsx.Client) *Function {
	return &Function{store: s, hosts: hosts, nsx: n}
}

// Name implements runtime.Function.
func (f *Function) Name() string { return "wiresubnet" }

// NicID is the id of the VM's i-th NIC.
func NicID(i int) string { return fmt.Sprintf("nic-%d", i) }

// Owner is who holds the address of a VM's NIC in its subnet's address table.
func Owner(vmID, nicID string) string { return vmID + "/" + nicID }

// Attachment is the NSX VIF attachment id of a VM's NIC: unique across VMs, as NSX needs.
func Attachment(vmID, nicID string) string { return vmID + "-" + nicID }

// Do adds the NICs and records them on the VM.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, c.Data.EntityID)
	if err != nil {
		return err
	}
	h, r, ok, err := f.hosts.ForVM(ctx, vm.ID)
	if err != nil || !ok {
		return err
	}
	host, err := f.store.GetHost(ctx, r.HostID)
	if err != nil {
		return err
	}
	plan, err := f.plan(ctx, vm)
	if err != nil {
		return err
	}
	nets, err := f.store.VMNets(ctx, vm.ID, plan) // a replay keeps the first decision
	if err != nil {
		return err
	}
	nics := make([]model.Nic, 0, len(nets))
	for i, subnet := range nets {
		nic, network, err := f.connect(ctx, vm, host, NicID(i), subnet)
		if err != nil {
			return err
		}
		info, err := h.AddNic(ctx, &hostdv1.AddNicRequest{VmId: vm.ID, NicId: nic.ID, Network: network})
		if err != nil {
			return hostclient.Err(fmt.Sprintf("add NIC on host %s", r.HostID), err)
		}
		for _, n := range info.GetNics() {
			if n.GetId() == nic.ID {
				nic.MAC = n.GetMacAddress()
			}
		}
		nics = append(nics, nic)
	}
	_, err = store.Update(ctx, f.store, model.KindVM, vm.ID, func(v *model.VM) error {
		v.Nics = nics
		return nil
	})
	return err
}

// plan lists the subnets of the VM's NICs: those it names, else a default, else one NIC
// on no subnet (""). A subnet the VM names must still be one it may use
// (vmrules.SubnetUsable), as the gateway checked.
func (f *Function) plan(ctx context.Context, vm *model.VM) ([]string, error) {
	if len(vm.Subnets) == 0 {
		for _, scope := range []string{vm.ProjectID, model.SystemScope} {
			id, err := f.store.DefaultSubnet(ctx, scope)
			if err != nil || id != "" {
				return []string{id}, err
			}
		}
		return []string{""}, nil
	}
	for _, id := range vm.Subnets {
		ok, err := vmrules.SubnetUsable(ctx, f.store, vm.ProjectID, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errs.Invalid("subnet %q not found", id).WithData("subnet", id)
		}
	}
	return slices.Clone(vm.Subnets), nil
}

// connect readies the NIC nicID on subnet (none when ""): its address and its logical
// port. It returns the NIC as it will be recorded and the port group hostd attaches it to.
//
// A NIC on an NSX subnet belongs on the opaque network NSX backs the switch with. vcsim
// has no NSX opaque networks, and hostd's AddNic takes a port group name, so the NIC goes
// on the host's VM port group while its logical port (VIF attachment id = the NIC's
// attachment id) stands for the connection on NSX; on real NSX-T the attachment binds
// the two once the NIC is on the opaque network.
func (f *Function) connect(ctx context.Context, vm *model.VM, host *model.Host, nicID, subnet string) (model.Nic, string, error) {
	portGroup := DefaultNetwork
	if len(host.Networks) > 0 {
		portGroup = host.Networks[0]
	}
	nic := model.Nic{ID: nicID, Network: portGroup}
	if subnet == "" {
		return nic, portGroup, nil
	}
	sn, err := store.Get[model.Subnet](ctx, f.store, model.KindSubnet, subnet)
	if err != nil {
		return nic, "", err
	}
	if sn.State != model.NetReady {
		return nic, "", errs.New(errs.CodeStateError, "Subnet #%s is %s", sn.ID, sn.State)
	}
	owner := Owner(vm.ID, nicID)
	if nic.IP, err = f.store.AllocateIP(ctx, sn.ID, owner); err != nil {
		return nic, "", err
	}
	nic.Network = sn.ID
	if sn.SwitchID != "" && f.nsx != nil {
		port, err := f.nsx.EnsurePort(ctx, Attachment(vm.ID, nicID), sn.SwitchID, vm.ID)
		if err != nil {
			return nic, "", fmt.Errorf("logical port of %s on subnet %s: %w", nicID, sn.ID, err)
		}
		if err := f.store.SetPort(ctx, sn.ID, owner, port); err != nil {
			return nic, "", err
		}
		return nic, portGroup, nil
	}
	for _, pg := range sn.PortGroups {
		if slices.Contains(host.Networks, pg) {
			return nic, pg, nil
		}
	}
	if len(sn.PortGroups) > 0 {
		return nic, sn.PortGroups[0], nil // hostd reports that the host lacks it
	}
	return nic, portGroup, nil
}

// Undo removes the NICs from the host (in the create chain), then their logical ports and
// addresses, and forgets them.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	vmID := c.Data.EntityID
	nets, err := f.store.VMNets(ctx, vmID, nil)
	if err != nil {
		return err
	}
	if c.Chain.Name == domain.VMCreate {
		for i := range max(len(nets), 1) { // a VM from before subnets has nic-0 only
			_, err := f.hosts.OnVMHost(ctx, vmID, "remove NIC", func(h hostdv1.HostClient, _ model.HostReservation) error {
				_, err := h.RemoveNic(ctx, &hostdv1.RemoveNicRequest{VmId: vmID, NicId: NicID(i)})
				if hostclient.VMGone(err) {
					return nil // its NICs went with it
				}
				return err
			})
			if err != nil {
				return err
			}
		}
	}
	for i, subnet := range nets {
		if subnet == "" {
			continue
		}
		if f.nsx != nil {
			if err := f.nsx.DeletePort(ctx, Attachment(vmID, NicID(i))); err != nil {
				return fmt.Errorf("delete logical port of %s on subnet %s: %w", NicID(i), subnet, err)
			}
		}
		if _, err := f.store.ReleaseIP(ctx, subnet, Owner(vmID, NicID(i))); err != nil {
			return err
		}
	}
	_, err = store.Update(ctx, f.store, model.KindVM, vmID, func(v *model.VM) error {
		if len(v.Nics) == 0 {
			return store.ErrNoChange
		}
		v.Nics = nil
		return nil
	})
	if err != nil && !errors.Is(err, errs.ErrNotFound) {
		return err
	}
	return f.store.ForgetVMNets(ctx, vmID)
}
