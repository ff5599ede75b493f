package model

// The drift between what a host holds and what Photon records, as the reconciler
// (functions/reconcile) finds it.

// ReasonNotOnHost is the StateReason of a VM the reconciler found gone from its host: it
// stays in ERROR, holding its reservations, until it is deleted.
const ReasonNotOnHost = "not on its host"

// ReasonFileMissing is the StateReason of a persistent disk whose file the reconciler
// found gone from its datastore.
const ReasonFileMissing = "its file is not on its datastore"

// KindOrphan is something on a host that Photon's records do not account for, as the
// reconciler reported it: a VM or a persistent disk file Photon does not know, or a NIC
// or an ISO of a Photon VM that its record does not have.
const KindOrphan = "orphan"

// What an orphan is.
const (
	OrphanVM   = "vm"
	OrphanDisk = "disk"
	OrphanNIC  = "nic"
	OrphanISO  = "iso"
)

// Orphan states: REPORTED is left on the host for an administrator; REMOVING is being
// removed from the host by the reconciler's remove policy (the record goes once it is).
const (
	OrphanReported = "REPORTED"
	OrphanRemoving = "REMOVING"
)

// Orphan is one thing on a host that Photon does not account for. Its id is derived from
// the host, the type and the name (OrphanID), so every pass names it alike.
type Orphan struct {
	ID     string `json:"id"`
	HostID string `json:"hostId"`
	Type   string `json:"type"` // OrphanVM, OrphanDisk, OrphanNIC, OrphanISO
	// Name is the VM's name in vSphere, the disk's file ("[datastore] disks/x.vmdk"), or,
	// for a NIC or ISO, the NIC's id or the ISO's file.
	Name string `json:"name"`
	// VMID is the Photon VM the object claims (a VM's photon.vmId) or belongs to (a NIC
	// or ISO); empty for a VM made outside Photon.
	VMID        string `json:"vmId,omitempty"`
	State       string `json:"state"`
	StateReason string `json:"stateReason"`
	// FirstSeen is when a pass first saw it (unix ms); ReportedAt when a second pass in a
	// row confirmed it.
	FirstSeen  int64 `json:"firstSeen"`
	ReportedAt int64 `json:"reportedAt"`
}
