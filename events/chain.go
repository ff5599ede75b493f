package events

import (
	"sort"
)

// TypePrefix starts every Photon event type.
const TypePrefix = "io.photon."

// A StepDef is one step of a chain: the function that runs it, the Task step operation it
// reports as, the event its success emits, and whether the step runs the function's Undo
// (the delete chain reuses the create chain's undo code).
type StepDef struct {
	Function  string
	Operation string
	Done      string // suffix of the event emitted on success, e.g. "placed"
	RunsUndo  bool
	// NoUndo is set for steps whose function has nothing to undo.
	NoUndo bool
}

// A Chain is the ordered steps of one operation on one kind of entity.
type Chain struct {
	Name      string // e.g. "vm.create"
	Operation string // the Task operation, e.g. "CREATE_VM"
	Kind      string // entity kind
	Steps     []StepDef
}

// The chains of Photon. Each step's function consumes the event the previous step emitted
// (the first consumes the chain's start event) and, on failure, the undo chain runs the
// steps back from the failed one.
var (
	VMCreate = Chain{Name: "vm.create", Operation: "CREATE_VM", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "quota", Operation: "RESERVE_QUOTA", Done: "quota.reserved"},
		{Function: "place", Operation: "PLACE_VM", Done: "placed"},
		{Function: "cloneimage", Operation: "CREATE_VM_ON_HOST", Done: "image.cloned"},
		{Function: "attachdisk", Operation: "ATTACH_DISKS", Done: "disks.attached"},
		{Function: "wiresubnet", Operation: "CONNECT_NETWORKS", Done: "subnet.wired"},
		{Function: "poweron", Operation: "START_VM", Done: "powered.on"},
	}}
	VMDelete = Chain{Name: "vm.delete", Operation: "DELETE_VM", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "poweron", Operation: "STOP_VM", Done: "powered.off", RunsUndo: true, NoUndo: true},
		{Function: "cloneimage", Operation: "DELETE_VM_ON_HOST", Done: "host.deleted", RunsUndo: true, NoUndo: true},
		{Function: "place", Operation: "RELEASE_HOST", Done: "host.released", RunsUndo: true, NoUndo: true},
		{Function: "quota", Operation: "RELEASE_QUOTA", Done: "quota.released", RunsUndo: true, NoUndo: true},
		// Last: the VM is gone from its host (with its NICs), so its addresses and logical
		// ports can go too.
		{Function: "wiresubnet", Operation: "DISCONNECT_NETWORKS", Done: "networks.disconnected", RunsUndo: true, NoUndo: true},
	}}
)

// The VM power operations: each authorizes, then the power function acts on the VM's
// host and records the state the host reports.
var (
	VMStart   = vmPower("vm.start", "START_VM", "started")
	VMStop    = vmPower("vm.stop", "STOP_VM", "stopped")
	VMRestart = vmPower("vm.restart", "RESTART_VM", "restarted")
	VMSuspend = vmPower("vm.suspend", "SUSPEND_VM", "suspended")
	VMResume  = vmPower("vm.resume", "RESUME_VM", "resumed")
)

func vmPower(name, op, done string) Chain {
	return Chain{Name: name, Operation: op, Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "power", Operation: op, Done: done, NoUndo: true},
	}}
}

// The persistent disk chains. A disk is created (quota, then a datastore and its file)
// and deleted like a VM; attach and detach act on a VM and hold the disk too.
var (
	DiskCreate = Chain{Name: "disk.create", Operation: "CREATE_DISK", Kind: "disk", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "quota", Operation: "RESERVE_QUOTA", Done: "quota.reserved"},
		{Function: "disks", Operation: "CREATE_DISK_ON_HOST", Done: "created"},
	}}
	DiskDelete = Chain{Name: "disk.delete", Operation: "DELETE_DISK", Kind: "disk", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "disks", Operation: "DELETE_DISK_ON_HOST", Done: "host.deleted", RunsUndo: true, NoUndo: true},
		{Function: "quota", Operation: "RELEASE_QUOTA", Done: "quota.released", RunsUndo: true, NoUndo: true},
	}}
	VMAttachDisk = Chain{Name: "vm.attach_disk", Operation: "ATTACH_DISK", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "disks", Operation: "ATTACH_DISK", Done: "attached", NoUndo: true},
	}}
	VMDetachDisk = Chain{Name: "vm.detach_disk", Operation: "DETACH_DISK", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "disks", Operation: "DETACH_DISK", Done: "detached", NoUndo: true},
	}}
)

