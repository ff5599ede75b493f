package model

// Host states. Only READY hosts take new placements. CREATING is a host registered through
// the API whose hostd has not joined yet; ERROR is set when a host misses its heartbeats
// (StateReason says so) and cleared by its next heartbeat.
const (
	HostCreating    = "CREATING"
	HostReady       = "READY"
	HostMaintenance = "MAINTENANCE"
	HostSuspended   = "SUSPENDED"
	HostError       = "ERROR"
)

// Host usage tags, as Photon's: CLOUD hosts run tenant VMs, MGMT hosts the control plane.
// Other tags are free-form and can be required by a VM's hostTag affinity.
const (
	HostTagCloud = "CLOUD"
	HostTagMgmt  = "MGMT"
)

// ReasonMissedHeartbeats is the StateReason of a host put in ERROR by the host monitor.
const ReasonMissedHeartbeats = "missed heartbeats"

// Host is what a hostd registers about its ESXi host. Placement reads it.
type Host struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Address          string            `json:"address"` // hostd gRPC address, host:port
	AvailabilityZone string            `json:"availabilityZone,omitempty"`
	Tags             []string          `json:"usageTags,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
	State            string            `json:"state"`
	StateReason      string            `json:"stateReason,omitempty"`
	EsxVersion       string            `json:"esxVersion,omitempty"`
	CPUCores         int32             `json:"cpuCores"`
	CPUMhz           int64             `json:"cpuMhz"`
	MemoryMB         int64             `json:"memoryMb"`
	Datastores       []Datastore       `json:"datastores"`
	Networks         []string          `json:"networks"`
	RegisteredAt     int64             `json:"registeredAt"`  // unix ms
	LastHeartbeat    int64             `json:"lastHeartbeat"` // unix ms
	Usage            HostUsage         `json:"usage"`
}

// HasTag reports whether the host carries tag t.
func (h *Host) HasTag(t string) bool {
	for _, x := range h.Tags {
		if x == t {
			return true
		}
	}
	return false
}

// Datastore types, as vSphere reports them.
const (
	DatastoreVMFS = "VMFS"
	DatastoreNFS  = "NFS"
	DatastoreVSAN = "vsan"
)

// Datastore is one datastore of a host. Its ID is the vSphere datastore id (shared
// datastores have the same ID on every host that mounts them); Name is unique per host.
type Datastore struct {
	ID            string   `json:"id,omitempty"`
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Tags          []string `json:"tags,omitempty"`
	CapacityBytes int64    `json:"capacityBytes"`
	FreeBytes     int64    `json:"freeBytes"`
	Images        []string `json:"images,omitempty"` // image disk paths relative to the datastore
}

// HostUsage is what a heartbeat reports: what the host itself measures.
type HostUsage struct {
	CPUUsedMhz   int64       `json:"cpuUsedMhz"`
	MemoryUsedMB int64       `json:"memoryUsedMb"`
	VMCount      int32       `json:"vmCount"`
	Datastores   []Datastore `json:"datastores,omitempty"`
	// VMPower is the power state of VMs the host lists, by VM id, read at ReadAt (ms, the
	// host's clock): of those that changed since its last heartbeat, and now and then of
	// all of them (hostd's PowerListEvery); store.HeartbeatHost brings the VM records in
	// line with it.
	VMPower map[string]string `json:"-"`
	ReadAt  int64             `json:"-"`
}

// Zone is an availability zone: a name hosts are grouped under and VMs can be placed in.
type Zone struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	State     string `json:"state"`
	CreatedAt int64  `json:"createdAt"`
}

// ZoneReady is the state of every availability zone: zones are records, nothing to
// provision.
const ZoneReady = "READY"

// HostReservation is what placement reserved for one VM.
type HostReservation struct {
	HostID    string `json:"hostId"`
	Datastore string `json:"datastore"`
	CPU       int64  `json:"cpu"`
	MemoryMB  int64  `json:"memoryMb"`
	DiskMB    int64  `json:"diskMb,omitempty"`
	// Group is the anti-affinity group key the VM counts in (store.GroupKey), if any.
	Group string `json:"group,omitempty"`
}
