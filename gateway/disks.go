package gateway

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/diskrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// disksSvc serves persistent disks; attach and detach are VM verbs (vms).
type disksSvc struct {
	pb.UnimplementedDisksServer
	*core
}

func (s *disksSvc) CreateDisk(ctx context.Context, req *pb.CreateDiskRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createDisk(ctx, req) })
}

func (s *disksSvc) createDisk(ctx context.Context, req *pb.CreateDiskRequest) (*pb.Task, error) {
	p, t, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	d, err := s.buildDisk(ctx, p, req.GetSpec())
	if err != nil {
		return nil, err
	}
	chain := &events.DiskCreate
	task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: d.ID, Kind: model.KindDisk}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID = t.ID, p.ID
	d.ActiveTask = task.ID
	return s.begin(ctx, chain, task, func() error { return s.store.CreateDisk(ctx, d, task) })
}

// buildDisk checks a disk spec's syntax and has diskrules check the rest against what
// exists and compute the disk's cost.
func (s *disksSvc) buildDisk(ctx context.Context, p *model.Project, spec *pb.DiskCreateSpec) (*model.PersistentDisk, error) {
	if spec == nil {
		return nil, errs.Invalid("a disk create spec is required")
	}
	name := strings.TrimSpace(spec.GetName())
	if name == "" {
		return nil, errs.Invalid("name is required").WithData("field", "name")
	}
	if k := spec.GetKind(); k != model.FlavorPersistentDisk && k != "persistent" {
		return nil, errs.Invalid("kind %q is not persistent-disk", k).WithData("field", "kind")
	}
	if spec.GetCapacityGb() <= 0 {
		return nil, errs.Invalid("capacityGb must be above 0").WithData("field", "capacityGb")
	}
	var (
		near   []string
		places []model.Locality
	)
	for i, a := range spec.GetAffinities() {
		switch a.GetKind() {
		case model.LocalityDatastore, model.LocalityDatastoreTag, model.LocalityDatastoreType:
			if strings.TrimSpace(a.GetId()) == "" {
				return nil, errs.Invalid("affinities[%d]: a %s affinity needs an id", i, a.GetKind()).WithData("field", "affinities")
			}
			places = append(places, model.Locality{Kind: a.GetKind(), ID: strings.TrimSpace(a.GetId())})
			continue
		case model.LocalityVM:
		default:
			return nil, errs.Invalid("affinities[%d]: a disk takes vm, datastore, datastoreTag and datastoreType affinities, not %q",
				i, a.GetKind()).WithData("field", "affinities")
		}
		near = append(near, a.GetId())
	}
	d, err := diskrules.Validate(ctx, s.store, p, diskrules.Spec{Name: name, Flavor: spec.GetFlavor(),
		CapacityGB: spec.GetCapacityGb(), Tags: spec.GetTags(), NearVMs: near})
	if err != nil {
		return nil, err
	}
	d.ID = newID()
	d.Affinities = append(d.Affinities, places...)
	return d, nil
}

// disk reads a disk the caller may see; any other is NotFound.
func (c *core) disk(ctx context.Context, id string) (*model.PersistentDisk, error) {
	return inProject(ctx, c, model.KindDisk, "PersistentDisk", id, func(d *model.PersistentDisk) string { return d.ProjectID })
}

func (s *disksSvc) GetDisk(ctx context.Context, req *pb.IdRequest) (*pb.PersistentDisk, error) {
	d, err := s.disk(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return diskPB(d), nil
}

func (s *disksSvc) ListDisks(ctx context.Context, req *pb.ListDisksRequest) (*pb.DiskList, error) {
	p, _, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	out := &pb.DiskList{}
	if req.GetName() != "" {
		d, err := s.store.DiskByName(ctx, p.ID, req.GetName())
		if err != nil {
			return nil, err
		}
		if d != nil {
			out.Items = append(out.Items, diskPB(d))
		}
		return out, nil
	}
	page, err := s.store.ListDisks(ctx, p.ID, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out.NextPageLink = pageLink("/v1/projects/"+p.ID+"/disks", req.GetPageSize(), page.Next)
	for _, d := range page.Items {
		out.Items = append(out.Items, diskPB(d))
	}
	return out, nil
}

func (s *disksSvc) DeleteDisk(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.deleteDisk(ctx, req) })
}

