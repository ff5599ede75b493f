// Package nsx is Photon's client for NSX-T Manager: the logical switches, ports, tier-1
// routers and IP pools behind Photon subnets and VM NICs. Functions call this package, never
// go-vmware-nsxt directly.
//
// Every method is idempotent, keyed by a Photon id that rides on the NSX object as the tag
// {scope: "photon", tag: <photon id>}: an Ensure method looks the object up by that tag and
// creates it only when it is missing, so a replayed step finds what the first attempt made;
// a Delete method deletes every object carrying the tag and counts "already gone" (404) as
// done, so undo and delete chains can run twice. Two concurrent Ensure calls for one Photon
// id can both miss and both create; Photon's function runtime never runs one step twice at
// once, and Delete removes duplicates anyway.
//
// Errors are *Error values that callers classify with IsNotFound, IsConflict and
// IsTransient. Errors that retrying cannot fix (4xx answers, bad input) are also marked
// errs.Permanent, so the function runtime fails the step instead of retrying it; 5xx, 408,
// 429 and connection failures are transient.
//
// go-vmware-nsxt builds requests without the caller's context, so a call cannot be
// cancelled once sent: Config.Timeout bounds every request, and each method checks its
// context before every request it makes.
package nsx
