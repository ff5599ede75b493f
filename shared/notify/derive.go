package notify

import (
	"fmt"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Extensions of outbound events.
const (
	ExtTenantID  = "tenantid"
	ExtProjectID = "projectid"
	ExtTaskID    = "taskid"
)

// Change is one outbox entry.
type Change struct {
	ID       string // the stream entry's id
	Kind, Op string // store.Outbox*
	EntityID string
	Old, New []byte // the records before and after; nil for none
}

// changeOf reads an outbox entry.
func changeOf(id string, v map[string]any) Change {
	c := Change{ID: id}
	c.Kind, _ = v["kind"].(string)
	c.EntityID, _ = v["id"].(string)
	c.Op, _ = v["op"].(string)
	if s, ok := v["old"].(string); ok {
		c.Old = []byte(s)
	}
	if s, ok := v["new"].(string); ok {
		c.New = []byte(s)
	}
	return c
}

// Data is the payload of every outbound event (docs/events.md lists its fields).
type Data struct {
	ID            string                `json:"id"`
	Kind          string                `json:"kind"`
	Name          string                `json:"name,omitempty"`
	State         string                `json:"state,omitempty"`
	PreviousState string                `json:"previousState,omitempty"`
	TenantID      string                `json:"tenantId,omitempty"`
	ProjectID     string                `json:"projectId,omitempty"`
	StateReason   string                `json:"stateReason,omitempty"`
	VMID          string                `json:"vmId,omitempty"`
	HostID        string                `json:"hostId,omitempty"`
	Type          string                `json:"type,omitempty"` // an orphan's
	Limits        []model.QuotaLineItem `json:"limits,omitempty"`
	Operation     string                `json:"operation,omitempty"`
	Entity        *model.Entity         `json:"entity,omitempty"`
	Error         *errs.Error           `json:"error,omitempty"`
}

// record is what the deriver reads of any entity record: the fields the kinds share.
type record struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"`
	State       string                `json:"state"`
	StateReason string                `json:"stateReason"`
	TenantID    string                `json:"tenantId"`
	ProjectID   string                `json:"projectId"`
	ActiveTask  string                `json:"activeTask"`
	VMs         []string              `json:"vms"`    // disks
	HostID      string                `json:"hostId"` // orphans
	VMID        string                `json:"vmId"`   // orphans
	Type        string                `json:"type"`   // orphans
	Limits      []model.QuotaLineItem `json:"limits"` // projects
	// tasks
	Operation string        `json:"operation"`
	Entity    *model.Entity `json:"entity"`
	Steps     []model.Step  `json:"steps"`
}

func decode(raw []byte) (*record, error) {
	if raw == nil {
		return nil, nil
	}
	r := new(record)
	return r, codec.Unmarshal(raw, r)
}

// Derive turns one outbox entry into the outbound events it means (often none). It is
// pure and deterministic: deriving an entry again gives the same events, ids included.
func Derive(c Change) ([]cloudevents.Event, error) {
	old, err := decode(c.Old)
	if err != nil {
		return nil, fmt.Errorf("outbox %s: old %s %s: %w", c.ID, c.Kind, c.EntityID, err)
	}
	cur, err := decode(c.New)
	if err != nil {
		return nil, fmt.Errorf("outbox %s: new %s %s: %w", c.ID, c.Kind, c.EntityID, err)
	}
	last := cur
	if last == nil {
		last = old
	}
	if last == nil {
		return nil, nil
	}
	task := c.EntityID
	if c.Kind != model.KindTask {
		task = activeTask(cur, old)
	}
	var out []cloudevents.Event
	emit := func(typ string, d Data) {
		out = append(out, c.event(len(out), typ, task, d))
	}
	d := c.data(last)
	if c.Kind == model.KindTask {
		deriveTask(old, cur, d, emit)
		return out, nil
	}
	switch {
	case old == nil:
		emit(TypeOf(c.Kind, "created"), d)
		if c.Kind == model.KindDisk && cur.State == model.DiskDetached {
			break // created detached: nothing more to say
		}
		if t, ok := stateType(c.Kind, cur.State); ok && c.Kind != model.KindHost && c.Kind != model.KindImage {
			emit(t, d) // e.g. a disk created ATTACHED
		}
	case cur == nil:
		d.PreviousState = ""
		if c.Kind != model.KindImage || old.State != model.ImageDeleted {
			emit(TypeOf(c.Kind, "deleted"), d)
		}
	case old.State != cur.State:
		t, ok := stateType(c.Kind, cur.State)
		if !ok {
			break
		}
		d.PreviousState = old.State
		if c.Kind == model.KindDisk {
			d.VMID = firstOf(cur.VMs, old.VMs, cur.State == model.DiskDetached)
		}
		emit(t, d)
	}
	return out, nil
}

