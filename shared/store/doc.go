// Package store keeps Photon's data model (package model's records) in Redis: one JSON
// document per entity (photon:{kind}:{id}), lexically ordered sorted sets as paged indexes,
// SET NX keys for name uniqueness, and Lua scripts for every invariant that spans keys
// (create with unique name, quota reserve/release, host capacity reserve/release).
//
// Reservations are keyed by the entity they are for (photon:resv:quota:{vmId}): reserving
// twice is a no-op and releasing what was never reserved is a no-op, so the function chain
// can replay any step and the undo chain and the delete chain share one release path.
//
// Finished tasks have a retention (retention.go): SweepTasks deletes them with their index
// entries once they are old enough, keeping running tasks and an entity's newest.
//
// Every key starts with the Store's prefix ("photon:" by default), so tests can share one
// Redis server without seeing each other's data.
//
// The Store hands out neither its client nor its key builder: other packages reach its
// keys only through its methods. The command that wires a process opens one client and
// gives it, with the prefix, to the Store and to the small stores that keep key spaces of
// their own under the same prefix: auth (auth:, user:), pki (pki:), the event broker
// (stream:) and the notifier (events:out).
package store
