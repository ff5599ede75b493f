package events

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/finalize"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/tracing"
)

// TypePrefix starts every Photon event type.
const TypePrefix = "io.photon."

// A StepDef is one step of a chain: the function that runs it, the Task step operation it
// reports as, the event its success emits, and whether the step runs the function's Undo
// (the delete chain reuses the create chain's undo code).
type StepDef struct {
	Function  string
	Operation domain.Op
	Done      string // suffix of the event emitted on success, e.g. "placed"
	RunsUndo  bool
	// Undoes is set for steps that leave something to undo when a later step fails: the
	// undo chain runs their function's Undo.
	Undoes bool
	// Awaits is set for steps that wait for something outside the chain (other chains,
	// a guest's report): their function may answer runtime.Await, and the step runs
	// again when woken (store.Await).
	Awaits bool
}

// A Chain is the ordered steps of one operation on one kind of entity, and what its end
// makes of the entity (Finalizer, run after the last step or the last undo step).
type Chain struct {
	Name      domain.ChainID
	Operation domain.Op // the Task operation
	Kind      string    // entity kind
	Steps     []StepDef
	Finalizer finalize.Finalizer
}

// The chains of Photon. Each step's function consumes the event the previous step emitted
// (the first consumes the chain's start event) and, on failure, the undo chain runs the
// steps back from the failed one.
var (
	VMCreate = Chain{Name: domain.VMCreate, Operation: domain.OpCreateVM, Kind: "vm", Finalizer: finalize.VM{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "quota", Operation: domain.OpReserveQuota, Done: "quota.reserved", Undoes: true},
		{Function: "place", Operation: domain.OpPlaceVM, Done: "placed", Undoes: true},
		{Function: "vmhost", Operation: domain.OpCreateVMOnHost, Done: "host.created", Undoes: true},
		{Function: "attachdisk", Operation: domain.OpAttachDisks, Done: "disks.attached", Undoes: true},
		{Function: "wiresubnet", Operation: domain.OpConnectNetworks, Done: "subnet.wired", Undoes: true},
		{Function: "boot", Operation: domain.OpStartVM, Done: "powered.on", Undoes: true},
	}}
	VMDelete = Chain{Name: domain.VMDelete, Operation: domain.OpDeleteVM, Kind: "vm", Finalizer: finalize.VM{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "boot", Operation: domain.OpStopVM, Done: "powered.off", RunsUndo: true},
		{Function: "vmhost", Operation: domain.OpDeleteVMOnHost, Done: "host.deleted", RunsUndo: true},
		{Function: "place", Operation: domain.OpReleaseHost, Done: "host.released", RunsUndo: true},
		{Function: "quota", Operation: domain.OpReleaseQuota, Done: "quota.released", RunsUndo: true},
		// Last: the VM is gone from its host (with its NICs), so its floating IP, addresses
		// and logical ports can go too. The quota release above took the floating IP's
		// quota with the rest of the VM's cost.
		{Function: "floatingip", Operation: domain.OpFreeFloatingIP, Done: "floatingip.freed", RunsUndo: true},
		{Function: "wiresubnet", Operation: domain.OpDisconnectNetworks, Done: "networks.disconnected", RunsUndo: true},
	}}
)

// The floating IP of a VM (POST /v1/vms/{id}/acquire_floating_ip, DELETE
// .../release_floating_ip): its quota first, then an address of a system subnet and, on
// NSX, the NAT rules on the router of the VM's subnet; the release undoes both in the
// other order.
var (
	VMAcquireFloatingIP = Chain{Name: domain.VMAcquireFloatingIP, Operation: domain.OpAcquireFloatingIP, Kind: "vm", Finalizer: finalize.VM{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "quota", Operation: domain.OpReserveFloatingIPQuota, Done: "quota.reserved", Undoes: true},
		{Function: "floatingip", Operation: domain.OpAllocateFloatingIP, Done: "allocated", Undoes: true},
	}}
	VMReleaseFloatingIP = Chain{Name: domain.VMReleaseFloatingIP, Operation: domain.OpReleaseFloatingIP, Kind: "vm", Finalizer: finalize.VM{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "floatingip", Operation: domain.OpFreeFloatingIP, Done: "freed", RunsUndo: true},
		{Function: "quota", Operation: domain.OpReleaseFloatingIPQuota, Done: "quota.released"},
	}}
)

