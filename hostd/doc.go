// Package hostd is the daemon that drives one ESXi host for Photon. It serves the hostd.v1
// gRPC API on top of govmomi calls that run the same against a real ESXi host or govmomi's
// vcsim simulator (hostdsim): VMs (create with a linked-clone boot disk, power on, off, suspend,
// reset, resize, delete), their disks, NICs and ISO, persistent disks, image files
// (upload, copy, delete, make from a VM) and the host's resources.
//
// The host work is a Backend: Start drives an ESXi host with govmomi; StartBackend serves
// another, the hollow host of package hollow (in memory, for scale tests). The Server
// checks every request and fills in its defaults in one place (requests.go) for both.
//
// Every call is idempotent by the VM id, disk id or datastore path it names: the VM's
// vSphere name is its Photon id, disks are named by their Photon ids and NICs are recorded
// in the VM's extraConfig, so a repeated call finds what the first one did and changes
// nothing. Calls for one VM are serialised, and so are calls for one persistent disk or one
// target file; calls for different ones run in parallel.
//
// A call's vSphere work runs on when its caller goes away (a killed function): a task sent
// is a task the host runs, so hostd waits for it to its end and records what it did, and
// the VM, disk or file stays locked meanwhile. A repeat of the call (a redelivered event)
// then follows the work instead of sending the task again. A create finds the VM by its
// id among the VMs hostd listed at start and made since, looks on the host when an earlier
// create or destroy of it ended without hostd learning how, and destroys a second VM of
// the id that the host made anyway (vcsim gives a second VM of a name a folder of another
// name rather than refuse it).
//
// Where files live on a datastore says what they are: a VM and its ephemeral disks in the
// VM's folder "<vm id>/", destroyed with it; persistent disks in "disks/<disk id>.vmdk",
// which detaching or deleting a VM never deletes (DeleteVm detaches them first); image
// disks under "images/", listed in the host's resources.
//
// Calls that create, change, search or delete datastore files take one of the host's
// file-operation slots (Options.FileOps); a call takes its VM, disk or file lock first and
// the slot last, so no call holding a slot waits for a lock.
//
// vSphere faults are mapped to gRPC codes in one table (faults.go): codes that retrying
// cannot fix (NotFound, InvalidArgument, FailedPrecondition, ...) mark permanent errors for
// the function runtime, and everything else is Unavailable, which it retries.
//
// The daemon registers its host (capacity, datastores with the image disks they hold,
// networks) and heartbeats its usage and its VMs' power states, which placement reads, to
// the control plane's registrar (hostd.v1.Registrar, DialRegistrar) over mutual TLS with
// the host's certificate; it retries while the control plane is unreachable and serves
// meanwhile. A heartbeat carries the power states that changed since the last one the
// registrar took (less those it answered to report again: a VM a task held), and all of
// them on the first after a registration and every Options.PowerListEvery beats (the
// control plane reads a VM's record for each), so a heartbeat of a host whose VMs kept
// their states costs the control plane little; such a beat is sent quiet, unanswered,
// two in every three. hostd holds no credentials of the control
// plane's Redis, and no package of it imports a Redis client.
package hostd
