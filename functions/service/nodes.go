package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/cluster"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// source is the source of the node chains' start events.
const source = "photon/function/service"

// childID is the fixed id of the task that does op ("create", "delete") on node VM vm
// for task, and fixedID that of anything else a task plans: a replayed step finds what
// it made instead of making it twice.
func childID(task, op, vm string) string { return fixedID(task, op, vm) }

func fixedID(parts ...string) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, []byte(strings.Join(parts, "/"))).String()
}

func (f *Function) now() time.Time { return time.UnixMilli(f.store.Now()) }

func (f *Function) await() error { return runtime.Await(f.now().Add(recheck)) }

// converge brings the service's VMs to its plan: the retiring VMs deleted first (a
// replacement takes its predecessor's address), then the nodes without a VM created, the
// etcd, master and harbor nodes together, then the workers, at most
// workerBatchExpansionSize of them in flight. It awaits until every node's VM is made, and
// fails when one's create failed.
func (f *Function) converge(ctx context.Context, c *runtime.Call, svc *model.Service) error {
	if err := f.retired(ctx, c, svc); err != nil {
		return err
	}
	var create []model.ServiceNode
	pending, workersInFlight, othersBusy := 0, 0, false
	for _, n := range svc.Nodes {
		vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, n.VMID)
		if errors.Is(err, errs.ErrNotFound) {
			create = append(create, n)
			if n.Role != model.RoleWorker {
				othersBusy = true
			}
			continue
		}
		if err != nil {
			return err
		}
		switch {
		case vm.State == model.VMError && vm.ActiveTask == "":
			return f.nodeFailed(ctx, c, n, vm)
		case vm.State == model.VMCreating || vm.ActiveTask != "":
			pending++
			if n.Role == model.RoleWorker {
				workersInFlight++
			} else {
				othersBusy = true
			}
		}
	}
	var batch []model.ServiceNode
	room := max(svc.BatchSize, 1) - workersInFlight
	for _, n := range create {
		switch {
		case n.Role != model.RoleWorker:
			batch = append(batch, n)
		case !othersBusy && room > 0:
			batch = append(batch, n)
			room--
		}
	}
	if err := f.createNodes(ctx, c, svc, batch); err != nil {
		return err
	}
	if pending > 0 || len(create) > 0 {
		return f.await()
	}
	return nil
}

// nodeFailed is the error of a node whose VM's create failed: its failing step's.
func (f *Function) nodeFailed(ctx context.Context, c *runtime.Call, n model.ServiceNode, vm *model.VM) error {
	why := vm.StateReason
	if t, err := f.store.GetTask(ctx, childID(c.Task.ID, "create", n.VMID)); err == nil {
		if s := t.Failed(); s != nil && len(s.Errors) > 0 {
			why = s.Operation + ": " + s.Errors[0].Message
		}
	}
	if why == "" {
		why = "its VM is in ERROR"
	}
	return errs.New(errs.CodeStateError, "node %s-%d (VM %s) failed: %s", n.Role, n.Index, n.VMID, why).
		WithData("vmId", n.VMID)
}

// createNodes writes the VMs of nodes with their create tasks, sub-tasks of c's task
// that wake it when they end, in one atomic call. A node's VM is its role's template
// with the node's id, name, image and address.
func (f *Function) createNodes(ctx context.Context, c *runtime.Call, svc *model.Service, nodes []model.ServiceNode) error {
	if len(nodes) == 0 {
		return nil
	}
	spec := cluster.SpecOf(svc, nil)
	now := f.store.Now()
	vms := make([]*model.VM, 0, len(nodes))
	tasks := make([]*model.Task, 0, len(nodes))
	for _, n := range nodes {
		tmpl := svc.Templates[n.Role]
		if tmpl == nil {
			return errs.Permanent(fmt.Errorf("service %s has no template for role %s", svc.ID, n.Role))
		}
		if static(n.Role) && n.IP != "" {
			// A replacement takes the address its predecessor gave back.
			if err := f.store.ClaimIP(ctx, svc.SubnetID, nicOwner(n.VMID), n.IP); err != nil {
				return err
			}
		}
		vm := *tmpl
		vm.ID, vm.Name, vm.ServiceID = n.VMID, cluster.Hostname(spec, n.Role, n.Index), svc.ID
		vm.TenantID, vm.ProjectID, vm.SourceImageID = svc.TenantID, svc.ProjectID, n.ImageID
		vm.State, vm.CreatedAt, vm.PowerOn = model.VMCreating, now, true
		vm.Cost = nil // the service's reservation holds it
		vm.Tags = append(slices.Clone(tmpl.Tags), "service:"+svc.ID, "service-role:"+n.Role)
		vm.AntiAffinity = &model.AntiAffinity{Group: svc.ID + "/" + n.Role}
		vm.Disks = slices.Clone(tmpl.Disks)
		for i := range vm.Disks {
			vm.Disks[i].ID = fixedID(vm.ID, "disk", strconv.Itoa(i))
		}
		task := f.store.NewTask(childID(c.Task.ID, "create", n.VMID), string(events.VMCreate.Operation),
			model.Entity{ID: vm.ID, Kind: model.KindVM}, c.Task.Caller, operations(&events.VMCreate))
		task.TenantID, task.ProjectID, task.ParentID, task.WakesParent = svc.TenantID, svc.ProjectID, c.Task.ID, true
		vm.ActiveTask = task.ID
		vms, tasks = append(vms, &vm), append(tasks, task)
	}
	events.VMCreate.WithStart(ctx, source, svc.TenantID, tasks...)
	err := f.store.CreateServiceVMs(ctx, vms, tasks)
	if err != nil && errs.As(err).Code == errs.CodeNameTaken {
		return nil // written by an earlier run of this step
	}
	return err
}

