package gateway

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Provisioner starts the hostd of a host registered through the API, under the host's
// id, so that it joins the cloud (RegisterHost makes it READY). The dev cloud's starts a
// simulated ESXi host for it. Provision returns once the hostd has registered or could
// not; it may be called again for a host whose provisioning a gateway took over from
// one that died or closed, and then succeeds if the host's hostd runs already.
// Deprovision stops the hostd of a deleted host (a no-op for a host it does not run).
type Provisioner interface {
	Provision(ctx context.Context, h model.Host, cred HostCredentials) error
	Deprovision(ctx context.Context, id string) error
}

// HostCredentials are how hostd reaches and logs in to a registered ESXi host. The
// password lives only in this value.
type HostCredentials struct {
	Address, Username, Password string
}

// Host operations, as Photon names them in Tasks.
const (
	OpCreateHost       = "CREATE_HOST"
	OpProvisionHost    = "PROVISION_HOST"
	OpDeleteHost       = "DELETE_HOST"
	OpEnterMaintenance = "ENTER_MAINTENANCE_MODE"
	OpExitMaintenance  = "EXIT_MAINTENANCE_MODE"
	OpSuspendHost      = "SUSPEND_HOST"
	OpResumeHost       = "RESUME_HOST"
	OpSetHostZone      = "SET_AVAILABILITYZONE"
)

// PropVMsRemaining is the resource property of an enter_maintenance task that counts the
// VMs still on the host (Photon's reservations on it, VMs being created included).
const PropVMsRemaining = "vmsRemaining"

const hostsPath = "/v1/infrastructure/hosts"

type hosts struct {
	pb.UnimplementedHostsServer
	*core
}

// CreateHost writes the host (CREATING) with its registration and task and, when the
// gateway has a Provisioner, its provisioning (see provisioning.go), and starts the
// host's hostd in the background: the task ends when the hostd has registered (the host
// is READY) or failed to (the host is ERROR), whichever gateway finishes it.
// Without one the task completes at once and the host waits for a hostd started with
// its id.
func (s *hosts) CreateHost(ctx context.Context, req *pb.CreateHostRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createHost(ctx, req) })
}

func (s *hosts) createHost(ctx context.Context, req *pb.CreateHostRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	spec := req.GetSpec()
	cred := HostCredentials{Address: strings.TrimSpace(spec.GetAddress()), Username: strings.TrimSpace(spec.GetUsername()),
		Password: spec.GetPassword()}
	if cred.Address == "" || cred.Username == "" || cred.Password == "" {
		return nil, errs.Invalid("address, username and password are required")
	}
	tags, err := usageTags(spec.GetUsageTags())
	if err != nil {
		return nil, err
	}
	zone := strings.TrimSpace(cmp.Or(spec.GetAvailabilityZone(), spec.GetZone()))
	if zone != "" {
		if err := s.zoneExists(ctx, zone); err != nil {
			return nil, err
		}
	}
	now := s.store.Now()
	h := model.Host{ID: newID(), Name: cred.Address, AvailabilityZone: zone, Tags: tags, Metadata: spec.GetMetadata(),
		State: model.HostCreating, RegisteredAt: now}
	reg := &store.HostRegistration{ID: h.ID, Address: cred.Address, Username: cred.Username, CreatedAt: now}
	var steps []string
	if s.provisioner != nil {
		steps = []string{OpProvisionHost}
	}
	task := s.store.NewTask(taskID(ctx), OpCreateHost, model.Entity{ID: h.ID, Kind: model.KindHost}, caller(ctx), steps)
	if s.provisioner == nil {
		if err := s.store.CreateHost(ctx, &h, reg, task); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	}
	p := &store.Provisioning{Host: h, TaskID: task.ID, Address: cred.Address, Username: cred.Username, Password: cred.Password}
	if err := s.store.CreateProvisionedHost(ctx, &h, reg, task, p, s.lease()); err != nil {
		return nil, err
	}
	s.provision(p)
	return taskPB(task), nil
}

