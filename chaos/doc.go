// Package chaos deploys Photon as an operator runs it, each part a process of its own on
// this machine, drives a seeded mix of work through the public REST API while it SIGKILLs
// and restarts the parts on a schedule, and then checks what is left against what the
// simulated hosts really hold, read through govmomi and not through Photon.
//
// The deployment is the README's "The parts, separately": redis-server with AOF, a
// gateway, hostds each driving a simulated ESXi host (photon hostd --sim, joined with a
// token and keeping its certificate in --cert-dir), every function as its own process, the
// notifier, and a simulated NSX-T Manager for subnets' logical ports. Run starts it from a
// photon binary built from this tree, and its Result prints as the line
//
//	RESULT chaos tasks=N stuck=S lost=L duplicated=D leaked=K orphans=O
//
// where, once the tasks have ended and the checks hold, or else when the settle time ends
// (what Photon repairs in the background has until then): stuck counts tasks not
// COMPLETED or ERROR; lost counts acknowledged requests whose task Photon does not know,
// or whose completed create left no entity that the workload did not delete; duplicated
// counts Photon entities whose host objects are not exactly one (twins, and VMs or disks
// gone from their host while Photon still calls them settled), and keyed retries
// answered with another task; leaked counts reservations (host capacity, quota, subnet
// addresses) and NSX logical ports that do not match the live entities; orphans counts
// VMs and persistent disk files on the hosts that Photon does not know.
//
// Photon's records are read through the API as a system administrator where it shows
// them (entities, states, costs, quota usage, hosts' reserved capacity); what it does not
// show (the reservation records, NICs, subnets' address tables) is read from Redis, through
// shared/store's exported functions where it has them. The harness is a test tool: it
// works around nothing Photon does wrong, and it waits for tasks by polling with deadlines.
package chaos
