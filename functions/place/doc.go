// Package place chooses a host and datastore for a VM or a persistent disk and reserves
// the host's capacity atomically; its undo releases the reservation.
//
// Consumes: io.photon.vm.create.quota.reserved; undo: io.photon.vm.create.undo.place; as
// the delete chain's RELEASE_HOST step: io.photon.vm.delete.host.deleted.
// Emits: io.photon.vm.create.placed / io.photon.vm.delete.host.released.
// Undoes: the host reservation (CPU, memory, datastore space, anti-affinity slot).
// Idempotency: the reservation is keyed by the VM id; a replay finds it and returns the
// same host.
//
// Persistent disks are placed here too: the disks step calls PlaceDisk, which runs the
// same checkers, index, reservation and policy with the disk's size and datastore
// affinities, ranking by the chosen datastore's room; the disks step releases it.
//
// Deciding: each feasibility rule is a checker type (feasible.go) that rejects a host or
// a datastore with a typed Reason (reasons.go); a failed placement counts the reasons,
// which also give its error code. Ranking (rank.go) orders the feasible hosts by the
// policy. The index (index.go) keeps the READY hosts in ordered sets per zone, tag and
// image, so a placement walks only the best end of one set instead of every host.
// Committing is one Lua call that re-verifies the host; on a conflict the next host is
// tried. In the background the index follows the host change feed and the heartbeat
// index, and marks hosts that missed their heartbeats ERROR.
package place