func operations(c *events.Chain) []string {
	out := make([]string, len(c.Steps))
	for i, s := range c.Steps {
		out[i] = string(s.Operation)
	}
	return out
}

// retired is nil once every retiring VM is gone, and an await while some are not (retire).
func (f *Function) retired(ctx context.Context, c *runtime.Call, svc *model.Service) error {
	pending, err := f.retire(ctx, c, svc)
	if err != nil || !pending {
		return err
	}
	return f.await()
}

// retire deletes the retiring VMs, each by a delete chain that is a sub-task of c's task,
// and forgets those that are gone. It reports whether some are still there. A VM another
// task holds (its create) is waited for; a VM whose delete failed fails the step.
func (f *Function) retire(ctx context.Context, c *runtime.Call, svc *model.Service) (pending bool, err error) {
	var gone []string
	for _, id := range svc.Retiring {
		vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, id)
		if errors.Is(err, errs.ErrNotFound) {
			gone = append(gone, id)
			continue
		}
		if err != nil {
			return false, err
		}
		pending = true
		if vm.ActiveTask != "" {
			continue // its create, or its delete, is running
		}
		del := childID(c.Task.ID, "delete", id)
		if t, err := f.store.GetTask(ctx, del); err == nil && t.State == model.TaskError {
			why := "failed"
			if s := t.Failed(); s != nil && len(s.Errors) > 0 {
				why = s.Operation + ": " + s.Errors[0].Message
			}
			return false, errs.New(errs.CodeStateError, "could not delete node VM %s: %s", id, why).WithData("vmId", id)
		}
		task := f.store.NewTask(del, string(events.VMDelete.Operation), model.Entity{ID: id, Kind: model.KindVM},
			c.Task.Caller, operations(&events.VMDelete))
		task.TenantID, task.ProjectID, task.ParentID, task.WakesParent = vm.TenantID, vm.ProjectID, c.Task.ID, true
		events.VMDelete.WithStart(ctx, source, vm.TenantID, task)
		_, err = store.StartTask(ctx, f.store, model.KindVM, id, task, func(v *model.VM) error {
			if err := domain.VMMayStart(v.ID, v.State, v.ActiveTask, events.VMDelete.Name, events.VMDelete.Operation); err != nil {
				return err
			}
			v.ActiveTask, v.State = task.ID, domain.VMStartState(events.VMDelete.Name)
			return nil
		})
		if err != nil && !errors.Is(err, errs.ErrNotFound) && errs.As(err).Code != errs.CodeConcurrentTask {
			return false, err
		}
	}
	if len(gone) > 0 {
		if _, err := store.Update(ctx, f.store, model.KindService, svc.ID, func(s *model.Service) error {
			s.Retiring = slices.DeleteFunc(s.Retiring, func(id string) bool { return slices.Contains(gone, id) })
			return nil
		}); err != nil {
			return false, err
		}
		svc.Retiring = slices.DeleteFunc(svc.Retiring, func(id string) bool { return slices.Contains(gone, id) })
		if err := f.store.ForgetNodeReports(ctx, svc.ID, gone...); err != nil {
			return false, err
		}
	}
	return pending, nil
}

