package model

import "github.com/photon-cloud/photon/shared/domain"

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
	// StateReason says why a disk is in ERROR when no task put it there
	// (ReasonFileMissing).
	StateReason string   `json:"stateReason,omitempty"`
	Tags        []string `json:"tags,omitempty"`
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
	// IAM raises roles on the disk above its project's (policy.ResourceRole).
	IAM []PolicyEntry `json:"iam,omitempty"`
	// IAMShape is the shape its policy was last set or changed in (gateway: "entries" or
	// "bindings"), the shape a read answers by default.
	IAMShape string `json:"iamShape,omitempty"`
}

// Task properties that carry an operation's argument: the disk a VM's attach or detach
// acts on, the ISO, a resize's new flavor.
const (
	PropDiskID  = "diskId"
	PropISOName = "isoName" // the uploaded ISO's file name
	PropISOSize = "isoSize" // and its size in bytes
	// A resize's new flavor, size and cost (a JSON list of quota line items).
	PropFlavorID = "flavorId"
	PropFlavor   = "flavor"
	PropCPU      = "cpu"
	PropMemoryMB = "memoryMb"
	PropCost     = "cost"
)
