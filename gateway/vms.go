package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
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
	if count > 1 {
		return s.createVms(ctx, p, t, vm, count)
	}
	chain := &events.VMCreate
	task := s.store.NewTask(taskID(ctx), chain.Operation, store.Entity{ID: vm.ID, Kind: store.KindVM}, caller(ctx), operations(chain))
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
func (s *vms) createVms(ctx context.Context, p *store.Project, t *store.Tenant, vm *store.VM, count int) (*pb.Task, error) {
	chain := &events.VMCreate
	who := caller(ctx)
	parent := s.store.NewTask(taskID(ctx), OpCreateVMs, store.Entity{ID: p.ID, Kind: store.KindProject}, who, nil)
	parent.State, parent.EndTime, parent.SubTasks = store.TaskStarted, 0, count
	parent.TenantID, parent.ProjectID = t.ID, p.ID
	parent.Properties = map[string]string{"count": fmt.Sprint(count), "name": vm.Name}
	vms := make([]*store.VM, count)
	tasks := make([]*store.Task, count)
	ids := make([]string, count)
	for i := range count {
		v := *vm
		v.ID, v.Name = newID(), bulkName(vm.Name, i+1)
		v.Disks = slices.Clone(vm.Disks)
		for d := range v.Disks {
			v.Disks[d].ID = newID()
		}
		task := s.store.NewTask(newID(), chain.Operation, store.Entity{ID: v.ID, Kind: store.KindVM}, who, operations(chain))
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
		out[i] = s.Operation
	}
	return out
}

// buildVM checks a create spec against the flavors and images it names and computes the
// VM's cost: its flavor's, its disks' flavors', one vm.count and the ephemeral capacity.
func (s *vms) buildVM(ctx context.Context, p *store.Project, spec *pb.VmCreateSpec) (*store.VM, error) {
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
	flavor, err := s.store.FlavorByName(ctx, store.FlavorVM, spec.GetFlavor())
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.Invalid("vm flavor %q not found", spec.GetFlavor())
	}
	if err != nil {
		return nil, err
	}
	cpu, mem, err := vmSize(flavor)
	if err != nil {
		return nil, err
	}
	// An image the caller may not use (another project's, unless its IAM policy shares
	// it), or one no new VM may use (not READY: being created, failed, being deleted), is
	// refused before anything is written; authorize checks the caller's right again and
	// cloneimage the image, atomically with counting the VM among its users.
	img, t, ip, err := s.imageIn(ctx, spec.GetSourceImageId(), policy.Viewer)
	if err == nil && !policy.MayUseImage(caller(ctx), img, t, ip, p.ID) {
		err = errs.NotFound("Image", img.ID)
	}
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return nil, errs.Invalid("image %q not found", spec.GetSourceImageId()).WithData("field", "sourceImageId")
	case err != nil:
		return nil, err
	case img.State != store.ImageReady:
		return nil, errs.Invalid("image %s is %s: no new VM may use it", img.ID, img.State).WithData("field", "sourceImageId")
	}
	vm := &store.VM{ID: newID(), Name: name, TenantID: p.TenantID, ProjectID: p.ID, FlavorID: flavor.ID,
		Flavor: flavor.Name, SourceImageID: img.ID, CPU: cpu, MemoryMB: mem, State: store.VMCreating,
		Tags: spec.GetTags(), Environment: spec.GetEnvironment(), Subnets: spec.GetSubnets(), PowerOn: true,
		CreatedAt: s.store.Now()}
	if v, ok := spec.GetEnvironment()["powerOn"]; ok && (v == "false" || v == "0") {
		vm.PowerOn = false
	}
	for i, id := range vm.Subnets {
		sn, err := store.Get[store.Subnet](ctx, s.store, store.KindSubnet, id)
		switch {
		case errors.Is(err, errs.ErrNotFound) || (err == nil && sn.ProjectID != "" && sn.ProjectID != p.ID):
			return nil, errs.Invalid("subnets[%d]: subnet %q not found", i, id).WithData("field", "subnets")
		case err != nil:
			return nil, err
		}
	}
	if vm.Affinities, err = affinities(spec.GetAffinities()); err != nil {
		return nil, err
	}
	if vm.AntiAffinity, err = antiAffinity(spec.GetAntiAffinity()); err != nil {
		return nil, err
	}
	if vm.Placement = flavor.PlacementPolicy; vm.Placement == "" {
		vm.Placement = p.PlacementPolicy
	}
	cost := costs{}
	add := cost.add
	add(flavor.Cost...)
	if _, ok := cost["vm.count"]; !ok {
		add(store.QuotaLineItem{Key: "vm.count", Value: 1, Unit: "COUNT"})
	}
	boots := 0
	for i, d := range spec.GetAttachedDisks() {
		kind := d.GetKind()
		if kind == "ephemeral" {
			kind = store.FlavorEphemeralDisk
		}
		if kind != store.FlavorEphemeralDisk {
			return nil, errs.Invalid("attachedDisks[%d]: kind %q is not ephemeral-disk", i, d.GetKind())
		}
		df, err := s.store.FlavorByName(ctx, store.FlavorEphemeralDisk, d.GetFlavor())
		if errors.Is(err, errs.ErrNotFound) {
			return nil, errs.Invalid("attachedDisks[%d]: ephemeral-disk flavor %q not found", i, d.GetFlavor())
		}
		if err != nil {
			return nil, err
		}
		disk := store.Disk{ID: newID(), Name: d.GetName(), Kind: kind, Flavor: df.Name, FlavorID: df.ID, CapacityGB: d.GetCapacityGb(),
			Boot: d.GetBootDisk(), State: "DETACHED"}
		if disk.Name == "" {
			disk.Name = fmt.Sprintf("disk-%d", i)
		}
		if disk.Boot {
			boots++
		} else if disk.CapacityGB <= 0 {
			return nil, errs.Invalid("attachedDisks[%d]: capacityGb must be above 0", i)
		}
		add(df.Cost...)
		if disk.CapacityGB > 0 {
			add(store.QuotaLineItem{Key: "ephemeral-disk.capacity", Value: float64(disk.CapacityGB), Unit: "GB"})
		}
		vm.Disks = append(vm.Disks, disk)
	}
	if boots != 1 {
		return nil, errs.Invalid("exactly one attached disk must be the boot disk (found %d)", boots)
	}
	vm.Cost = cost.list()
	return vm, nil
}

