// Package reconcile is drift repair: it compares what each host holds (hostd's
// ListInventory) with Photon's records and repairs or reports the difference.
//
// Consumes: io.photon.host.reconcile.requested (events.HostReconcile, a signal: no task;
// subject: the host id), published by the registrar on each (re)registration of a host
// and by this function's timer for every host with a hostd (Background: one replica wins
// each period, store.TakeTick).
// A fleet larger than the timer's budget (Options.VMsPerSecond: VMs compared a second)
// is gone over in as many periods as the budget needs, a share of the hosts each, resumed
// where the last share ended (store.TickCursor).
// Emits: no event; what it finds reaches users through the outbox: io.photon.vm.error and
// io.photon.disk.error (data.stateReason "not on its host", "its file is not on its
// datastore"), io.photon.orphan.created, .removing and .deleted.
// Undoes: nothing.
//
// A pass (one host, one at a time: store.HoldDriftPass) reads the inventory, then the
// records, and decides (Compare, pure): a VM placed on the host that the host does not
// have is gone; a VM, a persistent disk file, a NIC or an ISO on the host that the
// records do not account for is an orphan; a persistent disk whose file is missing is
// gone. store.ApplyDrift acts only on what two passes in a row found, and never on a VM
// or disk a task holds or whose last task ended after the read: a gone VM or disk goes
// to ERROR with its reason and keeps its reservations until it is deleted (the host's
// delete of a missing VM succeeds); an orphan is recorded for system administrators
// (GET /v1/infrastructure/orphans). Under the "remove" policy an orphan VM is then
// deleted from its host, after its record is read once more; the default, "report",
// leaves it. Adopting a VM made outside Photon is not offered: it has no tenant, project,
// flavor or quota to take, and none can be guessed from the host.
//
// Idempotency: a pass changes a record only on a transition (a VM goes to ERROR once, an
// orphan is recorded once); a repeated request is one more pass.
package reconcile