// deriveTask: a task that ends (created ended, or reaching COMPLETED or ERROR) makes
// task.completed or task.failed, and a completed quota task quota.changed.
func deriveTask(old, cur *record, d Data, emit func(string, Data)) {
	if cur == nil || old != nil && old.State == cur.State {
		return
	}
	d.Operation, d.Entity = cur.Operation, cur.Entity
	if old != nil {
		d.PreviousState = old.State
	}
	switch cur.State {
	case model.TaskCompleted:
		emit(TypeTaskCompleted, d)
		if quotaOps[cur.Operation] && cur.Entity != nil {
			q := Data{ID: cur.Entity.ID, Kind: cur.Entity.Kind, TenantID: cur.TenantID, ProjectID: cur.ProjectID, Operation: cur.Operation}
			emit(TypeQuotaChanged, q)
		}
	case model.TaskError:
		for _, st := range cur.Steps {
			if st.State == model.TaskError && len(st.Errors) > 0 {
				d.Error = st.Errors[0]
				break
			}
		}
		emit(TypeTaskFailed, d)
	}
}

// firstOf is the VM a disk change is about: the one it is attached to now, or, when it
// was detached, the one it was attached to.
func firstOf(cur, old []string, detached bool) string {
	vms := cur
	if detached {
		vms = old
	}
	if len(vms) == 0 {
		return ""
	}
	return vms[0]
}

// stateType is the event type of kind reaching state, if the catalogue has one.
func stateType(kind, state string) (string, bool) {
	for _, ks := range kindStates {
		if ks.kind == kind {
			if _, ok := ks.states[state]; ok {
				if state == model.ImageDeleted {
					return TypeOf(kind, "deleted"), true
				}
				return TypeOf(kind, strings.ToLower(state)), true
			}
		}
	}
	return "", false
}

func (c Change) data(r *record) Data {
	d := Data{ID: c.EntityID, Kind: c.Kind, Name: r.Name, State: r.State, TenantID: r.TenantID, ProjectID: r.ProjectID}
	switch c.Kind {
	case model.KindTenant:
		d.TenantID = c.EntityID
	case model.KindProject:
		d.ProjectID = c.EntityID
		d.Limits = r.Limits
	case model.KindHost, model.KindVM, model.KindDisk:
		d.StateReason = r.StateReason
	case model.KindOrphan:
		d.StateReason, d.HostID, d.VMID, d.Type = r.StateReason, r.HostID, r.VMID, r.Type
	case model.KindTask:
		d.Name = ""
	}
	return d
}

// event builds the n-th event of the change. Its id is the entry's id and n, its time the
// entry's (the commit's), so a redelivery is recognisable.
func (c Change) event(n int, typ, task string, d Data) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(fmt.Sprintf("%s.%d", c.ID, n))
	e.SetSource(Source)
	e.SetType(typ)
	e.SetSubject(d.ID)
	var ms int64
	fmt.Sscanf(c.ID, "%d-", &ms)
	e.SetTime(time.UnixMilli(ms).UTC())
	if d.TenantID != "" {
		e.SetExtension(ExtTenantID, d.TenantID)
	}
	if d.ProjectID != "" {
		e.SetExtension(ExtProjectID, d.ProjectID)
	}
	if task != "" {
		e.SetExtension(ExtTaskID, task)
	}
	_ = e.SetData(cloudevents.ApplicationJSON, d)
	return e
}

// activeTask is the task behind a change of an entity: the one holding it after the
// change, or before (a task that ends lets go of its entity in the change it makes).
func activeTask(recs ...*record) string {
	for _, r := range recs {
		if r != nil && r.ActiveTask != "" {
			return r.ActiveTask
		}
	}
	return ""
}
