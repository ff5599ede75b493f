package gateway

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
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

// SetVmMetadata replaces the VM's metadata, now (editVM). How many keys and how long each
// key and value may be is shared/domain's bounds table, held before the call gets here.
func (s *vms) SetVmMetadata(ctx context.Context, req *pb.SetVmMetadataRequest) (*pb.Task, error) {
	md := req.GetMetadata().GetMetadata()
	if _, ok := md[""]; ok {
		return nil, errs.Invalid("metadata keys must not be empty").WithData("field", "metadata")
	}
	return s.editVM(ctx, req.GetId(), domain.VMSetMetadata, domain.OpSetMetadata, func(v *model.VM) error {
		v.Metadata = maps.Clone(md)
		return nil
	})
}

// AddVmTag adds a tag to the VM, now (editVM); a tag it has already changes nothing. A
// VM holds at most as many tags as a create may give it (shared/domain's bound of "tags").
func (s *vms) AddVmTag(ctx context.Context, req *pb.AddVmTagRequest) (*pb.Task, error) {
	tag := strings.TrimSpace(req.GetTag().GetValue())
	if tag == "" { // its length is bounded as every VM tag's ("VmTag.value" in shared/domain)
		return nil, errs.Invalid("a tag value is required").WithData("field", "value")
	}
	return s.editVM(ctx, req.GetId(), domain.VMAddTag, domain.OpAddTag, func(v *model.VM) error {
		if slices.Contains(v.Tags, tag) {
			return nil
		}
		if most := domain.Bounds["tags"].Items; len(v.Tags) >= most {
			return errs.Invalid("Vm #%s has %d tags, at most %d", v.ID, len(v.Tags), most).WithData("field", "value")
		}
		v.Tags = append(v.Tags, tag)
		return nil
	})
}

// editVM makes edit, a change of the VM's record that needs no host, at once: the answer
// is its task, COMPLETED, and the change is durable and visible to the next read. The
// caller must be able to modify the VM (a contributor of it: policy.ResourceRole, the
// decision a chain's authorize step makes; one who only sees it is AccessForbidden), and
// the VM's state machine must let chain's operation op start now (domain.VMMayStart:
// ConcurrentTask while another task holds it). Both are decided on the VM as the write
// finds it, and the VM, the task and their outbox entries (subscribers hear
// io.photon.task.completed) are written in one atomic call (store.EditVM).
func (s *vms) editVM(ctx context.Context, id string, chain domain.ChainID, op domain.Op, edit func(*model.VM) error) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		vm, t, p, err := inProjectAs[model.VM](ctx, s.core, model.KindVM, "Vm", id, func(v *model.VM) string { return v.ProjectID }, policy.Viewer)
		if err != nil {
			return nil, err
		}
		who := caller(ctx)
		task := s.store.NewTask(taskID(ctx), string(op), model.Entity{ID: vm.ID, Kind: model.KindVM}, who, nil)
		task.TenantID, task.ProjectID = vm.TenantID, vm.ProjectID
		if _, err := s.store.EditVM(ctx, vm.ID, task, func(v *model.VM) error {
			if err := allowAs(ctx, policy.ResourceRole(who, t, p, v.IAM), policy.Contributor, "Vm", v.ID); err != nil {
				return err
			}
			if err := domain.VMMayStart(v.ID, v.State, v.ActiveTask, chain, op); err != nil {
				return err
			}
			return edit(v)
		}); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}
