package vmrules

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Task properties of a floating IP acquire: the pool subnet and the NIC it maps to.
const (
	PropFloatingPool = "floatingSubnet"
	PropFloatingNic  = "floatingNic"
)

// FloatingOwner is who holds a VM's floating IP in its pool's address table.
func FloatingOwner(vmID string) string { return vmID + "/floating-ip" }

// FloatingPool is the subnet floating IPs are taken from: the system's default subnet
// (a port-group subnet, which system administrators make and own), which needs a
// privateIpCidr for Photon to hand out its addresses.
func FloatingPool(ctx context.Context, s *store.Store) (*model.Subnet, error) {
	id, err := s.DefaultSubnet(ctx, model.SystemScope)
	if err != nil {
		return nil, err
	}
	none := errs.New(errs.CodeStateError, "there is no floating IP pool: a system administrator makes one with POST /v1/subnets "+
		"{name, portGroups, privateIpCidr} and POST /v1/subnets/{id}/set_default")
	if id == "" {
		return nil, none
	}
	sn, err := store.Get[model.Subnet](ctx, s, model.KindSubnet, id)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return nil, none
	case err != nil:
		return nil, err
	case sn.PrivateIPCIDR == "":
		return nil, none.WithData("subnet", sn.ID)
	case sn.State != model.NetReady:
		return nil, errs.New(errs.CodeStateError, "the floating IP pool, Subnet #%s, is %s", sn.ID, sn.State)
	}
	return sn, nil
}

// FloatingNic is the NIC of vm a floating IP maps to: the one on network (a subnet's id,
// or a router's: the SDK's network) or, when network is "", the first with an address;
// with the subnet it is on (nil for a NIC on no subnet of Photon's).
func FloatingNic(ctx context.Context, s *store.Store, vm *model.VM, network string) (model.Nic, *model.Subnet, error) {
	for _, n := range vm.Nics {
		if n.IP == "" {
			continue
		}
		sn, err := store.Get[model.Subnet](ctx, s, model.KindSubnet, n.Network)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return model.Nic{}, nil, err
		}
		if network == "" || n.Network == network || (sn != nil && sn.RouterID == network) {
			return n, sn, nil
		}
	}
	if network != "" {
		return model.Nic{}, nil, errs.Invalid("Vm #%s has no NIC with an address on network %s", vm.ID, network).WithData("field", "networkId")
	}
	return model.Nic{}, nil, errs.New(errs.CodeStateError, "Vm #%s has no NIC with an address to map a floating IP to", vm.ID)
}
