package model

import "github.com/photon-cloud/photon/shared/domain"

// Entity kinds, as Photon names them; also the middle part of entity keys.
const (
	KindTenant  = "tenant"
	KindProject = "project"
	KindFlavor  = "flavor"
	KindImage   = "image"
	KindVM      = "vm"
	KindTask    = "task"
	KindHost    = "host"
	KindZone    = "zone"
)

// VM states: package domain owns them and their transitions.
const (
	VMCreating  = domain.VMCreating
	VMStarted   = domain.VMStarted
	VMStopped   = domain.VMStopped
	VMSuspended = domain.VMSuspended
	VMDeleting  = domain.VMDeleting
	VMError     = domain.VMError
)

// QuotaLineItem is one cost or limit: key (e.g. "vm.memory"), value and unit.
type QuotaLineItem struct {
	Key   string  `json:"key"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Tenant is the top of the ownership tree.
type Tenant struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
	Tags           []string `json:"tags,omitempty"`
	CreatedAt      int64    `json:"createdAt"`
	// IAM grants roles on the tenant (and through it on all its projects).
	IAM []PolicyEntry `json:"iam,omitempty"`
	// IAMShape is the shape its policy was last set or changed in (gateway: "entries" or
	// "bindings"), the shape a read answers by default.
	IAMShape string `json:"iamShape,omitempty"`
}

// Project belongs to a tenant and holds a quota.
type Project struct {
	ID             string          `json:"id"`
	TenantID       string          `json:"tenantId"`
	Name           string          `json:"name"`
	TicketName     string          `json:"ticketName,omitempty"`
	Limits         []QuotaLineItem `json:"limits,omitempty"`
	SecurityGroups []string        `json:"securityGroups,omitempty"`
	Tags           []string        `json:"tags,omitempty"`
	CreatedAt      int64           `json:"createdAt"`
	// PlacementPolicy: PlacementSpread or PlacementPack for the project's VMs whose flavor
	// names none; empty is spread.
	PlacementPolicy string `json:"placementPolicy,omitempty"`
	// IAM grants roles on the project.
	IAM []PolicyEntry `json:"iam,omitempty"`
	// IAMShape is the shape its policy was last set or changed in (gateway: "entries" or
	// "bindings"), the shape a read answers by default.
	IAMShape string `json:"iamShape,omitempty"`
}

// Flavor kinds.
const (
	FlavorVM             = "vm"
	FlavorEphemeralDisk  = "ephemeral-disk"
	FlavorPersistentDisk = "persistent-disk"
)

// Flavor is a named cost list for VMs or disks.
type Flavor struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Kind      string          `json:"kind"`
	Cost      []QuotaLineItem `json:"cost"`
	State     string          `json:"state"`
	CreatedAt int64           `json:"createdAt"`
	// PlacementPolicy (vm flavors): PlacementSpread or PlacementPack; empty is spread.
	PlacementPolicy string `json:"placementPolicy,omitempty"`
}

// Image is a disk image VMs boot from.
type Image struct {
	ID              string `json:"id"`
	Name            string `json:"name"`
	State           string `json:"state"`
	ReplicationType string `json:"replicationType"`
	DiskPath        string `json:"diskPath"`
	Size            int64  `json:"size"`
	CreatedAt       int64  `json:"createdAt"`
	// ProjectID scopes the image to a project (and TenantID to its tenant); empty is a
	// public image every project may use.
	ProjectID string `json:"projectId,omitempty"`
	TenantID  string `json:"tenantId,omitempty"`
	// IAM grants roles on the image: owners manage it, contributors may make VMs of it
	// (sharing a project's image beyond its project), viewers see it.
	IAM []PolicyEntry `json:"iam,omitempty"`
	// IAMShape is the shape its policy was last set or changed in (gateway: "entries" or
	// "bindings"), the shape a read answers by default.
	IAMShape string         `json:"iamShape,omitempty"`
	Tags     []string       `json:"tags,omitempty"`
	Settings []ImageSetting `json:"settings,omitempty"`
	// Datastores are the ids of the datastores known to hold the image disk: those the
	// upload seeded, and every copy made since.
	Datastores []string `json:"datastores,omitempty"`
	// SeedTargets is how many image datastores the upload went to (Seeded of them took
	// it); ReplicationTargets is how many datastores an EAGER image is copied to.
	SeedTargets        int `json:"seedTargets,omitempty"`
	Seeded             int `json:"seeded,omitempty"`
	ReplicationTargets int `json:"replicationTargets,omitempty"`
	// SourceVMID is the VM an image was captured from (create_image).
	SourceVMID string `json:"sourceVmId,omitempty"`
	// ActiveTask is the task that holds the image (its create or delete).
	ActiveTask string `json:"activeTask,omitempty"`
}

// ImageSetting is a default setting of VMs made from an image (Photon's ImageSetting).
type ImageSetting struct {
	Name         string `json:"name"`
	DefaultValue string `json:"defaultValue"`
}

// Image states (Photon's). An image is usable by new VMs only when READY; a delete of an
// image VMs still use leaves it PENDING_DELETE until the last of them is deleted.
const (
	ImageCreating      = "CREATING"
	ImageReady         = "READY"
	ImageError         = "ERROR"
	ImagePendingDelete = "PENDING_DELETE"
	ImageDeleted       = "DELETED"
)

// Image replication types.
const (
	ReplicationEager    = "EAGER"
	ReplicationOnDemand = "ON_DEMAND"
)

// Disk is a disk attached to a VM.
type Disk struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	Flavor     string `json:"flavor"`
	FlavorID   string `json:"flavorId,omitempty"`
	CapacityGB int32  `json:"capacityGb"`
	Boot       bool   `json:"bootDisk"`
	State      string `json:"state"`
}

// ISO is an ISO file uploaded for a VM and attached to its CD-ROM.
type ISO struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Nic is a network adapter of a VM.
type Nic struct {
	ID      string `json:"id"`
	Network string `json:"network"`
	MAC     string `json:"macAddress,omitempty"`
	IP      string `json:"ipAddress,omitempty"`
}

// VM is a virtual machine and everything the chain decided about it.
type VM struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	TenantID      string `json:"tenantId"`
	ProjectID     string `json:"projectId"`
	FlavorID      string `json:"flavorId"`
	Flavor        string `json:"flavor"`
	SourceImageID string `json:"sourceImageId"`
	CPU           int32  `json:"cpu"`
	MemoryMB      int64  `json:"memoryMb"`
	State         string `json:"state"`
	// StateReason says why a VM is in ERROR when no task put it there (ReasonNotOnHost).
	StateReason string            `json:"stateReason,omitempty"`
	Disks       []Disk            `json:"disks"`
	Nics        []Nic             `json:"nics,omitempty"`
	Cost        []QuotaLineItem   `json:"cost"`
	Tags        []string          `json:"tags,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
	Subnets     []string          `json:"subnets,omitempty"`
	// PowerOn is false when the VM is to be created powered off.
	PowerOn bool `json:"powerOn"`
	// Affinities and AntiAffinity constrain placement; Placement is SPREAD or PACK (from
	// the flavor, else the project; empty is SPREAD).
	Affinities   []Locality    `json:"affinities,omitempty"`
	AntiAffinity *AntiAffinity `json:"antiAffinity,omitempty"`
	Placement    string        `json:"placementPolicy,omitempty"`
	HostID       string        `json:"hostId,omitempty"`
	Datastore    string        `json:"datastore,omitempty"`
	// ISO is the ISO attached to the VM's CD-ROM, if any.
	ISO *ISO `json:"iso,omitempty"`
	// ActiveTask is the task that holds the VM; another mutation waits for it to end.
	ActiveTask string `json:"activeTask,omitempty"`
	CreatedAt  int64  `json:"createdAt"`
	// IAM raises roles on the VM above its project's (policy.ResourceRole).
	IAM []PolicyEntry `json:"iam,omitempty"`
	// IAMShape is the shape its policy was last set or changed in (gateway: "entries" or
	// "bindings"), the shape a read answers by default.
	IAMShape string `json:"iamShape,omitempty"`
	// FloatingIP is the VM's floating IP address, taken from the address table of system
	// subnet FloatingSubnet and mapped to the address of its NIC on FloatingNic.
	FloatingIP     string `json:"floatingIp,omitempty"`
	FloatingSubnet string `json:"floatingSubnet,omitempty"`
	FloatingNic    string `json:"floatingNic,omitempty"`
	// ServiceID is the service (a Kubernetes or Harbor cluster) the VM is a node of, if
	// any: its host gets the node's guestinfo at create (vmhost.GuestInfoSource).
	ServiceID string `json:"serviceId,omitempty"`
}