// The VM power operations: each authorizes, then the power function acts on the VM's
// host and records the state the host reports.
var (
	VMStart   = vmPower(domain.VMStart, domain.OpStartVM, "started")
	VMStop    = vmPower(domain.VMStop, domain.OpStopVM, "stopped")
	VMRestart = vmPower(domain.VMRestart, domain.OpRestartVM, "restarted")
	VMSuspend = vmPower(domain.VMSuspend, domain.OpSuspendVM, "suspended")
	VMResume  = vmPower(domain.VMResume, domain.OpResumeVM, "resumed")
)

func vmPower(name domain.ChainID, op domain.Op, done string) Chain {
	return Chain{Name: name, Operation: op, Kind: "vm", Finalizer: finalize.VM{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "power", Operation: op, Done: done},
	}}
}

// The persistent disk chains. A disk is created (quota, then a datastore and its file)
// and deleted like a VM; attach and detach act on a VM and hold the disk too.
var (
	DiskCreate = Chain{Name: domain.DiskCreate, Operation: domain.OpCreateDisk, Kind: "disk", Finalizer: finalize.Disk{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "quota", Operation: domain.OpReserveQuota, Done: "quota.reserved", Undoes: true},
		{Function: "disks", Operation: domain.OpCreateDiskOnHost, Done: "created", Undoes: true},
	}}
	DiskDelete = Chain{Name: domain.DiskDelete, Operation: domain.OpDeleteDisk, Kind: "disk", Finalizer: finalize.Disk{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "disks", Operation: domain.OpDeleteDiskOnHost, Done: "host.deleted", RunsUndo: true},
		{Function: "quota", Operation: domain.OpReleaseQuota, Done: "quota.released", RunsUndo: true},
	}}
	VMAttachDisk = Chain{Name: domain.VMAttachDisk, Operation: domain.OpAttachDisk, Kind: "vm", Finalizer: finalize.VMDisk{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "disks", Operation: domain.OpAttachDisk, Done: "attached"},
	}}
	VMDetachDisk = Chain{Name: domain.VMDetachDisk, Operation: domain.OpDetachDisk, Kind: "vm", Finalizer: finalize.VMDisk{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "disks", Operation: domain.OpDetachDisk, Done: "detached"},
	}}
)

// VMResize gives a STOPPED VM another flavor: the quota and the host reservation move to
// the new size first (their undos move them back), then the host reconfigures the VM.
var VMResize = Chain{Name: domain.VMResize, Operation: domain.OpResizeVM, Kind: "vm", Finalizer: finalize.VM{}, Steps: []StepDef{
	{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
	{Function: "quota", Operation: domain.OpResizeQuota, Done: "quota.resized", Undoes: true},
	{Function: "place", Operation: domain.OpResizeOnHost, Done: "host.resized", Undoes: true},
	{Function: "power", Operation: domain.OpReconfigureVM, Done: "reconfigured"},
}}

// The ISO verbs: the gateway has uploaded the ISO to the VM's datastore before an attach
// starts.
var (
	VMAttachISO = Chain{Name: domain.VMAttachISO, Operation: domain.OpAttachISO, Kind: "vm", Finalizer: finalize.VM{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "iso", Operation: domain.OpAttachISO, Done: "attached"},
	}}
	VMDetachISO = Chain{Name: domain.VMDetachISO, Operation: domain.OpDetachISO, Kind: "vm", Finalizer: finalize.VM{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "iso", Operation: domain.OpDetachISO, Done: "detached"},
	}}
	// VMMksTicket gets a console ticket into the task, as Photon did.
	VMMksTicket = Chain{Name: domain.VMMksTicket, Operation: domain.OpGetMksTicket, Kind: "vm", Finalizer: finalize.VM{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "console", Operation: domain.OpGetMksTicket, Done: "ticket.acquired"},
	}}
)