// The VM record edits that need no host.
var (
	VMSetMetadata = Chain{Name: "vm.set_metadata", Operation: "SET_METADATA", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "vmedit", Operation: "SET_METADATA", Done: "metadata.set", NoUndo: true},
	}}
	VMAddTag = Chain{Name: "vm.add_tag", Operation: "ADD_TAG", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "vmedit", Operation: "ADD_TAG", Done: "tag.added", NoUndo: true},
	}}
)

// VMResize gives a STOPPED VM another flavor: the quota and the host reservation move to
// the new size first (their undos move them back), then the host reconfigures the VM.
var VMResize = Chain{Name: "vm.resize", Operation: "RESIZE_VM", Kind: "vm", Steps: []StepDef{
	{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
	{Function: "quota", Operation: "RESIZE_QUOTA", Done: "quota.resized"},
	{Function: "place", Operation: "RESIZE_ON_HOST", Done: "host.resized"},
	{Function: "power", Operation: "RECONFIGURE_VM", Done: "reconfigured", NoUndo: true},
}}

// The ISO verbs: the gateway has uploaded the ISO to the VM's datastore before an attach
// starts.
var (
	VMAttachISO = Chain{Name: "vm.attach_iso", Operation: "ATTACH_ISO", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "iso", Operation: "ATTACH_ISO", Done: "attached", NoUndo: true},
	}}
	VMDetachISO = Chain{Name: "vm.detach_iso", Operation: "DETACH_ISO", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "iso", Operation: "DETACH_ISO", Done: "detached", NoUndo: true},
	}}
	// VMMksTicket gets a console ticket into the task, as Photon did.
	VMMksTicket = Chain{Name: "vm.mks_ticket", Operation: "GET_MKS_TICKET", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "console", Operation: "GET_MKS_TICKET", Done: "ticket.acquired", NoUndo: true},
	}}
)

// The network chains: routers and subnets on NSX-T. After authorize, each step is one NSX
// call whose undo releases what it made.
var (
	RouterCreate = Chain{Name: "router.create", Operation: "CREATE_ROUTER", Kind: "router", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "logicalrouter", Operation: "CREATE_LOGICAL_ROUTER", Done: "created"},
	}}
	RouterDelete = Chain{Name: "router.delete", Operation: "DELETE_ROUTER", Kind: "router", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "logicalrouter", Operation: "DELETE_LOGICAL_ROUTER", Done: "deleted", RunsUndo: true, NoUndo: true},
	}}
	SubnetCreate = Chain{Name: "subnet.create", Operation: "CREATE_SUBNET", Kind: "subnet", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "logicalswitch", Operation: "CREATE_LOGICAL_SWITCH", Done: "switch.created"},
		{Function: "logicalrouter", Operation: "CONNECT_LOGICAL_ROUTER", Done: "router.connected"},
	}}
	SubnetDelete = Chain{Name: "subnet.delete", Operation: "DELETE_SUBNET", Kind: "subnet", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "logicalrouter", Operation: "DISCONNECT_LOGICAL_ROUTER", Done: "router.disconnected", RunsUndo: true, NoUndo: true},
		{Function: "logicalswitch", Operation: "DELETE_LOGICAL_SWITCH", Done: "switch.deleted", RunsUndo: true, NoUndo: true},
	}}
)

// The image chains. An upload has written the image disk to the image datastores before
// its chain starts; the images function then copies it where its replication type says,
// deletes it from every datastore, or captures a VM's boot disk as a new image.
var (
	ImageCreate = Chain{Name: "image.create", Operation: "CREATE_IMAGE", Kind: "image", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "images", Operation: "REPLICATE_IMAGE", Done: "replicated", NoUndo: true},
	}}
	ImageDelete = Chain{Name: "image.delete", Operation: "DELETE_IMAGE", Kind: "image", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "images", Operation: "DELETE_IMAGE_FILES", Done: "files.deleted", NoUndo: true},
	}}
	VMCreateImage = Chain{Name: "vm.create_image", Operation: "CREATE_VM_IMAGE", Kind: "vm", Steps: []StepDef{
		{Function: "authorize", Operation: "AUTHORIZE", Done: "authorized", NoUndo: true},
		{Function: "images", Operation: "CAPTURE_VM_IMAGE", Done: "image.captured", NoUndo: true},
		{Function: "images", Operation: "REPLICATE_IMAGE", Done: "image.replicated", NoUndo: true},
	}}
)

