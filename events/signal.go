package events

import (
	"encoding/json"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/uuid"
)

// A Signal asks a function for work outside any chain: no task records it, nothing
// undoes it, and the function answers with no event. Its subject names what the work is
// about. Signals are routed like chain steps (TypesFor, Subscribers, the Knative
// Triggers) and delivered at least once, so a function's work on one is idempotent.
type Signal struct {
	Type     string
	Function string
}

// HostReconcile asks the reconciler (functions/reconcile) for a pass over one host, the
// event's subject: on the host's (re)registration and on the reconciler's timer.
var HostReconcile = Signal{Type: TypePrefix + "host.reconcile.requested", Function: "reconcile"}

// Signals lists every signal.
var Signals = []Signal{HostReconcile}

// NewSignal builds a signal event about subject.
func NewSignal(source string, s Signal, subject string) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(uuid.NewString())
	e.SetSource(source)
	e.SetType(s.Type)
	e.SetSubject(subject)
	e.SetTime(time.Now())
	e.SetExtension(ExtHops, 0)
	return e
}

// EncodeSignals encodes signal s about each subject for the starts stream
// (store.AppendSignals), which the relay publishes.
func EncodeSignals(source string, s Signal, subjects ...string) [][]byte {
	out := make([][]byte, len(subjects))
	for i, sub := range subjects {
		raw, err := json.Marshal(NewSignal(source, s, sub))
		if err != nil {
			panic(fmt.Sprintf("encode signal: %v", err)) // an event without data always encodes
		}
		out[i] = raw
	}
	return out
}
