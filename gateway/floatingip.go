package gateway

import (
	"context"
	"strings"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// AcquireFloatingIp starts ACQUIRE_FLOATING_IP on a VM that has no floating IP: the pool
// and the NIC are chosen here (vmrules.FloatingPool, FloatingNic) and carried by the task;
// the chain charges the quota and the floatingip function does the rest.
func (s *vms) AcquireFloatingIp(ctx context.Context, req *pb.AcquireFloatingIpRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		vm, err := s.vm(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		pool, err := vmrules.FloatingPool(ctx, s.store)
		if err != nil {
			return nil, err
		}
		nic, _, err := vmrules.FloatingNic(ctx, s.store, vm, strings.TrimSpace(req.GetSpec().GetNetworkId()))
		if err != nil {
			return nil, err
		}
		chain := &events.VMAcquireFloatingIP
		props := map[string]string{vmrules.PropFloatingPool: pool.ID, vmrules.PropFloatingNic: nic.ID}
		return startOn(ctx, s.core, chain, model.KindVM, vm.ID, vm.TenantID, vm.ProjectID, props, func(v *model.VM, task *model.Task) error {
			if v.FloatingSubnet != "" {
				return errs.New(errs.CodeStateError, "Vm #%s has floating IP %s already", v.ID, v.FloatingIP)
			}
			return hold(v, task, chain)
		})
	})
}

// ReleaseFloatingIp starts RELEASE_FLOATING_IP on a VM that has a floating IP.
func (s *vms) ReleaseFloatingIp(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		vm, err := s.vm(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		chain := &events.VMReleaseFloatingIP
		return startOn(ctx, s.core, chain, model.KindVM, vm.ID, vm.TenantID, vm.ProjectID, nil, func(v *model.VM, task *model.Task) error {
			if v.FloatingSubnet == "" {
				return errs.New(errs.CodeStateError, "Vm #%s has no floating IP", v.ID)
			}
			return hold(v, task, chain)
		})
	})
}
