package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// opFrom is, for each VM operation that needs one, the VM states it may start from.
var opFrom = map[*events.Chain][]string{
	&events.VMStart:   {store.VMStopped},
	&events.VMStop:    {store.VMStarted, store.VMSuspended},
	&events.VMRestart: {store.VMStarted},
	&events.VMSuspend: {store.VMStarted},
	&events.VMResume:  {store.VMSuspended},
	// An ISO is attached (attachISO) and detached from a running or stopped VM.
	&events.VMDetachISO: {store.VMStarted, store.VMStopped},
	&events.VMMksTicket: {store.VMStarted},
	&events.VMResize:    {store.VMStopped},
}

// ResizeVm checks the new flavor and computes the VM's new cost: its flavor's line items
// replaced by the new flavor's (disks keep theirs).
func (s *vms) ResizeVm(ctx context.Context, req *pb.ResizeVmRequest) (*pb.Task, error) {
	vm, err := s.vm(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	name := req.GetSpec().GetFlavor()
	flavor, err := s.store.FlavorByName(ctx, store.FlavorVM, name)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.Invalid("vm flavor %q not found", name).WithData("field", "flavor")
	}
	if err != nil {
		return nil, err
	}
	if flavor.ID == vm.FlavorID {
		return nil, errs.Invalid("Vm #%s has flavor %s already", vm.ID, name).WithData("field", "flavor")
	}
	cpu, mem, err := vmSize(flavor)
	if err != nil {
		return nil, err
	}
	old, err := store.Get[store.Flavor](ctx, s.store, store.KindFlavor, vm.FlavorID)
	if err != nil {
		return nil, err
	}
	cost := costs{}
	cost.add(vm.Cost...)
	cost.sub(old.Cost...)
	cost.add(flavor.Cost...)
	if cost["vm.count"].Value < 1 {
		cost["vm.count"] = store.QuotaLineItem{Key: "vm.count", Value: 1, Unit: "COUNT"}
	}
	r := store.Resize{FlavorID: flavor.ID, Flavor: flavor.Name, CPU: cpu, MemoryMB: mem, Cost: cost.list()}
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

// vmOp starts chain on VM id with the task properties props: the VM must be in a state
// the chain starts from (opFrom; any state for the others) and held by no other task;
// the task and the VM's hold on it are written in one atomic call.
func (s *vms) vmOp(ctx context.Context, chain *events.Chain, id string, props map[string]string) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		vm, err := s.vm(ctx, id)
		if err != nil {
			return nil, err
		}
		return startOn(ctx, s.core, chain, store.KindVM, vm.ID, vm.TenantID, vm.ProjectID, props, func(v *store.VM, task *store.Task) error {
			return hold(v, task, chain, opFrom[chain])
		})
	})
}

// hold makes task the one holding v, if no other task does and v's state is one of from
// (any state when from is empty).
func hold(v *store.VM, task *store.Task, chain *events.Chain, from []string) error {
	if v.ActiveTask != "" {
		return errs.New(errs.CodeConcurrentTask, "Vm #%s is busy with task %s", v.ID, v.ActiveTask).WithData("task", v.ActiveTask)
	}
	if len(from) > 0 && !slices.Contains(from, v.State) {
		return errs.New(errs.CodeStateError, "Vm #%s is %s: %s needs it %s", v.ID, v.State, chain.Operation, orList(from)).
			WithData("state", v.State)
	}
	v.ActiveTask = task.ID
	return nil
}

// orList is "A", "A or B", "A, B or C".
func orList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	out := ""
	for i, x := range xs[:len(xs)-1] {
		if i > 0 {
			out += ", "
		}
		out += x
	}
	return out + " or " + xs[len(xs)-1]
}

// MaxMetadata bounds a VM's metadata: keys, and bytes per key and value.
const (
	MaxMetadata      = 64
	MaxMetadataBytes = 1024
)

func (s *vms) SetVmMetadata(ctx context.Context, req *pb.SetVmMetadataRequest) (*pb.Task, error) {
	md := req.GetMetadata().GetMetadata()
	if len(md) > MaxMetadata {
		return nil, errs.Invalid("metadata has %d keys, at most %d", len(md), MaxMetadata).WithData("field", "metadata")
	}
	for k, v := range md {
		if k == "" || len(k) > MaxMetadataBytes || len(v) > MaxMetadataBytes {
			return nil, errs.Invalid("metadata keys must be 1 to %d bytes and values at most %d", MaxMetadataBytes, MaxMetadataBytes).
				WithData("field", "metadata")
		}
	}
	raw, _ := json.Marshal(md)
	return s.vmOp(ctx, &events.VMSetMetadata, req.GetId(), map[string]string{store.PropMetadata: string(raw)})
}

func (s *vms) AddVmTag(ctx context.Context, req *pb.AddVmTagRequest) (*pb.Task, error) {
	tag := strings.TrimSpace(req.GetTag().GetValue())
	if tag == "" || len(tag) > MaxMetadataBytes {
		return nil, errs.Invalid("a tag value of 1 to %d bytes is required", MaxMetadataBytes).WithData("field", "value")
	}
	return s.vmOp(ctx, &events.VMAddTag, req.GetId(), map[string]string{store.PropTag: tag})
}
