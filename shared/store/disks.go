package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

func (s *Store) disksIdx(project string) string { return s.key("idx", "disks", project) }

// CreateDisk writes a new disk (CREATING) and its task; its name is unique in its project.
func (s *Store) CreateDisk(ctx context.Context, d *model.PersistentDisk, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(model.KindProject, d.ProjectID), "Project #"+d.ProjectID).
		Unique(s.name(model.KindDisk, d.ProjectID, d.Name), d.ID, fmt.Sprintf("disk name %q", d.Name)).
		Put(s.entityKey(model.KindDisk, d.ID), d).
		Index(s.disksIdx(d.ProjectID), indexMember(d.CreatedAt, d.ID))
	s.useFlavors(b, d.ID, d.FlavorID)
	return s.Apply(ctx, s.AddTask(b, task))
}

// RemoveDisk deletes a disk's record, freeing its name.
func (s *Store) RemoveDisk(ctx context.Context, d *model.PersistentDisk) error {
	b := new(Batch).Del(s.entityKey(model.KindDisk, d.ID)).
		DelIfOwner(s.name(model.KindDisk, d.ProjectID, d.Name), d.ID).
		Unindex(s.disksIdx(d.ProjectID), indexMember(d.CreatedAt, d.ID))
	s.unuseFlavors(b, d.ID, d.FlavorID)
	return s.Apply(ctx, b)
}

// ListDisks pages through a project's disks.
func (s *Store) ListDisks(ctx context.Context, projectID string, size int, cursor string) (Page[model.PersistentDisk], error) {
	return List[model.PersistentDisk](ctx, s, s.disksIdx(projectID), model.KindDisk, size, cursor)
}

// DiskByName finds a project's disk by name ("" when there is none).
func (s *Store) DiskByName(ctx context.Context, projectID, name string) (*model.PersistentDisk, error) {
	id, err := s.LookupName(ctx, model.KindDisk, projectID, name)
	if err != nil || id == "" {
		return nil, err
	}
	return Get[model.PersistentDisk](ctx, s, model.KindDisk, id)
}

// StartTaskOnPair is StartTask for a task that holds two entities at once (a VM and the
// disk it attaches): fa and fb check and change them, and both updates and the task are
// written atomically, or nothing is.
func StartTaskOnPair[A, B any](ctx context.Context, s *Store, kindA, idA, kindB, idB string, task *model.Task,
	fa func(*A) error, fb func(*B) error) error {
	ka, kb := s.entityKey(kindA, idA), s.entityKey(kindB, idB)
	return s.watch(ctx, []string{ka, kb}, func(*redis.Tx) (*Batch, error) {
		a, err := Get[A](ctx, s, kindA, idA)
		if err != nil {
			return nil, err
		}
		b, err := Get[B](ctx, s, kindB, idB)
		if err != nil {
			return nil, err
		}
		if err := fa(a); err != nil {
			return nil, err
		}
		if err := fb(b); err != nil {
			return nil, err
		}
		return s.AddTask(new(Batch).Put(ka, a).Put(kb, b), task), nil
	})
}

// DetachedDisk records that the disk is no longer attached to the VM (after a detach, and
// when the VM is deleted: its persistent disks are detached and kept). A disk that is gone
// or was not attached to the VM is left as it is.
func (s *Store) DetachedDisk(ctx context.Context, diskID, vmID string) error {
	_, err := Update(ctx, s, model.KindDisk, diskID, func(d *model.PersistentDisk) error {
		if !slices.Contains(d.VMs, vmID) {
			return ErrNoChange
		}
		d.VMs = slices.DeleteFunc(d.VMs, func(x string) bool { return x == vmID })
		if len(d.VMs) == 0 {
			d.State = model.DiskDetached
		}
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}

// ISOPath is where the ISO uploaded for VM id lives on the VM's datastore (attach_iso);
// detaching it, or deleting the VM, deletes it. hostd, which has no store, decides it.
func ISOPath(vmID string) string { return hostdv1.ISOPath(vmID) }

// Resize is the new flavor a VM resize task carries.
type Resize struct {
	FlavorID, Flavor string
	CPU              int32
	MemoryMB         int64
	Cost             []model.QuotaLineItem
}

// ResizeOf reads a resize task's properties.
func ResizeOf(t *model.Task) (Resize, error) {
	r := Resize{FlavorID: t.Properties[model.PropFlavorID], Flavor: t.Properties[model.PropFlavor]}
	cpu, err1 := strconv.ParseInt(t.Properties[model.PropCPU], 10, 32)
	mem, err2 := strconv.ParseInt(t.Properties[model.PropMemoryMB], 10, 64)
	err3 := codec.Unmarshal([]byte(t.Properties[model.PropCost]), &r.Cost)
	if err := errors.Join(err1, err2, err3); err != nil || r.FlavorID == "" {
		return r, errs.Invalid("task %s carries no resize: %v", t.ID, err)
	}
	r.CPU, r.MemoryMB = int32(cpu), mem
	return r, nil
}

// Props are the task properties of the resize.
func (r Resize) Props() map[string]string {
	cost, _ := codec.Marshal(r.Cost)
	return map[string]string{model.PropFlavorID: r.FlavorID, model.PropFlavor: r.Flavor, model.PropCPU: strconv.Itoa(int(r.CPU)),
		model.PropMemoryMB: strconv.FormatInt(r.MemoryMB, 10), model.PropCost: string(cost)}
}

// Resized records a VM's new flavor, size and cost, and moves its flavor use from the old
// flavor to the new one. Recording it twice changes nothing.
func (s *Store) Resized(ctx context.Context, vmID string, r Resize) error {
	var old string
	vm, err := Update(ctx, s, model.KindVM, vmID, func(v *model.VM) error {
		if v.FlavorID == r.FlavorID {
			return ErrNoChange
		}
		old = v.FlavorID
		v.FlavorID, v.Flavor, v.CPU, v.MemoryMB, v.Cost = r.FlavorID, r.Flavor, r.CPU, r.MemoryMB, r.Cost
		return nil
	})
	if err != nil || old == "" {
		return err
	}
	b := new(Batch)
	s.useFlavors(b, vm.ID, r.FlavorID)
	if !slices.Contains(diskFlavors(vm.Disks), old) {
		s.unuseFlavors(b, vm.ID, old)
	}
	return s.Apply(ctx, b)
}
