// Package hostd is the daemon that drives one ESXi host for Photon. It serves the hostd.v1
// gRPC API (create a VM with a linked-clone boot disk, attach and detach disks, add and
// remove NICs, power operations, delete, report resources) on top of govmomi calls that
// run the same against a real ESXi host or govmomi's vcsim simulator (Sim).
//
// Every call is idempotent by the VM id it names: the VM's vSphere name is its Photon id,
// disks are named by their Photon ids and NICs are recorded in the VM's extraConfig, so a
// repeated call finds what the first one did and changes nothing. Calls for one VM are
// serialised; calls for different VMs run in parallel.
//
// vSphere faults are mapped to gRPC codes in one table (faults.go): codes that retrying
// cannot fix (NotFound, InvalidArgument, FailedPrecondition, ...) mark permanent errors for
// the function runtime, and everything else is Unavailable, which it retries.
//
// The daemon registers its host (capacity, datastores with the image disks they hold,
// networks) in Redis and heartbeats its usage, which placement reads.
package hostd
