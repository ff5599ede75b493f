package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/types"

	"github.com/photon-cloud/photon/shared/egress"
)

// attempt is the outcome of one delivery attempt.
type attempt struct {
	status    int   // the sink's HTTP status, 0 when none came
	err       error // nil when delivered
	permanent bool  // retrying cannot help
}

// retryable are the 4xx answers worth retrying; 5xx always are, other 4xx never.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// post sends e to sink in CloudEvents binary mode (attributes as ce-* headers, the data as
// the body), signed with secret.
func post(ctx context.Context, c *http.Client, sink, secret string, e *cloudevents.Event, now time.Time) attempt {
	body := e.Data()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sink, bytes.NewReader(body))
	if err != nil {
		return attempt{err: err, permanent: true}
	}
	h := req.Header
	h.Set("ce-specversion", e.SpecVersion())
	h.Set("ce-id", e.ID())
	h.Set("ce-source", e.Source())
	h.Set("ce-type", e.Type())
	if s := e.Subject(); s != "" {
		h.Set("ce-subject", s)
	}
	if !e.Time().IsZero() {
		h.Set("ce-time", e.Time().UTC().Format(time.RFC3339Nano))
	}
	for k, v := range e.Extensions() {
		if s, err := types.Format(v); err == nil {
			h.Set("ce-"+k, s)
		}
	}
	if ct := e.DataContentType(); ct != "" {
		h.Set("Content-Type", ct)
	}
	h.Set(SignatureHeader, Sign(secret, now, body))
	resp, err := c.Do(req)
	if err != nil {
		// A sink the egress policy refuses stays refused: it is dead-lettered at once.
		return attempt{err: err, permanent: errors.Is(err, egress.ErrRefused)}
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return attempt{status: resp.StatusCode}
	}
	return attempt{status: resp.StatusCode, permanent: !retryable(resp.StatusCode),
		err: fmt.Errorf("sink answered %s: %s", resp.Status, strings.TrimSpace(string(msg)))}
}

// backoff is the wait before retry n (1 for the first): first, doubled each time, capped.
func backoff(n int, first, ceiling time.Duration) time.Duration {
	d := first
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// sleepCtx waits d or until ctx ends; false when ctx ended.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
