package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// TestRetryTask: a task parked on an undo whose retries ran out shows the undo error on
// its step; POST /v1/tasks/{id}/retry puts it back in STARTED and the relay publishes
// the undo to the function that runs it; a task with nothing parked is refused.
func TestRetryTask(t *testing.T) {
	h := newHarness(t)
	w := h.world(t)
	ctx := t.Context()
	const step = 3 // vm.create's CREATE_VM_ON_HOST
	undo := events.New("photon/function/vmhost", events.VMCreate.UndoType(step), "",
		events.StepData{TaskID: w.task, EntityID: w.vm, Error: errs.New(errs.CodeQuotaError, "cause")})
	raw, err := json.Marshal(undo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.s.UpdateTask(ctx, w.task, func(t *model.Task) error {
		t.State, t.ParkedUndo = model.TaskError, raw
		t.Steps[step].UndoError = errs.New(errs.CodeUnavailable, "undo gave up").WithData("undo", "failed")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := h.invoke(t, sys, m("Tasks", "GetTask"), &pb.IdRequest{Id: w.task})
	if err != nil {
		t.Fatal(err)
	}
	if es := got.(*pb.Task).GetSteps()[step].GetErrors(); len(es) != 1 || es[0].GetData()["undo"] != "failed" {
		t.Fatalf("parked step's errors %v", es)
	}

	post := func() (int, *pb.Task) {
		r, _ := http.NewRequestWithContext(ctx, "POST", "http://"+h.gw.HTTPAddr()+"/v1/tasks/"+w.task+"/retry", nil)
		r.Header.Set("Authorization", "Bearer "+h.tokens[sys])
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		var task pb.Task
		json.Unmarshal(body, &task)
		return res.StatusCode, &task
	}
	if code, task := post(); code != http.StatusCreated || task.GetState() != model.TaskStarted || len(task.GetSteps()[step].GetErrors()) != 0 {
		t.Fatalf("retry: %d %v", code, task)
	}
	if code, _ := post(); code != http.StatusBadRequest {
		t.Fatalf("a second retry: %d, want 400 StateError", code)
	}
	stream := events.Stream(h.s.Prefix(), "vmhost")
	for deadline := time.Now().Add(10 * time.Second); ; {
		ms, err := h.rdb.XRange(ctx, stream, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range ms {
			var e cloudevents.Event
			if json.Unmarshal([]byte(msg.Values["e"].(string)), &e) == nil && e.Type() == undo.Type() && e.ID() == undo.ID() {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the undo was not published to %s: %d entries", stream, len(ms))
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(20 * time.Millisecond): // polled: the relay gives no signal
		}
	}
}