// costs sums quota line items by key, in canonical units.
type costs map[string]store.QuotaLineItem

func (c costs) add(items ...store.QuotaLineItem) {
	items, _ = canonical(items) // flavors' units were checked when they were created
	for _, it := range items {
		x := c[it.Key]
		x.Key, x.Value, x.Unit = it.Key, x.Value+it.Value, it.Unit
		c[it.Key] = x
	}
}

// sub takes items away; line items that come to nothing are dropped.
func (c costs) sub(items ...store.QuotaLineItem) {
	items, _ = canonical(items)
	for _, it := range items {
		x := c[it.Key]
		if x.Value -= it.Value; x.Value < 1e-9 {
			delete(c, it.Key)
			continue
		}
		c[it.Key] = x
	}
}

// list is the sums sorted by key.
func (c costs) list() []store.QuotaLineItem {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]store.QuotaLineItem, 0, len(keys))
	for _, k := range keys {
		out = append(out, c[k])
	}
	return out
}

func (s *vms) vm(ctx context.Context, id string) (*store.VM, error) {
	return inProject(ctx, s.core, store.KindVM, "Vm", id, func(v *store.VM) string { return v.ProjectID })
}

// inProject reads an entity of a project (a VM, a disk) if the caller may use its project;
// otherwise it does not exist as far as the caller can tell (NotFound, named label).
func inProject[T any](ctx context.Context, c *core, kind, label, id string, project func(*T) string) (*T, error) {
	v, err := store.Get[T](ctx, c.store, kind, id)
	if err != nil {
		return nil, err
	}
	if _, _, err := c.projectFor(ctx, project(v)); err != nil {
		return nil, errs.NotFound(label, id)
	}
	return v, nil
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
	chain := &events.VMDelete
	return startOn(ctx, s.core, chain, store.KindVM, vm.ID, vm.TenantID, vm.ProjectID, nil, func(v *store.VM, task *store.Task) error {
		if err := hold(v, task, chain, nil); err != nil {
			return err
		}
		v.State = store.VMDeleting
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