// usageTags checks a host's usage tags; none is CLOUD.
func usageTags(in []string) ([]string, error) {
	var out []string
	for _, t := range in {
		t = strings.TrimSpace(t)
		if t == "" {
			return nil, errs.Invalid("usageTags must not be empty strings")
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		out = []string{model.HostTagCloud}
	}
	return out, nil
}

func (c *core) zoneExists(ctx context.Context, id string) error {
	_, err := c.store.GetZone(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return errs.Invalid("availability zone %q not found", id).WithData("availabilityZoneId", id)
	}
	return err
}

func (s *hosts) ListHosts(ctx context.Context, req *pb.ListHostsRequest) (*pb.HostList, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	page, err := s.store.ListHostsPage(ctx, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	items, err := s.hostsPB(ctx, page.Items...)
	if err != nil {
		return nil, err
	}
	return &pb.HostList{Items: items, NextPageLink: pageLink(hostsPath, req.GetPageSize(), page.Next)}, nil
}

// hostsPB converts host records with their registrations and reservations (two round
// trips for any number of hosts).
func (c *core) hostsPB(ctx context.Context, hs ...*model.Host) ([]*pb.Host, error) {
	ids := make([]string, len(hs))
	for i, h := range hs {
		ids[i] = h.ID
	}
	regs, err := c.store.HostRegistrations(ctx, ids...)
	if err != nil {
		return nil, err
	}
	caps, err := c.store.HostCapacities(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]*pb.Host, len(hs))
	for i, h := range hs {
		out[i] = hostPB(h, regs[i], caps[i])
	}
	return out, nil
}

func (s *hosts) host(ctx context.Context, id string) (*model.Host, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	return s.store.GetHost(ctx, id)
}

func (s *hosts) GetHost(ctx context.Context, req *pb.IdRequest) (*pb.Host, error) {
	h, err := s.host(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	out, err := s.hostsPB(ctx, h)
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func (s *hosts) DeleteHost(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.deleteHost(ctx, req) })
}

// deleteHost removes a host as Photon did: only one in MAINTENANCE (so no VM is placed on
// it meanwhile) or one never provisioned (CREATING), and only when no VM is left on it.
func (s *hosts) deleteHost(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	h, err := s.host(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if h.State != model.HostMaintenance && h.State != model.HostCreating {
		return nil, errs.New(errs.CodeStateError, "Host #%s is %s: enter maintenance before deleting it", h.ID, h.State).
			WithData("state", h.State)
	}
	if task, busy, err := s.store.ProvisioningTask(ctx, h.ID); err != nil {
		return nil, err
	} else if busy {
		return nil, errs.New(errs.CodeConcurrentTask, "Host #%s is being provisioned by task %s", h.ID, task).
			WithData("task", task)
	}
	capacity, err := s.store.GetHostCapacity(ctx, h.ID)
	if err != nil {
		return nil, err
	}
	if capacity.VMs > 0 {
		return nil, errs.New(errs.CodeStateError, "Host #%s still has %d VMs", h.ID, capacity.VMs).
			WithData("vms", strconv.FormatInt(capacity.VMs, 10))
	}
	if s.provisioner != nil {
		if err := s.provisioner.Deprovision(ctx, h.ID); err != nil {
			return nil, errs.New(errs.CodeHostError, "stop the hostd of host %s: %v", h.ID, err)
		}
	}
	task := s.store.NewTask(taskID(ctx), OpDeleteHost, model.Entity{ID: h.ID, Kind: model.KindHost}, caller(ctx), nil)
	if err := s.store.RemoveHost(ctx, h.ID, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

// transition moves a host from one of the states in from to state to (compare-and-set
// through UpdateHost, which tells placement) and records the completed task. From any
// other state it answers StateError and changes nothing.
func (s *hosts) transition(ctx context.Context, id, op string, from []string, to string) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	_, err := s.store.UpdateHost(ctx, id, func(h *model.Host) error {
		if !slices.Contains(from, h.State) {
			return errs.New(errs.CodeStateError, "Host #%s is %s; %s needs it %s", h.ID, h.State, op, strings.Join(from, " or ")).
				WithData("state", h.State)
		}
		h.State, h.StateReason = to, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	task := s.store.NewTask(taskID(ctx), op, model.Entity{ID: id, Kind: model.KindHost}, caller(ctx), nil)
	if op == OpEnterMaintenance {
		capacity, err := s.store.GetHostCapacity(ctx, id)
		if err != nil {
			return nil, err
		}
		task.Properties = map[string]string{PropVMsRemaining: strconv.FormatInt(capacity.VMs, 10)}
	}
	if err := s.store.Apply(ctx, s.store.AddTask(new(store.Batch), task)); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *hosts) EnterMaintenance(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		return s.transition(ctx, req.GetId(), OpEnterMaintenance,
			[]string{model.HostReady, model.HostSuspended, model.HostError}, model.HostMaintenance)
	})
}

func (s *hosts) ExitMaintenance(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		return s.transition(ctx, req.GetId(), OpExitMaintenance, []string{model.HostMaintenance}, model.HostReady)
	})
}

func (s *hosts) SuspendHost(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		return s.transition(ctx, req.GetId(), OpSuspendHost, []string{model.HostReady}, model.HostSuspended)
	})
}

func (s *hosts) ResumeHost(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		return s.transition(ctx, req.GetId(), OpResumeHost, []string{model.HostSuspended}, model.HostReady)
	})
}

func (s *hosts) SetHostAvailabilityZone(ctx context.Context, req *pb.SetHostAvailabilityZoneRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.setZone(ctx, req) })
}

func (s *hosts) setZone(ctx context.Context, req *pb.SetHostAvailabilityZoneRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	zone := strings.TrimSpace(req.GetAvailabilityZoneId())
	if zone == "" {
		return nil, errs.Invalid("availabilityZoneId is required")
	}
	if err := s.zoneExists(ctx, zone); err != nil {
		return nil, err
	}
	_, err := s.store.UpdateHost(ctx, req.GetId(), func(h *model.Host) error {
		if h.AvailabilityZone == zone {
			return store.ErrNoChange
		}
		h.AvailabilityZone = zone
		return nil
	})
	if err != nil {
		return nil, err
	}
	task := s.store.NewTask(taskID(ctx), OpSetHostZone, model.Entity{ID: req.GetId(), Kind: model.KindHost}, caller(ctx), nil)
	task.Properties = map[string]string{"availabilityZoneId": zone}
	if err := s.store.Apply(ctx, s.store.AddTask(new(store.Batch), task)); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *hosts) ListHostVms(ctx context.Context, req *pb.IdRequest) (*pb.VmList, error) {
	h, err := s.host(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	vms, err := s.store.VMsOnHost(ctx, h.ID)
	if err != nil {
		return nil, err
	}
	out := &pb.VmList{}
	for _, vm := range vms {
		out.Items = append(out.Items, vmPB(vm))
	}
	return out, nil
}

func (s *hosts) ListHostTasks(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.TaskList, error) {
	h, err := s.host(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, h.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), hostsPath+"/"+h.ID+"/tasks")
}
