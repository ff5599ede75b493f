package events

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/photon-cloud/photon/shared/errs"
)

// HTTPBroker publishes events to a Knative Broker's ingress (or any CloudEvents sink,
// such as the K_SINK a SinkBinding gives a container) over HTTP, in binary content mode.
// On a cluster Knative delivers them to the Triggers' subscribers, so HTTPBroker has no
// Subscribe side.
type HTTPBroker struct {
	client cloudevents.Client
	// Parallel is how many events of one Publish are in flight at once; default 16.
	Parallel int
}

// NewHTTPBroker returns a broker that posts to url.
func NewHTTPBroker(url string) (*HTTPBroker, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64 // Go's default of 2 halves the rate of concurrent publishers
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(url),
		cehttp.WithClient(http.Client{Transport: tr, Timeout: 30 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w", url, err)
	}
	return &HTTPBroker{client: c, Parallel: 16}, nil
}

// Publish posts every event in es. An answer the Broker would not retry itself (a 4xx
// other than 404, 408, 409 and 429) is a permanent error.
func (b *HTTPBroker) Publish(ctx context.Context, es ...cloudevents.Event) error {
	sem := make(chan struct{}, max(b.Parallel, 1))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		fail []error
	)
	for _, e := range es {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := b.send(ctx, e); err != nil {
				mu.Lock()
				fail = append(fail, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	err := errors.Join(fail...)
	for _, f := range fail {
		if !errs.IsPermanent(f) {
			// One retryable failure makes the whole publish worth retrying.
			return fmt.Errorf("%d of %d events: %s", len(fail), len(es), err)
		}
	}
	return err
}

func (b *HTTPBroker) send(ctx context.Context, e cloudevents.Event) error {
	res := b.client.Send(ctx, e)
	if cloudevents.IsACK(res) {
		return nil
	}
	err := fmt.Errorf("publish %s %s: %w", e.Type(), e.ID(), res)
	var hr *cehttp.Result
	if cloudevents.ResultAs(res, &hr) && !Retryable(hr.StatusCode) {
		return errs.Permanent(err)
	}
	return err
}

// Retryable reports whether a Knative Broker retries a delivery answered with the HTTP
// status code: 5xx, 404, 408, 409 and 429 (knative.dev/eventing's dispatcher).
func Retryable(code int) bool {
	switch code {
	case http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return true
	}
	return code >= 500
}
