// Package domain names what the control plane does and decides, for every entity kind, the
// transitions of its state: the chains and the operations they report as (typed, so a
// misspelt chain is a compile error rather than a silently skipped branch), the VM states,
// which verbs a VM's state allows, and what state each step's outcome and each chain's end
// leave.
//
// It is the bottom of Photon's graph: it imports nothing of Photon but errs, so that the
// store (which records the states) and the chain table (events) can both use it. The rules
// that need what exists (a create spec against its flavors, images, subnets and
// affinities; costs; the ends of chains written to the store) are in its subpackages
// vmrules and finalize, which the gateway and the functions call.
package domain
