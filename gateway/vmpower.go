package gateway

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// ResizeVm starts a resize to the flavor vmrules.Resize accepts, with the new size and cost.
func (s *vms) ResizeVm(ctx context.Context, req *pb.ResizeVmRequest) (*pb.Task, error) {
	vm, err := s.vm(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	r, err := vmrules.Resize(ctx, s.store, vm, req.GetSpec().GetFlavor())
	if err != nil {
		return nil, err
	}
	return s.vmOp(ctx, &events.VMResize, vm.ID, r.Props())
}

func (s *vms) GetMksTicket(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.vmOp(ctx, &events.VMMksTicket, req.GetId(), nil)
}

func (s *vms) StartVm(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.vmOp(ctx, &events.VMStart, req.GetId(), nil)
}

func (s *vms) StopVm(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.vmOp(ctx, &events.VMStop, req.GetId(), nil)
}

func (s *vms) RestartVm(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.vmOp(ctx, &events.VMRestart, req.GetId(), nil)
}

func (s *vms) SuspendVm(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.vmOp(ctx, &events.VMSuspend, req.GetId(), nil)
}

func (s *vms) ResumeVm(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.vmOp(ctx, &events.VMResume, req.GetId(), nil)
}

// vmOp starts chain on VM id with the task properties props, if the VM's state machine
// lets it start (see hold); the task and the VM's hold on it are written in one atomic
// call.
func (s *vms) vmOp(ctx context.Context, chain *events.Chain, id string, props map[string]string) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		vm, err := s.vm(ctx, id)
		if err != nil {
			return nil, err
		}
		return startOn(ctx, s.core, chain, model.KindVM, vm.ID, vm.TenantID, vm.ProjectID, props, func(v *model.VM, task *model.Task) error {
			return hold(v, task, chain)
		})
	})
}

// hold makes task the one holding v, if the VM's state machine lets chain start on it
// now: no other task holds it and its state is one the chain starts from.
func hold(v *model.VM, task *model.Task, chain *events.Chain) error {
	if err := domain.VMMayStart(v.ID, v.State, v.ActiveTask, chain.Name, chain.Operation); err != nil {
		return err
	}
	v.ActiveTask = task.ID
	return nil
}

// SetVmMetadata replaces the VM's metadata. How many keys and how long each key and
// value may be is shared/domain's bounds table, held before the call gets here.
func (s *vms) SetVmMetadata(ctx context.Context, req *pb.SetVmMetadataRequest) (*pb.Task, error) {
	md := req.GetMetadata().GetMetadata()
	if _, ok := md[""]; ok {
		return nil, errs.Invalid("metadata keys must not be empty").WithData("field", "metadata")
	}
	raw, _ := json.Marshal(md)
	return s.vmOp(ctx, &events.VMSetMetadata, req.GetId(), map[string]string{model.PropMetadata: string(raw)})
}

func (s *vms) AddVmTag(ctx context.Context, req *pb.AddVmTagRequest) (*pb.Task, error) {
	tag := strings.TrimSpace(req.GetTag().GetValue())
	if tag == "" { // its length is bounded as every VM tag's ("VmTag.value" in shared/domain)
		return nil, errs.Invalid("a tag value is required").WithData("field", "value")
	}
	return s.vmOp(ctx, &events.VMAddTag, req.GetId(), map[string]string{model.PropTag: tag})
}
