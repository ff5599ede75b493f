package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

type vms struct {
	pb.UnimplementedVmsServer
	*core
}

// CreateVm validates the spec, writes the VM (CREATING) and its task in one atomic call
// and starts the create chain.
func (s *vms) CreateVm(ctx context.Context, req *pb.CreateVmRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createVm(ctx, req) })
}

func (s *vms) createVm(ctx context.Context, req *pb.CreateVmRequest) (*pb.Task, error) {
	p, t, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	count := int(req.GetSpec().GetCount())
	if count < 0 || count > MaxBulk {
		return nil, errs.Invalid("count must be between 1 and %d", MaxBulk)
	}
	if count > 1 && s.admission.Limit > 0 && count > s.admission.Limit/2 {
		return nil, errs.Invalid("count must be at most %d, half of the operations this cloud admits at once", s.admission.Limit/2)
	}
	vm, err := s.buildVM(ctx, p, req.GetSpec())
	if err != nil {
		return nil, err
	}
	// Every name the call makes follows Photon's rule: the longest and the first of a
	// bulk create's, the one name otherwise.
	for _, n := range []int{max(count, 1), 1} {
		name := vm.Name
		if count > 1 {
			name = bulkName(vm.Name, n)
		}
		if err := domain.CheckName("name", name); err != nil {
			return nil, err
		}
	}
	if count > 1 {
		return s.createVms(ctx, p, t, vm, count)
	}
	chain := &events.VMCreate
	task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: vm.ID, Kind: model.KindVM}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID = t.ID, p.ID
	vm.ActiveTask = task.ID
	return s.begin(ctx, chain, task, func() error { return s.store.CreateVM(ctx, vm, task) })
}

// MaxBulk is the most VMs one create call makes.
const MaxBulk = 1000

// OpCreateVMs is the operation of a bulk create's parent task.
const OpCreateVMs = "CREATE_VMS"

// createVms is a bulk create: count VMs like vm, written with their tasks and the parent
// task and their chains' starts in one atomic call, admitted together.
func (s *vms) createVms(ctx context.Context, p *model.Project, t *model.Tenant, vm *model.VM, count int) (*pb.Task, error) {
	chain := &events.VMCreate
	who := caller(ctx)
	parent := s.store.NewTask(taskID(ctx), OpCreateVMs, model.Entity{ID: p.ID, Kind: model.KindProject}, who, nil)
	parent.State, parent.EndTime, parent.SubTasks = model.TaskStarted, 0, count
	parent.TenantID, parent.ProjectID = t.ID, p.ID
	parent.Properties = map[string]string{"count": fmt.Sprint(count), "name": vm.Name}
	vms := make([]*model.VM, count)
	tasks := make([]*model.Task, count)
	ids := make([]string, count)
	for i := range count {
		v := *vm
		v.ID, v.Name = newID(), bulkName(vm.Name, i+1)
		v.Disks = slices.Clone(vm.Disks)
		for d := range v.Disks {
			v.Disks[d].ID = newID()
		}
		task := s.store.NewTask(newID(), string(chain.Operation), model.Entity{ID: v.ID, Kind: model.KindVM}, who, operations(chain))
		task.TenantID, task.ProjectID, task.ParentID = t.ID, p.ID, parent.ID
		v.ActiveTask = task.ID
		vms[i], tasks[i], ids[i] = &v, task, task.ID
	}
	if err := s.admit(ctx, t.ID, ids...); err != nil {
		return nil, err
	}
	withStart(ctx, chain, t.ID, tasks...)
	if err := s.store.CreateVMs(ctx, parent, vms, tasks); err != nil {
		s.store.Release(context.WithoutCancel(ctx), t.ID, ids...)
		return nil, err
	}
	out := taskPB(parent)
	out.Progress = &pb.TaskProgress{Total: int32(count), InFlight: int32(count)}
	return out, nil
}

// bulkName is the name of the n-th VM of a bulk create: "{n}" in the pattern replaced by
// n, or "-n" appended to a pattern without it.
func bulkName(pattern string, n int) string {
	if strings.Contains(pattern, "{n}") {
		return strings.ReplaceAll(pattern, "{n}", fmt.Sprint(n))
	}
	return fmt.Sprintf("%s-%d", pattern, n)
}

func operations(c *events.Chain) []string {
	out := make([]string, len(c.Steps))
	for i, s := range c.Steps {
		out[i] = string(s.Operation)
	}
	return out
}