// replan applies plan to the service once per key (a task, or a task and what it plans
// next): a replay of the step finds the plan made and goes on with it.
func (f *Function) replan(ctx context.Context, svc *model.Service, key string, plan func(*model.Service) error) (*model.Service, error) {
	if svc.Plan == key {
		return svc, nil
	}
	return store.Update(ctx, f.store, model.KindService, svc.ID, func(s *model.Service) error {
		if s.Plan == key {
			return store.ErrNoChange
		}
		if err := plan(s); err != nil {
			return err
		}
		s.Plan = key
		return nil
	})
}

// retireAll deletes every node's VM (a failed create's undo, the delete chain).
func (f *Function) retireAll(ctx context.Context, c *runtime.Call, svc *model.Service) error {
	svc, err := f.replan(ctx, svc, c.Task.ID+"/retire", func(s *model.Service) error {
		for _, n := range s.Nodes {
			if !slices.Contains(s.Retiring, n.VMID) {
				s.Retiring = append(s.Retiring, n.VMID)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return f.retired(ctx, c, svc)
}

// newNode is a node planned by task, replacing old (by the same role, index and address)
// or new ("" old), on image.
func newNode(task, old string, role string, index int, ip, image string) model.ServiceNode {
	return model.ServiceNode{VMID: fixedID(task, "node", role, strconv.Itoa(index), old), Role: role, Index: index,
		IP: ip, ImageID: image, Task: task}
}

// resize plans the task's worker count once (new workers appended, the newest retired),
// then converges.
func (f *Function) resize(ctx context.Context, c *runtime.Call, svc *model.Service) error {
	want, err := strconv.Atoi(c.Task.Properties[model.PropWorkerCount])
	if err != nil {
		return errs.Permanent(fmt.Errorf("resize task %s carries no worker count", c.Task.ID))
	}
	svc, err = f.replan(ctx, svc, c.Task.ID, func(s *model.Service) error {
		var workers []model.ServiceNode
		for _, n := range s.Nodes {
			if n.Role == model.RoleWorker {
				workers = append(workers, n)
			}
		}
		for k := len(workers); k < want; k++ {
			s.NextIndex++
			s.Nodes = append(s.Nodes, newNode(c.Task.ID, "", model.RoleWorker, s.NextIndex, "", s.ImageID))
		}
		if len(workers) > want {
			slices.SortFunc(workers, func(a, b model.ServiceNode) int { return b.Index - a.Index })
			for _, n := range workers[:len(workers)-want] {
				s.Retiring = append(s.Retiring, n.VMID)
			}
			s.Nodes = slices.DeleteFunc(s.Nodes, func(n model.ServiceNode) bool { return slices.Contains(s.Retiring, n.VMID) })
		}
		return nil
	})
	if err != nil {
		return err
	}
	return f.converge(ctx, c, svc)
}

// unresize deletes the workers the task added.
func (f *Function) unresize(ctx context.Context, c *runtime.Call, svc *model.Service) error {
	svc, err := store.Update(ctx, f.store, model.KindService, svc.ID, func(s *model.Service) error {
		added := slices.DeleteFunc(slices.Clone(s.Nodes), func(n model.ServiceNode) bool { return n.Task != c.Task.ID })
		if len(added) == 0 {
			return store.ErrNoChange
		}
		for _, n := range added {
			s.Retiring = append(s.Retiring, n.VMID)
		}
		s.Nodes = slices.DeleteFunc(s.Nodes, func(n model.ServiceNode) bool { return n.Task == c.Task.ID })
		return nil
	})
	if err != nil {
		return err
	}
	return f.retired(ctx, c, svc)
}

// health is each node's health now, by its VM and its reports.
func (f *Function) health(ctx context.Context, svc *model.Service) (map[string]string, map[string]*model.VM, error) {
	reports, err := f.store.NodeReports(ctx, svc.ID)
	if err != nil {
		return nil, nil, err
	}
	now := f.now()
	out, vms := map[string]string{}, map[string]*model.VM{}
	for _, n := range svc.Nodes {
		state := ""
		vm, err := store.Get[model.VM](ctx, f.store, model.KindVM, n.VMID)
		switch {
		case err == nil:
			state, vms[n.VMID] = vm.State, vm
		case !errors.Is(err, errs.ErrNotFound):
			return nil, nil, err
		}
		out[n.VMID] = domain.NodeHealth(state, reports[n.VMID], now, time.Duration(svc.ReportEvery)*time.Millisecond)
	}
	return out, vms, nil
}

// late reports whether a node made at created (ms) that has not reported is past the
// service's ready timeout.
func (f *Function) late(svc *model.Service, created int64) bool {
	return svc.ReadyTimeout > 0 && f.store.Now()-created > svc.ReadyTimeout
}

// maintain plans, once, a replacement of every node whose VM is in ERROR or gone, whose
// guest stopped reporting, or that never reported within the ready timeout; then
// converges.
func (f *Function) maintain(ctx context.Context, c *runtime.Call, svc *model.Service) error {
	health, vms, err := f.health(ctx, svc)
	if err != nil {
		return err
	}
	svc, err = f.replan(ctx, svc, c.Task.ID, func(s *model.Service) error {
		for i, n := range s.Nodes {
			h := health[n.VMID]
			stuck := h == domain.NodePending && vms[n.VMID] != nil && f.late(s, vms[n.VMID].CreatedAt)
			if h != domain.NodeError && h != domain.NodeNotReporting && !stuck {
				continue
			}
			s.Retiring = append(s.Retiring, n.VMID)
			s.Nodes[i] = newNode(c.Task.ID, n.VMID, n.Role, n.Index, n.IP, s.ImageID)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return f.converge(ctx, c, svc)
}

// waitReady awaits every node's first report; nodes past the ready timeout fail it.
func (f *Function) waitReady(ctx context.Context, c *runtime.Call, svc *model.Service) error {
	health, vms, err := f.health(ctx, svc)
	if err != nil {
		return err
	}
	var late []string
	deadline := int64(0)
	for _, n := range svc.Nodes {
		if h := health[n.VMID]; h == domain.NodeReady || h == domain.NodeNotReporting {
			continue
		}
		vm := vms[n.VMID]
		if vm == nil || vm.State == model.VMError {
			return errs.New(errs.CodeStateError, "node %s-%d (VM %s) is in ERROR or gone", n.Role, n.Index, n.VMID).WithData("vmId", n.VMID)
		}
		if f.late(svc, vm.CreatedAt) {
			late = append(late, fmt.Sprintf("%s-%d (VM %s)", n.Role, n.Index, n.VMID))
			continue
		}
		if d := vm.CreatedAt + svc.ReadyTimeout; deadline == 0 || d < deadline {
			deadline = d
		}
	}
	if len(late) > 0 {
		return errs.New(errs.CodeStateError, "nodes did not report ready within %s: %s",
			time.Duration(svc.ReadyTimeout)*time.Millisecond, strings.Join(late, ", "))
	}
	if deadline > 0 {
		return runtime.Await(time.UnixMilli(deadline))
	}
	return nil
}

// roll replaces the nodes one at a time with nodes on the task's image: the next is
// planned only once the last one's VM is made and its guest reported ready.
func (f *Function) roll(ctx context.Context, c *runtime.Call, svc *model.Service) error {
	target := c.Task.Properties[model.PropImageID]
	if target == "" {
		return errs.Permanent(fmt.Errorf("change_version task %s carries no image", c.Task.ID))
	}
	for {
		if err := f.converge(ctx, c, svc); err != nil {
			return err
		}
		health, vms, err := f.health(ctx, svc)
		if err != nil {
			return err
		}
		upgraded, next := 0, -1
		for i, n := range svc.Nodes {
			switch {
			case n.ImageID != target:
				if next < 0 {
					next = i
				}
			case n.Task == c.Task.ID && health[n.VMID] == domain.NodePending:
				if f.late(svc, vms[n.VMID].CreatedAt) {
					return errs.New(errs.CodeStateError, "node %s-%d (VM %s) on image %s did not report ready within %s",
						n.Role, n.Index, n.VMID, target, time.Duration(svc.ReadyTimeout)*time.Millisecond)
				}
				return runtime.Await(time.UnixMilli(vms[n.VMID].CreatedAt + svc.ReadyTimeout))
			default:
				upgraded++
			}
		}
		status := &model.UpgradeStatus{NewImageID: target, Total: len(svc.Nodes), Upgraded: upgraded,
			Message: fmt.Sprintf("%d of %d nodes upgraded", upgraded, len(svc.Nodes))}
		key := c.Task.ID + "/done"
		if next >= 0 {
			key = c.Task.ID + "/" + svc.Nodes[next].VMID
		}
		svc, err = f.replan(ctx, svc, key, func(s *model.Service) error {
			s.UpgradeStatus = status
			if next >= 0 {
				n := s.Nodes[next]
				s.Retiring = append(s.Retiring, n.VMID)
				s.Nodes[next] = newNode(c.Task.ID, n.VMID, n.Role, n.Index, n.IP, target)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if next < 0 {
			return nil
		}
	}
}
