// Package domain names what the control plane does and decides, for every entity kind, the
// transitions of its state: the chains and the operations they report as (typed, so a
// misspelt chain is a compile error rather than a silently skipped branch), the VM states,
// which verbs a VM's state allows, and what state each step's outcome and each chain's end
// leave.
//
// It also holds what any request may carry: Photon's name rule (names.go), the one table
// of bounds on every other field of a request (bounds.go, applied by the gateway to REST
// bodies and gRPC requests alike) and the CIDR check (network.go).
//
// It is the bottom of Photon's graph: it imports nothing of Photon but errs (and
// protobuf's reflection, for the bounds), so that the store (which records the states)
// and the chain table (events) can both use it. The rules
// that need what exists are in its subpackages, above the store and below events, the
// gateway and the functions, which call them:
//
//	vmrules    a VM create spec against its flavors, image, subnets, disks and affinities;
//	           a VM's cost; a resize; the image checks the create chain repeats
//	diskrules  a persistent disk create spec and its cost
//	finalize   what the end of each chain makes of its entity (each chain of
//	           events/chain.go names its Finalizer)
package domain
