package model

// Network entity kinds.
const (
	KindRouter = "router"
	KindSubnet = "subnet"
)

// Router and subnet states.
const (
	NetCreating = "CREATING"
	NetReady    = "READY"
	NetDeleting = "DELETING"
	NetError    = "ERROR"
)

// Router is a project's address space and, with NSX, its tier-1 logical router.
type Router struct {
	ID            string `json:"id"`
	Name          string `json:"name"`
	TenantID      string `json:"tenantId"`
	ProjectID     string `json:"projectId"`
	PrivateIPCIDR string `json:"privateIpCidr"`
	State         string `json:"state"`
	// NSXID is the NSX logical router's id, once the create chain made it ("" without NSX).
	NSXID      string `json:"nsxId,omitempty"`
	ActiveTask string `json:"activeTask,omitempty"`
	CreatedAt  int64  `json:"createdAt"`
	// Description is free text, as the SDK's network create spec gives it.
	Description string `json:"description,omitempty"`
}

// Subnet is a network VMs get a NIC on: a logical switch on a router (RouterID set), or,
// without NSX, the hosts' port groups. A port-group subnet belongs to no project.
type Subnet struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Description   string   `json:"description,omitempty"`
	TenantID      string   `json:"tenantId,omitempty"`
	ProjectID     string   `json:"projectId,omitempty"`
	RouterID      string   `json:"routerId,omitempty"`
	PrivateIPCIDR string   `json:"privateIpCidr,omitempty"`
	Type          string   `json:"type,omitempty"`
	PortGroups    []string `json:"portGroups,omitempty"`
	State         string   `json:"state"`
	// SwitchID is the NSX logical switch's id, once the create chain made it.
	SwitchID   string `json:"switchId,omitempty"`
	ActiveTask string `json:"activeTask,omitempty"`
	CreatedAt  int64  `json:"createdAt"`
}

// SystemScope is the default-subnet scope of port-group subnets, which serve every project.
const SystemScope = "system"

// Scope is the scope the subnet can be the default of: its project, or the system.
func (sn *Subnet) Scope() string {
	if sn.ProjectID == "" {
		return SystemScope
	}
	return sn.ProjectID
}
