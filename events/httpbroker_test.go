package events_test

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/errs"
)

// TestHTTPBroker posts events to a stand-in for a Knative Broker's ingress: each arrives
// as a CloudEvent with its extensions, and the ingress's status decides whether a failed
// publish is worth retrying, as Knative's own dispatcher decides.
func TestHTTPBroker(t *testing.T) {
	cases := []struct {
		name          string
		status        int
		wantErr       bool
		wantPermanent bool
	}{
		{name: "accepted", status: http.StatusAccepted},
		{name: "ok", status: http.StatusOK},
		{name: "refused", status: http.StatusBadRequest, wantErr: true, wantPermanent: true},
		{name: "too many requests", status: http.StatusTooManyRequests, wantErr: true},
		{name: "not found yet", status: http.StatusNotFound, wantErr: true},
		{name: "unavailable", status: http.StatusServiceUnavailable, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			got := map[string]string{} // event id → task id
			ingress := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				e, err := cehttp.NewEventFromHTTPRequest(r)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				mu.Lock()
				got[e.ID()], _ = e.Extensions()[events.ExtTaskID].(string)
				mu.Unlock()
				w.WriteHeader(tc.status)
			}))
			defer ingress.Close()
			b, err := events.NewHTTPBroker(ingress.URL)
			if err != nil {
				t.Fatal(err)
			}
			e1 := events.New("test", events.VMCreate.StartType(), "t1", events.StepData{TaskID: "task-1", EntityID: "vm-1"})
			e2 := events.New("test", events.VMDelete.StartType(), "t1", events.StepData{TaskID: "task-2", EntityID: "vm-2"})
			err = b.Publish(t.Context(), e1, e2)
			if (err != nil) != tc.wantErr || errs.IsPermanent(err) != tc.wantPermanent {
				t.Fatalf("publish: %v (permanent %v), want error %v, permanent %v", err, errs.IsPermanent(err), tc.wantErr, tc.wantPermanent)
			}
			if got[e1.ID()] != "task-1" || got[e2.ID()] != "task-2" {
				t.Fatalf("ingress got %v", got)
			}
		})
	}
}

// TestHTTPBrokerUnreachable: an ingress that does not answer is a transient error.
func TestHTTPBrokerUnreachable(t *testing.T) {
	ingress := httptest.NewServer(http.NotFoundHandler())
	url := ingress.URL
	ingress.Close()
	b, err := events.NewHTTPBroker(url)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Publish(t.Context(), events.New("test", events.VMCreate.StartType(), "", events.StepData{TaskID: "t", EntityID: "e"}))
	if err == nil || errs.IsPermanent(err) {
		t.Fatalf("publish to a closed ingress: %v", err)
	}
}