// Locality kinds of a VM's affinities. Photon's: host (a host id), availabilityZone (a zone
// id), vm (on the same host as that VM), disk (on the datastore of that persistent disk),
// datastore (a datastore id or name). Added: hostTag (the host carries the tag),
// datastoreTag and datastoreType (the VM's datastore has the tag / is of the type).
const (
	LocalityHost          = "host"
	LocalityZone          = "availabilityZone"
	LocalityVM            = "vm"
	LocalityDisk          = "disk"
	LocalityDatastore     = "datastore"
	LocalityHostTag       = "hostTag"
	LocalityDatastoreTag  = "datastoreTag"
	LocalityDatastoreType = "datastoreType"
)

// Locality is one placement affinity of a VM (Photon's LocalitySpec).
type Locality struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// AntiAffinity keeps the VMs of one group (per project) apart: at most MaxPerHost (default
// 1) on a host. Hard refuses the placement when no host is left under the cap; soft then
// places on the host with the fewest members of the group.
type AntiAffinity struct {
	Group      string `json:"group"`
	Hard       bool   `json:"hard"`
	MaxPerHost int32  `json:"maxPerHost,omitempty"`
}

// Placement policies.
const (
	PlacementSpread = "SPREAD"
	PlacementPack   = "PACK"
)
