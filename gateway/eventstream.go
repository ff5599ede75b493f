package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/photon-cloud/photon/gateway/rest"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/notify"
)

// EventStreamPath serves the outbound events live as server-sent events (the console's
// live tables read it).
const EventStreamPath = "/v1/events/stream"

// Bounds of one event stream. A stream ends after streamLifetime, so that a client
// reconnects with the token it holds then (its rights and its token's expiry are checked
// again; it resumes with Last-Event-ID); what a caller may see is read again every
// streamRecheck; a comment every streamHeartbeat keeps proxies from closing an idle one.
// A stream also ends when its gateway closes.
const (
	streamLifetime  = 10 * time.Minute
	streamRecheck   = 30 * time.Second
	streamHeartbeat = 15 * time.Second
)

// eventStream serves GET /v1/events/stream: each outbound event (shared/notify's
// catalogue) the caller may see, as subscriptions decide (notify.MaySee on the event's
// tenant and project), in commit order. ?types= keeps the events whose type starts with
// one of its comma-separated prefixes; ?projectId= those of one project. A client that
// reconnects sends the id of the last event it saw (the Last-Event-ID header, or ?after=)
// and gets what came after it first, as far as the stream still holds it. The token goes
// in the Authorization header, as for every other call: the console reads the stream
// with fetch, not EventSource, so that no token is ever in a URL.
func (s *Server) eventStream(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if s.opts.Feed == nil {
		rest.ErrorHandler(ctx, nil, &rest.Marshaler{}, w, r, errs.Unavailable(0, "this gateway serves no event stream"))
		return
	}
	q := r.URL.Query()
	var types []string
	if t := q.Get("types"); t != "" {
		types = strings.Split(t, ",")
	}
	project := q.Get("projectId")
	if project != "" {
		if _, _, err := s.core.projectAs(ctx, project, need(ctx)); err != nil {
			rest.ErrorHandler(ctx, nil, &rest.Marshaler{}, w, r, err)
			return
		}
	}
	after := r.Header.Get("Last-Event-ID")
	if after == "" {
		after = q.Get("after")
	}
	ctx, cancel := context.WithTimeout(ctx, streamLifetime)
	defer cancel()
	defer context.AfterFunc(s.closing, cancel)() // the gateway closes
	events, err := s.opts.Feed.Subscribe(ctx, after)
	if err != nil {
		rest.ErrorHandler(ctx, nil, &rest.Marshaler{}, w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	fmt.Fprintf(w, "retry: 2000\n: photon events\n\n")
	rc.Flush()

	who := caller(ctx)
	seen := map[[2]string]bool{} // scope → may see, until the next recheck
	recheck := time.NewTicker(streamRecheck)
	defer recheck.Stop()
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-recheck.C:
			clear(seen)
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case e, ok := <-events:
			if !ok {
				return // fell behind, or the stream's lifetime is over: the client reconnects
			}
			if project != "" && e.ProjectID != project || !wanted(types, e.Type) {
				continue
			}
			scope := [2]string{e.TenantID, e.ProjectID}
			may, known := seen[scope]
			if !known {
				if may, err = notify.MaySee(ctx, s.core.store, who, e.TenantID, e.ProjectID); err != nil {
					return
				}
				seen[scope] = may
			}
			if !may {
				continue
			}
			if _, err := fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", e.ID, e.Type, e.CE); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// wanted reports whether an event type starts with one of prefixes (none: every type).
func wanted(prefixes []string, typ string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(typ, strings.TrimSpace(p)) {
			return true
		}
	}
	return false
}
