// Package model is Photon's data model: the records the store persists (tenants,
// projects, flavors, images, VMs, persistent disks, hosts and their datastores, zones,
// routers and subnets, tasks and their steps), the kinds and states they take, and the
// pure functions on them (IAM policy changes). It knows nothing of Redis: package store
// keeps these records and its scripts, keys and invariants, and the packages that only
// read or build records (policy, placement checks, hostd clients) need not link a Redis
// client to do so.
package model
