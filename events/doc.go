// Package events defines Photon's CloudEvents: their types, typed payloads, extensions and
// the chain table that says which function step follows which. It also holds the Broker
// that carries events between functions on one machine: Redis Streams, one stream per
// subscribing function, consumer groups, at-least-once delivery, retries with backoff and a
// dead-letter stream; it reads through shared/streams, so the events a crashed worker held
// are taken over by a running one. Each consumer trims its stream of what the group
// acknowledged, and the dead-letter stream of what is past an age (trim.go). On a cluster a Knative Broker with one Trigger per route plays the
// same part; the routes come from the same table.
package events
