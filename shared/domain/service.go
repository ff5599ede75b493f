package domain

import "time"

// Service states, as Photon 1.2 named them (package model re-exports them).
const (
	ServiceCreating      = "CREATING"
	ServiceReady         = "READY"
	ServiceResizing      = "RESIZING"
	ServiceMaintenance   = "MAINTENANCE"
	ServiceError         = "ERROR"
	ServicePendingDelete = "PENDING_DELETE"
)

// The service chains and their operations.
const (
	ServiceCreate        ChainID = "service.create"
	ServiceDelete        ChainID = "service.delete"
	ServiceResize        ChainID = "service.resize"
	ServiceMaintain      ChainID = "service.trigger_maintenance"
	ServiceChangeVersion ChainID = "service.change_version"

	OpCreateService        Op = "CREATE_SERVICE"
	OpDeleteService        Op = "DELETE_SERVICE"
	OpResizeService        Op = "RESIZE_SERVICE"
	OpMaintainService      Op = "TRIGGER_SERVICE_MAINTENANCE"
	OpChangeServiceVersion Op = "CHANGE_SERVICE_VERSION"
	OpEnableServiceType    Op = "ENABLE_SERVICE_TYPE"
	OpDisableServiceType   Op = "DISABLE_SERVICE_TYPE"

	OpAllocateServiceAddresses Op = "ALLOCATE_SERVICE_ADDRESSES"
	OpReleaseServiceAddresses  Op = "RELEASE_SERVICE_ADDRESSES"
	OpIssueServicePKI          Op = "ISSUE_SERVICE_PKI"
	OpDeleteServicePKI         Op = "DELETE_SERVICE_PKI"
	OpCreateServiceNodes       Op = "CREATE_SERVICE_NODES"
	OpDeleteServiceNodes       Op = "DELETE_SERVICE_NODES"
	OpResizeServiceNodes       Op = "RESIZE_SERVICE_NODES"
	OpReplaceServiceNodes      Op = "REPLACE_SERVICE_NODES"
	OpRollServiceNodes         Op = "ROLL_SERVICE_NODES"
	OpWaitServiceNodes         Op = "WAIT_SERVICE_NODES_READY"
)

// ServiceEnd is what the end of a service chain makes of the service: a completed delete
// removes it; any other completed chain leaves it READY, any failed one ERROR (a failed
// create has released everything it held; the user deletes the service).
func ServiceEnd(chain ChainID, completed bool) End {
	switch {
	case chain == ServiceDelete && completed:
		return End{Remove: true}
	case completed:
		return End{State: ServiceReady}
	}
	return End{State: ServiceError}
}

// ServiceBusy is the state a service takes while chain runs on it.
func ServiceBusy(chain ChainID) string {
	switch chain {
	case ServiceCreate:
		return ServiceCreating
	case ServiceDelete:
		return ServicePendingDelete
	case ServiceResize:
		return ServiceResizing
	}
	return ServiceMaintenance
}

// Node health, as a service's nodes show it.
const (
	NodePending      = "PENDING"
	NodeReady        = "READY"
	NodeNotReporting = "NOT_REPORTING"
	NodeError        = "ERROR"
)

// StaleReports is how many report periods a node may miss before it is not reporting.
const StaleReports = 3

// NodeHealth is what a node is, from its VM's state ("" when its VM is gone) and when its
// guest last reported (0: never), at now, for a service whose guests report every
// reportEvery.
func NodeHealth(vmState string, lastReport int64, now time.Time, reportEvery time.Duration) string {
	switch {
	case vmState == "" || vmState == VMError:
		return NodeError
	case lastReport == 0:
		return NodePending
	case reportEvery > 0 && now.Sub(time.UnixMilli(lastReport)) > StaleReports*reportEvery:
		return NodeNotReporting
	}
	return NodeReady
}
