package store

// Host states. Only READY hosts take new placements.
const (
	HostReady       = "READY"
	HostMaintenance = "MAINTENANCE"
	HostSuspended   = "SUSPENDED"
	HostError       = "ERROR"
)

// Host is what a hostd registers about its ESXi host. Placement reads it.
type Host struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	Address          string      `json:"address"` // hostd gRPC address, host:port
	AvailabilityZone string      `json:"availabilityZone,omitempty"`
	Tags             []string    `json:"usageTags,omitempty"`
	State            string      `json:"state"`
	EsxVersion       string      `json:"esxVersion,omitempty"`
	CPUCores         int32       `json:"cpuCores"`
	CPUMhz           int64       `json:"cpuMhz"`
	MemoryMB         int64       `json:"memoryMb"`
	Datastores       []Datastore `json:"datastores"`
	Networks         []string    `json:"networks"`
	RegisteredAt     int64       `json:"registeredAt"`  // unix ms
	LastHeartbeat    int64       `json:"lastHeartbeat"` // unix ms
	Usage            HostUsage   `json:"usage"`
}

// Datastore is one datastore of a host.
type Datastore struct {
	Name          string   `json:"name"`
	Type          string   `json:"type"`
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
}
