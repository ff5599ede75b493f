package model

import "github.com/photon-cloud/photon/shared/domain"

// KindService is a service: a Kubernetes cluster or a Harbor registry made of node VMs.
const KindService = "service"

// Service types, as Photon 1.2 named them.
const (
	ServiceKubernetes = "KUBERNETES"
	ServiceHarbor     = "HARBOR"
)

// Service states, as Photon 1.2 named them.
const (
	ServiceCreating      = domain.ServiceCreating
	ServiceReady         = domain.ServiceReady
	ServiceResizing      = domain.ServiceResizing
	ServiceMaintenance   = domain.ServiceMaintenance
	ServiceError         = domain.ServiceError
	ServicePendingDelete = domain.ServicePendingDelete
)

// Node roles.
const (
	RoleEtcd   = "etcd"
	RoleMaster = "master"
	RoleWorker = "worker"
	RoleHarbor = "harbor"
)

// Service is a service's record. Its secrets (the cluster's PKI, the Harbor admin
// password) are kept apart, sealed (store.PutServiceSecrets), and never in this record.
type Service struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	TenantID  string `json:"tenantId"`
	ProjectID string `json:"projectId"`
	State     string `json:"state"`
	ImageID   string `json:"imageId"`
	SubnetID  string `json:"subnetId"`
	// The flavors the spec named: VMFlavor for etcd (and harbor) nodes, MasterFlavor and
	// WorkerFlavor for the others, DiskFlavor for every boot disk.
	VMFlavor     string `json:"vmFlavor,omitempty"`
	MasterFlavor string `json:"masterVmFlavor,omitempty"`
	WorkerFlavor string `json:"workerVmFlavor,omitempty"`
	DiskFlavor   string `json:"diskFlavor,omitempty"`
	WorkerCount  int    `json:"workerCount"`
	BatchSize    int    `json:"workerBatchExpansionSize"`
	// Extended are the extended properties users see (addresses, the network settings,
	// a Harbor's registry_ca_cert); secrets are not among them.
	Extended      map[string]string `json:"extendedProperties,omitempty"`
	ErrorReason   string            `json:"errorReason,omitempty"`
	UpgradeStatus *UpgradeStatus    `json:"upgradeStatus,omitempty"`
	// Cost is the whole cluster's cost, reserved against the project's quota under the
	// service's id; its node VMs carry no cost of their own.
	Cost []QuotaLineItem `json:"cost"`
	// Templates are the node VMs of each role as the gateway built and checked them
	// (flavor, image, boot disk, subnet, cost): a node is its role's template with an id.
	Templates map[string]*VM `json:"templates"`
	// Nodes are the VMs the service wants; Retiring those it is deleting.
	Nodes    []ServiceNode `json:"nodes"`
	Retiring []string      `json:"retiring,omitempty"`
	// LBAddress is the load balancer's (control plane endpoint's) address, held on the
	// subnet under the service's own owner key.
	LBAddress string `json:"lbAddress,omitempty"`
	// ReportEvery is how often (ms) a node's guest reports; a node silent for three
	// periods is not reporting.
	ReportEvery int64 `json:"reportEvery"`
	// ReportURL is the base URL of the API the nodes report to, ReportCA the PEM of the CA
	// they trust it by: the gateway's public address and roots when the service was made.
	ReportURL string `json:"reportUrl"`
	ReportCA  string `json:"reportCa,omitempty"`
	// ReadyTimeout (ms) bounds the wait for a node's first report.
	ReadyTimeout int64 `json:"readyTimeout"`
	// Plan is the task whose plan Nodes and Retiring are (replays do not plan again).
	Plan       string `json:"plan,omitempty"`
	NextIndex  int    `json:"nextIndex"`
	ActiveTask string `json:"activeTask,omitempty"`
	CreatedAt  int64  `json:"createdAt"`
}

// UpgradeStatus is how far a change_version has rolled a service's nodes.
type UpgradeStatus struct {
	NewImageID string `json:"newImageId"`
	Message    string `json:"upgradeMessage,omitempty"`
	Total      int    `json:"totalNodes"`
	Upgraded   int    `json:"numNodesUpgraded"`
	Result     string `json:"upgradeResultMessage,omitempty"`
}

// ServiceNode is one node VM of a service.
type ServiceNode struct {
	VMID    string `json:"vmId"`
	Role    string `json:"role"`
	Index   int    `json:"index"`
	IP      string `json:"ip,omitempty"`
	ImageID string `json:"imageId"`
	// Task is the task that planned the node (a resize's undo deletes the nodes it added).
	Task string `json:"task,omitempty"`
}

// ServiceType is an enabled service type and its image.
type ServiceType struct {
	Type    string `json:"type"`
	ImageID string `json:"imageId"`
}

// Task properties of the service operations: a resize's new worker count (and its cost,
// PropCost), a change_version's new image.
const (
	PropWorkerCount = "workerCount"
	PropImageID     = "imageId"
)
