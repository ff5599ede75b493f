// Package notify publishes every change of Photon's state as an outbound CloudEvent and
// delivers it to the HTTP sinks users subscribe.
//
// It consumes the store's outbox (<prefix>outbox, see shared/store/outbox.go), which the
// store appends to in the same atomic call as each write of an entity record. Two parts
// run in a Service (Start, Close), as `photon notifier` or inside `photon up`:
//
//   - the deriver reads the outbox with the consumer group notify-derive, turns each
//     entry (kind, id, old and new record) into the events of the catalogue (Derive,
//     Catalogue, docs/events.md) and appends them to <prefix>events:out (EventsStream:
//     fields "type" and "ce", the CloudEvent in structured JSON), acknowledging the entry
//     in the same transaction; it then trims the outbox of what it has read. Derive is
//     pure: an entry derived twice (a crash between) gives the same events, ids included.
//   - the dispatcher reads events:out with the group notify-dispatch (other readers, e.g.
//     the automation rules of shared/notify/rules, use groups of their own) and <prefix>notify:replay (dead letters
//     put back by store.ReplayDeadLetter), matches each event against the subscriptions
//     (cached; read again when one is created or deleted, and every Options.Reload to
//     honour changed rights), and POSTs it to each matching sink in CloudEvents binary
//     mode, signed (SignatureHeader, Verify).
//
// The service trims what it reads (shared/streams Trim, every Options.TrimEvery): events:out
// and the replay stream lose what every consumer group of them has acknowledged, and
// events:out also what is older than Options.EventsMaxAge (default a day) or beyond
// EventsMaxLen, whether a group read it or not, so that a reader that stopped for good
// does not keep every event. A reader that needs the events must read them in a group of
// its own, created before them.
//
// A subscription receives an event when its owner may see the subscription's scope
// (shared/policy), the event is in that scope (its tenantid and projectid extensions),
// and its types and subject prefix match.
//
// Delivery is at least once. Each subscription has its own bounded queue and worker, so
// a slow or dead sink delays only itself (the others at most once by Options.Stall) and
// never the control plane, whose only cost is the outbox entry. A 2xx answer is a
// delivery; 408, 429, 5xx and network errors are retried with exponential backoff
// (Options); any other answer, the last failed attempt, or a stalled subscription's full
// queue makes a store.DeadLetter, which store.ReplayDeadLetter puts back. An events:out
// entry is acknowledged when all its deliveries have ended, so a stop loses none: both
// parts read through shared/streams, so what a stopped or crashed instance left
// unacknowledged is taken over by a running one within seconds, whatever its consumer
// name, and at once by the same instance restarted.
// Nothing is undone: events are facts about commits.
package notify