func (s *disksSvc) deleteDisk(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	d, err := s.disk(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return startOn(ctx, s.core, &events.DiskDelete, model.KindDisk, d.ID, d.TenantID, d.ProjectID, nil,
		func(d *model.PersistentDisk, task *model.Task) error {
			if err := holdDisk(d, task, &events.DiskDelete); err != nil {
				return err
			}
			d.State = domain.DiskStartState(events.DiskDelete.Name)
			return nil
		})
}

func (s *disksSvc) ListDiskTasks(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.TaskList, error) {
	d, err := s.disk(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, d.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/disks/"+d.ID+"/tasks")
}

// holdDisk makes task the one holding d, if the disk's state machine lets chain start on
// it now: no other task holds it and its state is one the chain starts from.
func holdDisk(d *model.PersistentDisk, task *model.Task, chain *events.Chain) error {
	if err := domain.DiskMayStart(d.ID, d.State, d.ActiveTask, chain.Name, chain.Operation); err != nil {
		return err
	}
	d.ActiveTask = task.ID
	return nil
}

func (s *vms) AttachDisk(ctx context.Context, req *pb.VmDiskOperationRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.diskOp(ctx, &events.VMAttachDisk, req) })
}

func (s *vms) DetachDisk(ctx context.Context, req *pb.VmDiskOperationRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.diskOp(ctx, &events.VMDetachDisk, req) })
}

// diskOp starts an attach or detach: the task holds the VM and the disk, written with
// both in one atomic call.
func (s *vms) diskOp(ctx context.Context, chain *events.Chain, req *pb.VmDiskOperationRequest) (*pb.Task, error) {
	vm, err := s.vm(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	diskID := req.GetOperation().GetDiskId()
	if diskID == "" {
		return nil, errs.Invalid("diskId is required").WithData("field", "diskId")
	}
	d, err := s.disk(ctx, diskID)
	if errors.Is(err, errs.ErrNotFound) || (err == nil && d.ProjectID != vm.ProjectID) {
		return nil, errs.Invalid("persistent disk %q not found in the VM's project", diskID).WithData("field", "diskId")
	}
	if err != nil {
		return nil, err
	}
	attach := chain == &events.VMAttachDisk
	if attach {
		if err := s.reachable(ctx, vm, d); err != nil {
			return nil, err
		}
	}
	task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: vm.ID, Kind: model.KindVM}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID = vm.TenantID, vm.ProjectID
	task.Properties = map[string]string{model.PropDiskID: d.ID}
	return s.begin(ctx, chain, task, func() error {
		return store.StartTaskOnPair(ctx, s.store, model.KindVM, vm.ID, model.KindDisk, d.ID, task,
			func(v *model.VM) error { return hold(v, task, chain) },
			func(d *model.PersistentDisk) error {
				if attach {
					return holdDisk(d, task, chain)
				}
				if !slices.Contains(d.VMs, vm.ID) {
					return errs.New(errs.CodeStateError, "PersistentDisk #%s is not attached to Vm #%s", d.ID, vm.ID).WithData("state", d.State)
				}
				return holdDisk(d, task, chain)
			})
	})
}

// reachable checks that the VM's host mounts the disk's datastore.
func (s *vms) reachable(ctx context.Context, vm *model.VM, d *model.PersistentDisk) error {
	if vm.HostID == "" || d.HostID == "" {
		return errs.New(errs.CodeStateError, "Vm #%s or PersistentDisk #%s is on no host yet", vm.ID, d.ID)
	}
	if vm.HostID == d.HostID {
		return nil
	}
	h, err := s.store.GetHost(ctx, vm.HostID)
	if err != nil {
		return err
	}
	for _, ds := range h.Datastores {
		if ds.ID != "" && ds.ID == d.DatastoreID {
			return nil
		}
	}
	return errs.New(errs.CodeStateError, "PersistentDisk #%s is on datastore %s, which the host of Vm #%s does not mount "+
		"(create the disk with a vm affinity to put it beside the VM)", d.ID, d.Datastore, vm.ID).WithData("datastore", d.Datastore)
}

func diskPB(d *model.PersistentDisk) *pb.PersistentDisk {
	return &pb.PersistentDisk{Id: d.ID, Kind: model.FlavorPersistentDisk, Name: d.Name, Flavor: d.Flavor, Cost: quotaItems(d.Cost),
		Datastore: d.Datastore, CapacityGb: d.CapacityGB, State: d.State, Vms: d.VMs, Tags: d.Tags,
		SelfLink: selfLink("disk", d.ID), ProjectId: d.ProjectID, StateReason: d.StateReason}
}
