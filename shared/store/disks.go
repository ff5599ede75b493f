package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
)

// KindDisk is a persistent disk: a disk of its own, outside any VM, that VMs attach and
// detach and that outlives them.
const KindDisk = "disk"

// Persistent disk states: package domain owns them.
const (
	DiskCreating = domain.DiskCreating
	DiskDetached = domain.DiskDetached
	DiskAttached = domain.DiskAttached
	DiskDeleting = domain.DiskDeleting
	DiskError    = domain.DiskError
)

// PersistentDisk is a persistent disk and where it lives: the host and datastore that
// hold its file once it is created.
type PersistentDisk struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	TenantID   string          `json:"tenantId"`
	ProjectID  string          `json:"projectId"`
	FlavorID   string          `json:"flavorId"`
	Flavor     string          `json:"flavor"`
	CapacityGB int32           `json:"capacityGb"`
	Cost       []QuotaLineItem `json:"cost"`
	State      string          `json:"state"`
	Tags       []string        `json:"tags,omitempty"`
	// Affinities place the disk: a vm affinity puts it on that VM's datastore.
	Affinities []Locality `json:"affinities,omitempty"`
	HostID     string     `json:"hostId,omitempty"`
	// Datastore is the datastore's name on HostID; DatastoreID its id (the same on every
	// host that mounts a shared datastore).
	Datastore   string `json:"datastore,omitempty"`
	DatastoreID string `json:"datastoreId,omitempty"`
	// VMs are the VMs it is attached to (one at most).
	VMs        []string `json:"vms,omitempty"`
	ActiveTask string   `json:"activeTask,omitempty"`
	CreatedAt  int64    `json:"createdAt"`
}

// Task properties that carry an operation's argument: the disk a VM's attach or detach
// acts on, the metadata to set (a JSON object of strings), the tag to add, the ISO, a
// resize's new flavor.
const (
	PropDiskID   = "diskId"
	PropMetadata = "metadata"
	PropTag      = "tag"
	PropISOName  = "isoName" // the uploaded ISO's file name
	PropISOSize  = "isoSize" // and its size in bytes
	// A resize's new flavor, size and cost (a JSON list of quota line items).
	PropFlavorID = "flavorId"
	PropFlavor   = "flavor"
	PropCPU      = "cpu"
	PropMemoryMB = "memoryMb"
	PropCost     = "cost"
)

func (s *Store) disksIdx(project string) string { return s.key("idx", "disks", project) }

// CreateDisk writes a new disk (CREATING) and its task; its name is unique in its project.
func (s *Store) CreateDisk(ctx context.Context, d *PersistentDisk, task *Task) error {
	b := new(Batch).Require(s.entityKey(KindProject, d.ProjectID), "Project #"+d.ProjectID).
		Unique(s.name(KindDisk, d.ProjectID, d.Name), d.ID, fmt.Sprintf("disk name %q", d.Name)).
		Put(s.entityKey(KindDisk, d.ID), d).
		Index(s.disksIdx(d.ProjectID), indexMember(d.CreatedAt, d.ID))
	s.useFlavors(b, d.ID, d.FlavorID)
	return s.Apply(ctx, s.AddTask(b, task))
}

// RemoveDisk deletes a disk's record, freeing its name.
func (s *Store) RemoveDisk(ctx context.Context, d *PersistentDisk) error {
	b := new(Batch).Del(s.entityKey(KindDisk, d.ID)).
		DelIfOwner(s.name(KindDisk, d.ProjectID, d.Name), d.ID).
		Unindex(s.disksIdx(d.ProjectID), indexMember(d.CreatedAt, d.ID))
	s.unuseFlavors(b, d.ID, d.FlavorID)
	return s.Apply(ctx, b)
}

// ListDisks pages through a project's disks.
func (s *Store) ListDisks(ctx context.Context, projectID string, size int, cursor string) (Page[PersistentDisk], error) {
	return List[PersistentDisk](ctx, s, s.disksIdx(projectID), KindDisk, size, cursor)
}

// DiskByName finds a project's disk by name ("" when there is none).
func (s *Store) DiskByName(ctx context.Context, projectID, name string) (*PersistentDisk, error) {
	id, err := s.LookupName(ctx, KindDisk, projectID, name)
	if err != nil || id == "" {
		return nil, err
	}
	return Get[PersistentDisk](ctx, s, KindDisk, id)
}

// StartTaskOnPair is StartTask for a task that holds two entities at once (a VM and the
// disk it attaches): fa and fb check and change them, and both updates and the task are
// written atomically, or nothing is.
func StartTaskOnPair[A, B any](ctx context.Context, s *Store, kindA, idA, kindB, idB string, task *Task,
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
	_, err := Update(ctx, s, KindDisk, diskID, func(d *PersistentDisk) error {
		if !slices.Contains(d.VMs, vmID) {
			return ErrNoChange
		}
		d.VMs = slices.DeleteFunc(d.VMs, func(x string) bool { return x == vmID })
		if len(d.VMs) == 0 {
			d.State = DiskDetached
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
	Cost             []QuotaLineItem
}

// ResizeOf reads a resize task's properties.
func ResizeOf(t *Task) (Resize, error) {
	r := Resize{FlavorID: t.Properties[PropFlavorID], Flavor: t.Properties[PropFlavor]}
	cpu, err1 := strconv.ParseInt(t.Properties[PropCPU], 10, 32)
	mem, err2 := strconv.ParseInt(t.Properties[PropMemoryMB], 10, 64)
	err3 := json.Unmarshal([]byte(t.Properties[PropCost]), &r.Cost)
	if err := errors.Join(err1, err2, err3); err != nil || r.FlavorID == "" {
		return r, errs.Invalid("task %s carries no resize: %v", t.ID, err)
	}
	r.CPU, r.MemoryMB = int32(cpu), mem
	return r, nil
}

// Props are the task properties of the resize.
func (r Resize) Props() map[string]string {
	cost, _ := json.Marshal(r.Cost)
	return map[string]string{PropFlavorID: r.FlavorID, PropFlavor: r.Flavor, PropCPU: strconv.Itoa(int(r.CPU)),
		PropMemoryMB: strconv.FormatInt(r.MemoryMB, 10), PropCost: string(cost)}
}

// Resized records a VM's new flavor, size and cost, and moves its flavor use from the old
// flavor to the new one. Recording it twice changes nothing.
func (s *Store) Resized(ctx context.Context, vmID string, r Resize) error {
	var old string
	vm, err := Update(ctx, s, KindVM, vmID, func(v *VM) error {
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
