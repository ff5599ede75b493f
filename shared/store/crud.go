package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Index and name keys. Names are unique per scope: tenants globally, projects per tenant,
// flavors per kind.
func (s *Store) tenantsIdx() string               { return s.key("idx", "tenants") }
func (s *Store) projectsIdx(tenant string) string { return s.key("idx", "projects", tenant) }
func (s *Store) flavorsIdx() string               { return s.key("idx", "flavors") }
func (s *Store) vmsIdx(project string) string     { return s.key("idx", "vms", project) }
func (s *Store) name(kind, scope, name string) string {
	return s.key("name", kind, scope, name)
}

// LookupName returns the id that holds a unique name, or "".
func (s *Store) LookupName(ctx context.Context, kind, scope, name string) (string, error) {
	id, err := s.rdb.Get(ctx, s.name(kind, scope, name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return id, err
}

// CreateTenant writes the tenant and its (completed) task.
func (s *Store) CreateTenant(ctx context.Context, t *model.Tenant, task *model.Task) error {
	b := new(Batch).Unique(s.name(model.KindTenant, "", t.Name), t.ID, fmt.Sprintf("tenant name %q", t.Name)).
		Put(s.entityKey(model.KindTenant, t.ID), t).
		Index(s.tenantsIdx(), indexMember(t.CreatedAt, t.ID))
	return s.Apply(ctx, s.AddTask(b, task))
}

// DeleteTenant deletes a tenant that has no projects.
func (s *Store) DeleteTenant(ctx context.Context, t *model.Tenant, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(model.KindTenant, t.ID), "Tenant #"+t.ID).
		Empty(s.projectsIdx(t.ID), "Tenant #"+t.ID+" (it has projects)").
		Del(s.entityKey(model.KindTenant, t.ID)).
		Del(s.tenantQuotaKey(t.ID)).
		DelIfOwner(s.name(model.KindTenant, "", t.Name), t.ID).
		Unindex(s.tenantsIdx(), indexMember(t.CreatedAt, t.ID))
	return s.Apply(ctx, s.AddTask(b, task))
}

// ListTenants pages through tenants.
func (s *Store) ListTenants(ctx context.Context, size int, cursor string) (Page[model.Tenant], error) {
	return List[model.Tenant](ctx, s, s.tenantsIdx(), model.KindTenant, size, cursor)
}

// CreateProject writes the project, its quota limits and its task, if its tenant exists.
func (s *Store) CreateProject(ctx context.Context, p *model.Project, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(model.KindTenant, p.TenantID), "Tenant #"+p.TenantID).
		Unique(s.name(model.KindProject, p.TenantID, p.Name), p.ID, fmt.Sprintf("project name %q", p.Name)).
		Put(s.entityKey(model.KindProject, p.ID), p).
		Index(s.projectsIdx(p.TenantID), indexMember(p.CreatedAt, p.ID))
	if len(p.Limits) > 0 {
		b.HashSet(s.quotaKey(p.ID), limitFields(p.Limits))
	}
	return s.Apply(ctx, s.AddTask(b, task))
}

// DeleteProject deletes a project that has no VMs, with its quota.
func (s *Store) DeleteProject(ctx context.Context, p *model.Project, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(model.KindProject, p.ID), "Project #"+p.ID).
		Empty(s.vmsIdx(p.ID), "Project #"+p.ID+" (it has VMs)").
		Empty(s.disksIdx(p.ID), "Project #"+p.ID+" (it has disks)").
		Empty(s.servicesIdx(p.ID), "Project #"+p.ID+" (it has services)").
		Del(s.entityKey(model.KindProject, p.ID)).
		Del(s.quotaKey(p.ID)).
		DelIfOwner(s.name(model.KindProject, p.TenantID, p.Name), p.ID).
		Unindex(s.projectsIdx(p.TenantID), indexMember(p.CreatedAt, p.ID))
	return s.Apply(ctx, s.AddTask(b, task))
}

// ListProjects pages through a tenant's projects.
func (s *Store) ListProjects(ctx context.Context, tenantID string, size int, cursor string) (Page[model.Project], error) {
	return List[model.Project](ctx, s, s.projectsIdx(tenantID), model.KindProject, size, cursor)
}

// CreateFlavor writes the flavor and its task.
func (s *Store) CreateFlavor(ctx context.Context, f *model.Flavor, task *model.Task) error {
	b := new(Batch).Unique(s.name(model.KindFlavor, f.Kind, f.Name), f.ID, fmt.Sprintf("%s flavor name %q", f.Kind, f.Name)).
		Put(s.entityKey(model.KindFlavor, f.ID), f).
		Index(s.flavorsIdx(), indexMember(f.CreatedAt, f.ID))
	return s.Apply(ctx, s.AddTask(b, task))
}

// flavorUseIdx indexes the VMs and disks that use a flavor, which may not be deleted
// while it has any.
func (s *Store) flavorUseIdx(flavor string) string { return s.key("idx", "flavoruse", flavor) }

