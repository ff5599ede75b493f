package notify

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/photon-cloud/photon/shared/model"
)

// TypePrefix starts every outbound event type: io.photon.<kind>.<change>. (The chain's
// internal events, io.photon.<chain>.<step>, are another family; see events.)
const TypePrefix = "io.photon."

// Source is the source of every outbound event.
const Source = "/photon/notify"

// EventType is one entry of the catalogue.
type EventType struct {
	Type        string
	Kind        string // the entity kind, the subject's kind
	Description string
}

// kindStates are, per kind, the states whose entry makes an event
// io.photon.<kind>.<lowercase state> (PENDING_DELETE → pending_delete).
var kindStates = []struct {
	kind   string
	states map[string]string // state → description
}{
	{model.KindVM, map[string]string{
		model.VMStarted: "the VM is powered on", model.VMStopped: "the VM is powered off",
		model.VMSuspended: "the VM is suspended", model.VMError: "the VM failed (its create or an operation left it in ERROR), or the reconciler found it gone from its host (data.stateReason)",
		model.VMDeleting: "the VM's delete started",
	}},
	{model.KindDisk, map[string]string{
		model.DiskAttached: "the disk was attached to a VM (data.vmId)", model.DiskDetached: "the disk was detached from its VM (data.vmId)",
		model.DiskError: "the disk failed, or the reconciler found its file gone (data.stateReason)", model.DiskDeleting: "the disk's delete started",
	}},
	{model.KindHost, map[string]string{
		model.HostReady: "the host takes placements (joined, left maintenance, or heartbeats again)", model.HostMaintenance: "the host entered maintenance",
		model.HostSuspended: "the host was suspended", model.HostError: "the host failed (data.stateReason, e.g. missed heartbeats)",
	}},
	{model.KindOrphan, map[string]string{
		model.OrphanRemoving: "the reconciler's remove policy is deleting the orphan from its host",
	}},
	{model.KindImage, map[string]string{
		model.ImageReady: "the image is uploaded and usable", model.ImageError: "the image's upload or replication failed",
		model.ImagePendingDelete: "the image's delete waits for the VMs that use it", model.ImageDeleted: "the image was deleted",
	}},
	{model.KindRouter, map[string]string{
		model.NetReady: "the router is ready", model.NetError: "the router failed", model.NetDeleting: "the router's delete started",
	}},
	{model.KindSubnet, map[string]string{
		model.NetReady: "the subnet is ready", model.NetError: "the subnet failed", model.NetDeleting: "the subnet's delete started",
	}},
	{model.KindService, map[string]string{
		model.ServiceReady:    "the service's nodes all reported ready (after a create, resize, maintenance or change_version)",
		model.ServiceError:    "the service failed (its errorReason names the failing step and why)",
		model.ServiceResizing: "the service's resize started", model.ServiceMaintenance: "a maintenance or change_version started on the service",
		model.ServicePendingDelete: "the service's delete started",
	}},
}

// lifecycle are the kinds whose records' creation and deletion make events.
var lifecycle = []string{model.KindTenant, model.KindProject, model.KindFlavor, model.KindImage, model.KindVM,
	model.KindDisk, model.KindHost, model.KindZone, model.KindRouter, model.KindSubnet, model.KindOrphan, model.KindService}

// lifecycleDoc describes the creation and deletion of kinds whose records are not made
// by a user.
var lifecycleDoc = map[string][2]string{
	model.KindOrphan: {"the reconciler found on a host, in two passes in a row, something Photon does not account for (data.type: vm, disk, nic or iso; data.name, data.hostId, data.vmId, data.stateReason)",
		"the orphan is no longer on its host, or Photon accounts for it again"},
}

// Types of the events that do not follow from a record's state.
const (
	TypeTaskCompleted = TypePrefix + "task.completed"
	TypeTaskFailed    = TypePrefix + "task.failed"
	TypeQuotaChanged  = TypePrefix + "quota.changed"
)

// quotaOps are the task operations that change a quota (the gateway's).
var quotaOps = map[string]bool{"SET_QUOTA": true, "UPDATE_QUOTA": true, "DELETE_QUOTA": true}

// Catalogue lists every outbound event type, sorted by kind, then type.
func Catalogue() []EventType {
	var out []EventType
	for _, k := range lifecycle {
		created, deleted := "the "+k+" was created", "the "+k+" record was removed"
		if d, ok := lifecycleDoc[k]; ok {
			created, deleted = d[0], d[1]
		}
		out = append(out, EventType{TypeOf(k, "created"), k, created}, EventType{TypeOf(k, "deleted"), k, deleted})
		for _, ks := range kindStates {
			if ks.kind != k {
				continue
			}
			for st, d := range ks.states {
				if st == model.ImageDeleted {
					continue // the same type as the removal
				}
				out = append(out, EventType{TypeOf(k, strings.ToLower(st)), k, d})
			}
		}
	}
	out = append(out,
		EventType{TypeTaskCompleted, model.KindTask, "a task completed (data.operation, data.entity)"},
		EventType{TypeTaskFailed, model.KindTask, "a task failed (data.error: the failing step's error)"},
		EventType{TypeQuotaChanged, "quota", "a tenant's or a project's quota limits changed (subject: the tenant or project; data.operation: SET_QUOTA, UPDATE_QUOTA or DELETE_QUOTA)"})
	sortTypes(out)
	return out
}