// Chains lists every chain by name.
var Chains = byName(&VMCreate, &VMDelete, &VMStart, &VMStop, &VMRestart, &VMSuspend, &VMResume,
	&DiskCreate, &DiskDelete, &VMAttachDisk, &VMDetachDisk, &VMSetMetadata, &VMAddTag, &VMAttachISO, &VMDetachISO, &VMMksTicket, &VMResize,
	&RouterCreate, &RouterDelete, &SubnetCreate, &SubnetDelete,
	&ImageCreate, &ImageDelete, &VMCreateImage)

func byName(cs ...*Chain) map[string]*Chain {
	m := make(map[string]*Chain, len(cs))
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

// StartType is the event that starts the chain (the gateway publishes it).
func (c *Chain) StartType() string { return TypePrefix + c.Name }

// DoneType is the event step i emits when it succeeds.
func (c *Chain) DoneType(i int) string { return TypePrefix + c.Name + "." + c.Steps[i].Done }

// UndoType is the event that asks step i's function to undo what step i did.
func (c *Chain) UndoType(i int) string {
	return TypePrefix + c.Name + ".undo." + c.Steps[i].Function
}

// CompletedType and FailedType announce the end of a chain to users.
func (c *Chain) CompletedType() string { return TypePrefix + c.Name + ".completed" }
func (c *Chain) FailedType() string    { return TypePrefix + c.Name + ".failed" }

// InType is the event step i consumes.
func (c *Chain) InType(i int) string {
	if i == 0 {
		return c.StartType()
	}
	return c.DoneType(i - 1)
}

// UndoFrom returns the index of the step whose undo runs first when step i failed
// (inclusive: the failed step may have done part of its work) or, when step i was undone,
// the next one back (inclusive=false). -1 means nothing is left to undo.
func (c *Chain) UndoFrom(i int, inclusive bool) int {
	if !inclusive {
		i--
	}
	for ; i >= 0; i-- {
		if !c.Steps[i].NoUndo {
			return i
		}
	}
	return -1
}

// A Route says what an event type asks of which function.
type Route struct {
	Chain    *Chain
	Step     int
	Function string
	// Undo is true when the event asks to undo step Step after a failure.
	Undo bool
}

// RunsUndo reports whether the route runs the function's Undo code: to undo a failed
// create, or as a delete chain's forward step.
func (r Route) RunsUndo() bool { return r.Undo || r.Chain.Steps[r.Step].RunsUndo }

var routes = func() map[string]Route {
	m := map[string]Route{}
	add := func(t string, r Route) {
		if _, dup := m[t]; dup {
			panic("events: two routes for " + t)
		}
		m[t] = r
	}
	for _, c := range Chains {
		for i, s := range c.Steps {
			add(c.InType(i), Route{Chain: c, Step: i, Function: s.Function})
			if !s.NoUndo {
				add(c.UndoType(i), Route{Chain: c, Step: i, Function: s.Function, Undo: true})
			}
		}
	}
	return m
}()

// RouteOf finds the route of an event type.
func RouteOf(eventType string) (Route, bool) {
	r, ok := routes[eventType]
	return r, ok
}

// TypesFor lists the event types a function consumes, sorted: one Knative Trigger each.
func TypesFor(function string) []string {
	var out []string
	for t, r := range routes {
		if r.Function == function {
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// Functions lists every function the chains use, sorted.
func Functions() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range routes {
		if !seen[r.Function] {
			seen[r.Function] = true
			out = append(out, r.Function)
		}
	}
	sort.Strings(out)
	return out
}

// Subscribers lists the functions that consume eventType.
func Subscribers(eventType string) []string {
	if r, ok := routes[eventType]; ok {
		return []string{r.Function}
	}
	return nil
}
