// Package runtime hosts Photon's functions. It turns a function's Do and Undo into a
// CloudEvents handler that follows the chain table in package events: it records each step
// in the Task, replays a step that already ran (at-least-once delivery), turns permanent
// errors into the undo chain, and ends the Task. It is the one place where the error
// contract lives: permanent error → undo chain, never retried; transient error → retried by
// the transport, then dead-lettered, and the dead letter fails the Task like a permanent
// error would. An undo is never skipped: one dead-lettered, or failed for good, parks the
// Task in ERROR, holding what it holds, until an operator retries it (store.RetryUndo).
//
// The same handler serves both transports: Redis Streams on one machine (Local) and HTTP
// pushes from a Knative Broker on a cluster.
package runtime
