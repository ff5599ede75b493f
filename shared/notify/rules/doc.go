// Package rules runs the automation rules (store.Rule) on the outbound events.
//
// Consumes: <prefix>events:out (notify.EventsStream), in the consumer group "rules", so
// the engines of several processes share the work and an event fires its rules once.
// The group starts at the stream's end when first made: rules act on what happens after
// the engine first runs, not on the history.
//
// Emits: for each rule an event matches (scope, type, subject prefix, data), each of the
// rule's actions rendered as an inbound event (an API call), sent as the rule's owner
// through an Actor: the gateway, which authorizes, rate limits and audits it as the
// owner's own call. A rule acts at most MaxPerMinute times a minute. The task an action
// starts is recorded one level deeper than the event's (store.RuleCause), and no rule
// fires at MaxDepth, so rules that fire each other stop.
//
// Idempotency: an action's event id derives from the rule, the event, the action and
// its item, and the gateway takes it as the call's idempotency key, so an event read
// twice starts nothing twice.
//
// Crashes: the engine reads through shared/streams and acknowledges an event once its
// rules have acted; an event read and not acknowledged by an engine that died is taken
// over by a running engine within seconds (consumers heartbeat), at once by the same engine
// restarted.
//
// Undoes nothing: the operations the actions start are the API's, with their own tasks.
package rules
