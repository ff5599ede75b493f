// Package hollow is a hollow host: a hostd Backend that keeps a host's VMs, their disks,
// NICs, ISO and power states, its persistent disks, image files and uploads in memory, a
// few hundred bytes per VM, and does no other work. It is a scale-test tool, never a
// default: `photon hostd --hollow`, `photon up --hollow-hosts N` and `photon-loadtest
// --hollow-hosts N` run hosts of it so that a burst measures Photon rather than the
// simulator's SOAP work (govmomi's vcsim, hostdsim).
//
// hostd serves it as it serves an ESXi host (hostd.StartBackend): the same gRPC layer,
// the same checks of every request, per-VM, disk and file serialisation, registration and
// heartbeats through the registrar. Only the host work is the hollow host's, and it
// answers as the vSphere backend does: the same idempotency by VM id, disk id and
// datastore path, the same gRPC codes (NotFound for a VM, datastore, network or file the
// host lacks, FailedPrecondition for a power state a call cannot act in, AlreadyExists,
// Unimplemented for a console ticket) and the same datastore layout ("<vm id>/" for a VM
// and its ephemeral disks, "disks/<id>.vmdk" for persistent disks, image disks under
// "images/"). hostd's contract tests run against both backends.
//
// What is not there: no guest runs, so a VM with a #cloud-config in its guestinfo never
// phones home (hostdsim's simulated guests do); the guestinfo a create sets is kept and
// read back as vSphere's extraConfig is (Host.VM). A disk holds no data: an uploaded file
// keeps its first 64 KiB (MaxKept) and its size. A powered-on VM uses all its memory and
// a tenth of its vCPUs' clock (the heartbeat's usage). There is no console. Each call
// takes a latency drawn from Options.Latency (none by default), in parallel with other
// calls as a host's tasks are.
//
// Host also has what an operator or a guest does beside hostd, for tests and drills:
// destroy a VM or make one behind hostd's back, report a guest's address, fail calls.
package hollow
