// Package place chooses a host and datastore for a VM and reserves the host's capacity
// atomically; its undo releases the reservation.
//
// Consumes: io.photon.vm.create.quota.reserved; undo: io.photon.vm.create.undo.place; as
// the delete chain's RELEASE_HOST step: io.photon.vm.delete.host.deleted.
// Emits: io.photon.vm.create.placed / io.photon.vm.delete.host.released.
// Undoes: the host reservation. Idempotency: the reservation is keyed by the VM id; a
// replay finds it and returns the same host.
//
// Deciding is pure (feasible.go): checkers reject hosts and record why, then hosts are
// ranked. Committing is one Lua call that re-verifies capacity; on a conflict the next
// ranked host is tried.
package place
