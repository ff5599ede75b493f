package events

import (
	"errors"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"

	"github.com/photon-cloud/photon/shared/errs"
)

// Extension attributes Photon sets on its events.
const (
	ExtTaskID      = "taskid"
	ExtTenantID    = "tenantid"
	ExtHops        = "hops"
	ExtTraceParent = "traceparent"
	ExtTraceState  = "tracestate"
)

// MaxHops stops an event loop: an event that has been forwarded this often is refused.
const MaxHops = 64

// StepData is the payload of every chain event. Everything else the step needs is in
// Redis, under the task and the entity.
type StepData struct {
	TaskID   string `json:"taskId"`
	EntityID string `json:"entityId"`
	// Error is set on undo and failed events: what made the chain fail.
	Error *errs.Error `json:"error,omitempty"`
}

// Validate checks the payload.
func (d StepData) Validate() error {
	if d.TaskID == "" || d.EntityID == "" {
		return errors.New("taskId and entityId are required")
	}
	return nil
}

// New builds a chain event of type t for the given payload.
func New(source, t, tenantID string, d StepData) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetSource(source)
	e.SetType(t)
	e.SetSubject(d.EntityID)
	e.SetTime(time.Now())
	e.SetExtension(ExtTaskID, d.TaskID)
	if tenantID != "" {
		e.SetExtension(ExtTenantID, tenantID)
	}
	e.SetExtension(ExtHops, 0)
	_ = e.SetData(cloudevents.ApplicationJSON, d)
	return e
}

// Next builds the event that follows in, carrying its tenant, trace context and hop count.
func Next(in cloudevents.Event, source, t string, d StepData) cloudevents.Event {
	tenant, _ := in.Extensions()[ExtTenantID].(string)
	e := New(source, t, tenant, d)
	e.SetExtension(ExtHops, Hops(in)+1)
	for _, k := range []string{ExtTraceParent, ExtTraceState} {
		if v, ok := in.Extensions()[k]; ok {
			e.SetExtension(k, v)
		}
	}
	return e
}

// Hops is the event's hop count.
func Hops(e cloudevents.Event) int {
	switch v := e.Extensions()[ExtHops].(type) {
	case int32:
		return int(v)
	case int:
		return v
	case string:
		var n int
		fmt.Sscan(v, &n)
		return n
	}
	return 0
}

// Decode reads and validates the StepData of e.
func Decode(e cloudevents.Event) (StepData, error) {
	var d StepData
	if err := e.DataAs(&d); err != nil {
		return d, fmt.Errorf("decode %s: %w", e.Type(), err)
	}
	if err := d.Validate(); err != nil {
		return d, fmt.Errorf("event %s: %w", e.ID(), err)
	}
	return d, nil
}