func (s *Store) useFlavors(b *Batch, user string, flavors ...string) {
	for _, f := range flavors {
		b.Index(s.flavorUseIdx(f), user)
	}
}

func (s *Store) unuseFlavors(b *Batch, user string, flavors ...string) {
	for _, f := range flavors {
		b.Unindex(s.flavorUseIdx(f), user)
	}
}

// vmFlavors are the ids of the flavors a VM uses: its own and its disks'.
func vmFlavors(vm *model.VM) []string {
	var out []string
	for _, id := range append([]string{vm.FlavorID}, diskFlavors(vm.Disks)...) {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func diskFlavors(ds []model.Disk) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.FlavorID)
	}
	return out
}

// DeleteFlavor deletes a flavor that no VM or disk uses.
func (s *Store) DeleteFlavor(ctx context.Context, f *model.Flavor, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(model.KindFlavor, f.ID), "Flavor #"+f.ID).
		Empty(s.flavorUseIdx(f.ID), fmt.Sprintf("%s flavor %q (VMs or disks use it)", f.Kind, f.Name)).
		Del(s.entityKey(model.KindFlavor, f.ID)).
		DelIfOwner(s.name(model.KindFlavor, f.Kind, f.Name), f.ID).
		Unindex(s.flavorsIdx(), indexMember(f.CreatedAt, f.ID))
	return s.Apply(ctx, s.AddTask(b, task))
}

// FlavorByName finds a flavor by kind and name.
func (s *Store) FlavorByName(ctx context.Context, kind, name string) (*model.Flavor, error) {
	id, err := s.LookupName(ctx, model.KindFlavor, kind, name)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errs.New(errs.CodeNotFound, "%s flavor %q not found", kind, name).
			WithData("kind", "flavor").WithData("name", name)
	}
	return Get[model.Flavor](ctx, s, model.KindFlavor, id)
}

// ListFlavors pages through flavors.
func (s *Store) ListFlavors(ctx context.Context, size int, cursor string) (Page[model.Flavor], error) {
	return List[model.Flavor](ctx, s, s.flavorsIdx(), model.KindFlavor, size, cursor)
}

// CreateVM writes the VM (CREATING) and its task in one atomic call, if the project exists.
func (s *Store) CreateVM(ctx context.Context, vm *model.VM, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(model.KindProject, vm.ProjectID), "Project #"+vm.ProjectID).
		Put(s.entityKey(model.KindVM, vm.ID), vm).
		Index(s.vmsIdx(vm.ProjectID), indexMember(vm.CreatedAt, vm.ID))
	s.useFlavors(b, vm.ID, vmFlavors(vm)...)
	return s.Apply(ctx, s.AddTask(b, task))
}

// CreateVMs writes a bulk create in one atomic call: the VMs, their tasks and the parent
// task (tasks[i] creates vms[i]).
func (s *Store) CreateVMs(ctx context.Context, parent *model.Task, vms []*model.VM, tasks []*model.Task) error {
	if len(vms) == 0 {
		return nil
	}
	b := new(Batch).Require(s.entityKey(model.KindProject, vms[0].ProjectID), "Project #"+vms[0].ProjectID)
	for i, vm := range vms {
		b.Put(s.entityKey(model.KindVM, vm.ID), vm).Index(s.vmsIdx(vm.ProjectID), indexMember(vm.CreatedAt, vm.ID))
		s.useFlavors(b, vm.ID, vmFlavors(vm)...)
		s.AddTask(b, tasks[i])
	}
	return s.Apply(ctx, s.AddTask(b, parent))
}

// RemoveVM deletes the VM record and its index entry; the delete chain's last act.
func (s *Store) RemoveVM(ctx context.Context, vm *model.VM) error {
	b := new(Batch).Del(s.entityKey(model.KindVM, vm.ID)).
		Unindex(s.vmsIdx(vm.ProjectID), indexMember(vm.CreatedAt, vm.ID))
	s.unuseFlavors(b, vm.ID, vmFlavors(vm)...)
	return s.Apply(ctx, b)
}

// ListVMs pages through a project's VMs.
func (s *Store) ListVMs(ctx context.Context, projectID string, size int, cursor string) (Page[model.VM], error) {
	return List[model.VM](ctx, s, s.vmsIdx(projectID), model.KindVM, size, cursor)
}

// StartTask puts a new task in the store and marks the entity it acts on as held by it:
// fn checks and changes the entity (e.g. refuses a VM that another task holds). The entity
// update and the task are written atomically.
func StartTask[T any](ctx context.Context, s *Store, kind, id string, task *model.Task, fn func(*T) error) (*T, error) {
	key := s.entityKey(kind, id)
	var out *T
	err := s.watch(ctx, []string{key}, func(*redis.Tx) (*Batch, error) {
		v, err := Get[T](ctx, s, kind, id)
		if err != nil {
			return nil, err
		}
		if err := fn(v); err != nil {
			return nil, err
		}
		out = v
		return s.AddTask(new(Batch).Put(key, v), task), nil
	})
	return out, err
}