// The network chains: routers and subnets on NSX-T. After authorize, each step is one NSX
// call whose undo releases what it made.
var (
	RouterCreate = Chain{Name: domain.RouterCreate, Operation: domain.OpCreateRouter, Kind: "router", Finalizer: finalize.Router, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "logicalrouter", Operation: domain.OpCreateLogicalRouter, Done: "created", Undoes: true},
	}}
	RouterDelete = Chain{Name: domain.RouterDelete, Operation: domain.OpDeleteRouter, Kind: "router", Finalizer: finalize.Router, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "logicalrouter", Operation: domain.OpDeleteLogicalRouter, Done: "deleted", RunsUndo: true},
	}}
	SubnetCreate = Chain{Name: domain.SubnetCreate, Operation: domain.OpCreateSubnet, Kind: "subnet", Finalizer: finalize.Subnet, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "logicalswitch", Operation: domain.OpCreateLogicalSwitch, Done: "switch.created", Undoes: true},
		{Function: "logicalrouter", Operation: domain.OpConnectLogicalRouter, Done: "router.connected", Undoes: true},
	}}
	SubnetDelete = Chain{Name: domain.SubnetDelete, Operation: domain.OpDeleteSubnet, Kind: "subnet", Finalizer: finalize.Subnet, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "logicalrouter", Operation: domain.OpDisconnectLogicalRouter, Done: "router.disconnected", RunsUndo: true},
		{Function: "logicalswitch", Operation: domain.OpDeleteLogicalSwitch, Done: "switch.deleted", RunsUndo: true},
	}}
)

// The image chains. An upload has written the image disk to the image datastores before
// its chain starts; the images function then copies it where its replication type says,
// deletes it from every datastore, or captures a VM's boot disk as a new image.
var (
	ImageCreate = Chain{Name: domain.ImageCreate, Operation: domain.OpCreateImage, Kind: "image", Finalizer: finalize.ImageCreated, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "images", Operation: domain.OpReplicateImage, Done: "replicated"},
	}}
	ImageDelete = Chain{Name: domain.ImageDelete, Operation: domain.OpDeleteImage, Kind: "image", Finalizer: finalize.ImageDeleted, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "images", Operation: domain.OpDeleteImageFiles, Done: "files.deleted"},
	}}
	VMCreateImage = Chain{Name: domain.VMCreateImage, Operation: domain.OpCreateVMImg, Kind: "vm", Finalizer: finalize.ImageCreated, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "images", Operation: domain.OpCaptureVMImage, Done: "image.captured"},
		{Function: "images", Operation: domain.OpReplicateImage, Done: "image.replicated"},
	}}
)

// The service chains: a service (a Kubernetes cluster, a Harbor registry) is node VMs,
// each made and deleted by the VM chains as a sub-task of the service's task. Its quota is
// reserved at once for the whole cluster (the nodes carry no cost of their own); its
// static addresses are held on the subnet before any node exists; its PKI is issued
// before the nodes' user data is rendered from it. The node steps await their VMs'
// chains, and the wait steps the nodes' guests' reports.
var (
	ServiceCreate = Chain{Name: domain.ServiceCreate, Operation: domain.OpCreateService, Kind: "service", Finalizer: finalize.Service{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "quota", Operation: domain.OpReserveQuota, Done: "quota.reserved", Undoes: true},
		{Function: "service", Operation: domain.OpAllocateServiceAddresses, Done: "addresses.allocated", Undoes: true},
		{Function: "service", Operation: domain.OpIssueServicePKI, Done: "pki.issued", Undoes: true},
		{Function: "service", Operation: domain.OpCreateServiceNodes, Done: "nodes.created", Undoes: true, Awaits: true},
		{Function: "service", Operation: domain.OpWaitServiceNodes, Done: "nodes.ready", Awaits: true},
	}}
	ServiceDelete = Chain{Name: domain.ServiceDelete, Operation: domain.OpDeleteService, Kind: "service", Finalizer: finalize.Service{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "service", Operation: domain.OpDeleteServiceNodes, Done: "nodes.deleted", RunsUndo: true, Awaits: true},
		{Function: "service", Operation: domain.OpDeleteServicePKI, Done: "pki.deleted", RunsUndo: true},
		{Function: "service", Operation: domain.OpReleaseServiceAddresses, Done: "addresses.released", RunsUndo: true},
		{Function: "quota", Operation: domain.OpReleaseQuota, Done: "quota.released", RunsUndo: true},
	}}
	// ServiceResize moves the quota to the new size first, then adds workers (in batches)
	// or deletes the newest; its undo deletes the workers it added and moves the quota back.
	ServiceResize = Chain{Name: domain.ServiceResize, Operation: domain.OpResizeService, Kind: "service", Finalizer: finalize.Service{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "quota", Operation: domain.OpResizeQuota, Done: "quota.resized", Undoes: true},
		{Function: "service", Operation: domain.OpResizeServiceNodes, Done: "nodes.resized", Undoes: true, Awaits: true},
		{Function: "service", Operation: domain.OpWaitServiceNodes, Done: "nodes.ready", Awaits: true},
	}}
	// ServiceMaintain replaces the nodes that are in ERROR, gone or silent, as Cluster
	// API's machine health checks do.
	ServiceMaintain = Chain{Name: domain.ServiceMaintain, Operation: domain.OpMaintainService, Kind: "service", Finalizer: finalize.Service{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "service", Operation: domain.OpReplaceServiceNodes, Done: "nodes.replaced", Awaits: true},
		{Function: "service", Operation: domain.OpWaitServiceNodes, Done: "nodes.ready", Awaits: true},
	}}
	// ServiceChangeVersion rolls the nodes to a new image one at a time: each is replaced
	// and has reported ready before the next goes.
	ServiceChangeVersion = Chain{Name: domain.ServiceChangeVersion, Operation: domain.OpChangeServiceVersion, Kind: "service", Finalizer: finalize.Service{}, Steps: []StepDef{
		{Function: "authorize", Operation: domain.OpAuthorize, Done: "authorized"},
		{Function: "service", Operation: domain.OpRollServiceNodes, Done: "nodes.rolled", Awaits: true},
	}}
)

