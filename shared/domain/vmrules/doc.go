// Package vmrules decides what a VM may be, against what exists: a create spec against
// the flavors, images, subnets, disks and affinities it names (Validate), the VM's cost
// (Cost, Resized), and whether a caller may make VMs of an image (MayUseImage).
//
// The gateway calls it before it writes anything, so that what can be decided at once
// answers 400 synchronously; the steps call the same functions when they act (authorize
// checks the caller's right to the image again, vmhost counts the VM among the image's
// users with UseImage), so a rule changed here changes in both.
package vmrules