// buildVM checks a create spec's syntax and has vmrules check the rest against what
// exists (flavors, the image, subnets, disks, affinities) and compute the VM's cost, so
// that what can be refused is refused before anything is written.
func (s *vms) buildVM(ctx context.Context, p *model.Project, spec *pb.VmCreateSpec) (*model.VM, error) {
	if spec == nil {
		return nil, errs.Invalid("a VM create spec is required")
	}
	name := strings.TrimSpace(spec.GetName())
	if name == "" {
		return nil, errs.Invalid("name is required")
	}
	if spec.GetFlavor() == "" || spec.GetSourceImageId() == "" {
		return nil, errs.Invalid("flavor and sourceImageId are required")
	}
	affs, err := affinities(spec.GetAffinities())
	if err != nil {
		return nil, err
	}
	anti, err := antiAffinity(spec.GetAntiAffinity())
	if err != nil {
		return nil, err
	}
	var disks []vmrules.DiskSpec
	for _, d := range spec.GetAttachedDisks() {
		disks = append(disks, vmrules.DiskSpec{Name: d.GetName(), Kind: d.GetKind(), Flavor: d.GetFlavor(),
			CapacityGB: d.GetCapacityGb(), Boot: d.GetBootDisk()})
	}
	vm, err := vmrules.Validate(ctx, s.store, caller(ctx), p, vmrules.Spec{Name: name, Flavor: spec.GetFlavor(),
		SourceImageID: spec.GetSourceImageId(), Subnets: spec.GetSubnets(), Tags: spec.GetTags(),
		Environment: spec.GetEnvironment(), Affinities: affs, AntiAffinity: anti, Disks: disks,
		PowerOn: spec.GetPowerOn()})
	if err != nil {
		return nil, err
	}
	vm.ID = newID()
	for i := range vm.Disks {
		vm.Disks[i].ID = newID()
	}
	return vm, nil
}

func (s *vms) vm(ctx context.Context, id string) (*model.VM, error) {
	return inProject(ctx, s.core, model.KindVM, "Vm", id, func(v *model.VM) string { return v.ProjectID })
}

// inProject reads a VM or a disk if the caller has the role the method needs on it
// (policy.ResourceRole: their project role, raised by its own IAM policy); otherwise it
// does not exist as far as the caller can tell (NotFound, named label).
func inProject[T any, PT iamEntity[T]](ctx context.Context, c *core, kind, label, id string, project func(*T) string) (*T, error) {
	v, _, _, err := inProjectAs[T, PT](ctx, c, kind, label, id, project, need(ctx))
	return v, err
}

// iamEntity is an entity with an IAM policy of its own (*T).
type iamEntity[T any] interface {
	*T
	IAMPolicy() *[]model.PolicyEntry
	PolicyShape() *string
}

// inProjectAs is inProject for role want, with the entity's tenant and project.
func inProjectAs[T any, PT iamEntity[T]](ctx context.Context, c *core, kind, label, id string, project func(*T) string, want policy.Role) (*T, *model.Tenant, *model.Project, error) {
	v, err := store.Get[T](ctx, c.store, kind, id)
	if err != nil {
		return nil, nil, nil, err
	}
	t, p, err := c.store.ProjectScope(ctx, project(v))
	switch {
	case errors.Is(err, errs.ErrNotFound) || (err == nil && t == nil):
		return nil, nil, nil, errs.NotFound(label, id)
	case err != nil:
		return nil, nil, nil, err
	}
	if policy.ResourceRole(caller(ctx), t, p, *PT(v).IAMPolicy()) < want {
		return nil, nil, nil, errs.NotFound(label, id)
	}
	if err := c.limitTenant(ctx, t.ID); err != nil {
		return nil, nil, nil, err
	}
	return v, t, p, nil
}

func (s *vms) GetVm(ctx context.Context, req *pb.IdRequest) (*pb.Vm, error) {
	vm, err := s.vm(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return vmPB(vm), nil
}

func (s *vms) ListVms(ctx context.Context, req *pb.ListVmsRequest) (*pb.VmList, error) {
	p, _, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	page, err := s.store.ListVMs(ctx, p.ID, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.VmList{NextPageLink: pageLink("/v1/projects/"+p.ID+"/vms", req.GetPageSize(), page.Next)}
	for _, vm := range page.Items {
		if req.GetName() == "" || vm.Name == req.GetName() {
			out.Items = append(out.Items, vmPB(vm))
		}
	}
	return out, nil
}

// DeleteVm takes the VM for a delete task (refusing one that another task holds) and
// starts the delete chain.
func (s *vms) DeleteVm(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.deleteVm(ctx, req) })
}

func (s *vms) deleteVm(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	vm, err := s.vm(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if vm.ServiceID != "" {
		return nil, errs.New(errs.CodeStateError, "Vm #%s is a node of service %s: resize or delete the service instead", vm.ID, vm.ServiceID).
			WithData("serviceId", vm.ServiceID)
	}
	chain := &events.VMDelete
	return startOn(ctx, s.core, chain, model.KindVM, vm.ID, vm.TenantID, vm.ProjectID, nil, func(v *model.VM, task *model.Task) error {
		if err := hold(v, task, chain); err != nil {
			return err
		}
		v.State = domain.VMStartState(chain.Name)
		return nil
	})
}

func (s *vms) ListVmTasks(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.TaskList, error) {
	vm, err := s.vm(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, vm.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/vms/"+vm.ID+"/tasks")
}