// TypeOf is the type of change on kind: io.photon.<kind>.<change>.
func TypeOf(kind, change string) string { return TypePrefix + kind + "." + change }

func sortTypes(ts []EventType) {
	slices.SortFunc(ts, func(a, b EventType) int {
		return cmp.Or(strings.Compare(a.Kind, b.Kind), strings.Compare(a.Type, b.Type))
	})
}

// payloadFields document Data, the payload of every outbound event.
var payloadFields = [][2]string{
	{"id", "the entity's id (also the event's subject)"},
	{"kind", "the entity's kind: vm, disk, host, image, tenant, project, flavor, zone, router, subnet, orphan, task; quota events name the tenant or project"},
	{"name", "the entity's name, when it has one"},
	{"state", "the entity's state after the change (a task's: COMPLETED or ERROR)"},
	{"previousState", "its state before the change, on state changes"},
	{"tenantId", "the tenant the entity belongs to, when it belongs to one (also the tenantid extension)"},
	{"projectId", "the project, when it belongs to one (also the projectid extension)"},
	{"stateReason", "hosts, VMs, disks: why the state changed (e.g. \"missed heartbeats\", \"not on its host\", \"its file is not on its datastore\"); orphans: why it is one"},
	{"vmId", "disks: the VM the disk was attached to or detached from; orphans: the Photon VM the object claims or belongs to"},
	{"hostId", "orphans: the host that has it"},
	{"type", "orphans: what it is: vm, disk (a persistent disk file), nic or iso"},
	{"limits", "projects: the quota limits ([{key, value, unit}])"},
	{"operation", "tasks: the operation (CREATE_VM, STOP_VM, ...)"},
	{"entity", "tasks: the entity the task acted on ({id, kind})"},
	{"error", "task.failed: the failing step's error ({code, message, data})"},
}

// Doc renders the catalogue as Markdown: docs/events.md.
func Doc() string {
	var b strings.Builder
	b.WriteString("<!-- Generated from shared/notify (Catalogue) by `PHOTON_UPDATE=1 go test ./shared/notify/`. DO NOT EDIT. -->\n")
	b.WriteString("# Outbound events\n\n")
	b.WriteString("Every change of an entity is published as a CloudEvent (v1.0). Subscriptions receive them over HTTP;\n")
	b.WriteString("automation reads them from the Redis stream `<prefix>events:out` (see the shared/notify package doc).\n\n")
	b.WriteString("## Attributes\n\n")
	b.WriteString("| attribute | value |\n|---|---|\n")
	fmt.Fprintf(&b, "| `type` | `%s<kind>.<change>`, below |\n", TypePrefix)
	fmt.Fprintf(&b, "| `source` | `%s` |\n", Source)
	b.WriteString("| `id` | `<outbox entry id>.<n>`: the same change always has the same id, so receivers can drop a redelivery |\n")
	b.WriteString("| `time` | when the change was committed |\n")
	b.WriteString("| `subject` | the entity's id |\n")
	b.WriteString("| `datacontenttype` | `application/json` |\n")
	b.WriteString("| `tenantid` | extension: the entity's tenant, when known |\n")
	b.WriteString("| `projectid` | extension: the entity's project, when known |\n")
	b.WriteString("| `taskid` | extension: the task that made the change, when one did |\n\n")
	b.WriteString("## Payload (`data`)\n\nOne JSON object for every type; fields that do not apply are left out.\n\n")
	b.WriteString("| field | meaning |\n|---|---|\n")
	for _, f := range payloadFields {
		fmt.Fprintf(&b, "| `%s` | %s |\n", f[0], f[1])
	}
	b.WriteString("\n## Types\n\n| type | kind | when |\n|---|---|---|\n")
	for _, t := range Catalogue() {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", t.Type, t.Kind, t.Description)
	}
	b.WriteString("\n## Delivery to subscriptions\n\n")
	b.WriteString("A sink receives each event as an HTTP POST in CloudEvents binary mode: the attributes in `ce-*` headers, the\n")
	b.WriteString("payload as the body (`Content-Type: application/json`). Every delivery is signed:\n\n")
	fmt.Fprintf(&b, "    %s: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.\" + body)>\n\n", SignatureHeader)
	b.WriteString("`notify.Verify(secret, header, body, tolerance)` checks it. A 2xx answer is a delivery; 408, 429, 5xx and\n")
	b.WriteString("network errors are retried with exponential backoff; other answers, and the last failed attempt, make a dead\n")
	b.WriteString("letter, which can be replayed. Delivery is at least once: use the event id to drop duplicates.\n")
	return b.String()
}