// Chains lists every chain by name.
var Chains = byName(&VMCreate, &VMDelete, &VMStart, &VMStop, &VMRestart, &VMSuspend, &VMResume,
	&DiskCreate, &DiskDelete, &VMAttachDisk, &VMDetachDisk, &VMAttachISO, &VMDetachISO, &VMMksTicket, &VMResize,
	&RouterCreate, &RouterDelete, &SubnetCreate, &SubnetDelete,
	&ImageCreate, &ImageDelete, &VMCreateImage, &VMAcquireFloatingIP, &VMReleaseFloatingIP,
	&ServiceCreate, &ServiceDelete, &ServiceResize, &ServiceMaintain, &ServiceChangeVersion)

func byName(cs ...*Chain) map[domain.ChainID]*Chain {
	m := make(map[domain.ChainID]*Chain, len(cs))
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

// StartType is the event that starts the chain (the gateway publishes it).
func (c *Chain) StartType() string { return TypePrefix + string(c.Name) }

// DoneType is the event step i emits when it succeeds.
func (c *Chain) DoneType(i int) string { return TypePrefix + string(c.Name) + "." + c.Steps[i].Done }

// UndoType is the event that asks step i's function to undo what step i did.
func (c *Chain) UndoType(i int) string {
	t := TypePrefix + string(c.Name) + ".undo." + c.Steps[i].Function
	for j, s := range c.Steps {
		if j != i && s.Undoes && s.Function == c.Steps[i].Function {
			// The function undoes more than one step of the chain: say which.
			return t + "." + strings.ToLower(string(c.Steps[i].Operation))
		}
	}
	return t
}

// CompletedType and FailedType announce the end of a chain to users.
func (c *Chain) CompletedType() string { return TypePrefix + string(c.Name) + ".completed" }
func (c *Chain) FailedType() string    { return TypePrefix + string(c.Name) + ".failed" }

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
		if c.Steps[i].Undoes {
			return i
		}
	}
	return -1
}

// A Route says what an event type asks of which function: a step of a chain, or a
// Signal (Chain is nil then).
type Route struct {
	Chain    *Chain
	Step     int
	Function string
	// Undo is true when the event asks to undo step Step after a failure.
	Undo bool
	// Signal is set for a signal's route.
	Signal *Signal
}

// Awaits reports whether the chain has a step that may await.
func (c *Chain) Awaits() bool {
	for _, s := range c.Steps {
		if s.Awaits {
			return true
		}
	}
	return false
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
			if s.Undoes {
				add(c.UndoType(i), Route{Chain: c, Step: i, Function: s.Function, Undo: true})
			}
		}
	}
	for i := range Signals {
		add(Signals[i].Type, Route{Function: Signals[i].Function, Signal: &Signals[i]})
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

// WithStart gives each task the event that starts c for it, from source, which the store
// writes with the task (model.Task.StartEvent) and a relay publishes: the gateway starts
// chains so, and so does a step that runs other chains as its sub-tasks (a service's node
// VMs).
func (c *Chain) WithStart(ctx context.Context, source, tenantID string, tasks ...*model.Task) {
	for _, task := range tasks {
		e := New(source, c.StartType(), tenantID, StepData{TaskID: task.ID, EntityID: task.Entity.ID})
		tracing.Inject(ctx, &e)
		raw, err := json.Marshal(e)
		if err != nil {
			panic(fmt.Sprintf("encode start event: %v", err)) // a StepData event always encodes
		}
		task.StartEvent = raw
	}
}
