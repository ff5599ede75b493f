package gateway

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/photon-cloud/photon/metrics"
)

// What the gateway measures (metrics.Families): every API call, over gRPC and REST alike,
// counted where the audit sees its outcome (unaryAudit, auditHTTP); admission's refusals;
// and, at each scrape, the chains in flight and the VMs by state, from counts Redis keeps.
var (
	apiRequests         = metrics.NewCounter(&metrics.APIRequests)
	apiDuration         = metrics.NewHistogram(&metrics.APIRequestDuration)
	admissionRejections = metrics.NewCounter(&metrics.AdmissionRejections)
)

// unrouted is the method label of a REST request no route took.
const unrouted = "unrouted"

// measureCall counts one answered API call. method is a gRPC method ("photon.v1.Vms/CreateVm")
// or a route of the gateway's own mux ("POST /v1/images"): never a path with ids in it.
func measureCall(ctx context.Context, method, protocol string, status int, start time.Time) {
	ctx = context.WithoutCancel(ctx)
	apiRequests.Add(ctx, 1, method, protocol, strconv.Itoa(status))
	apiDuration.Since(ctx, start, method, protocol)
}

// grpcMethodLabel is the method label of gRPC method fullMethod ("/photon.v1.Vms/CreateVm").
func grpcMethodLabel(fullMethod string) string { return strings.TrimPrefix(fullMethod, "/") }

// restMethodLabel is the method label of a REST call auditHTTP served: the gRPC method
// grpc-gateway routed it to (recordRoute), else the route of the gateway's mux that took
// it (r.Pattern), else unrouted.
func restMethodLabel(cl *call, r *http.Request) string {
	cl.mu.Lock()
	m := cl.method
	cl.mu.Unlock()
	switch {
	case m != "":
		return m
	case r.Pattern != "" && r.Pattern != "/" && r.Pattern != "/v1/":
		return r.Pattern
	}
	return unrouted
}

// recordRoute is a grpc-gateway middleware that names, in the call auditHTTP measures,
// the gRPC method a REST request was routed to: grpc-gateway's context carries the
// route's pattern, which the descriptors' HTTP bindings map to their method (methods.go).
func recordRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if cl := callOf(r.Context()); cl != nil {
			if p, ok := runtime.HTTPPattern(r.Context()); ok {
				if m, ok := methods().byRoute[r.Method+" "+strings.ReplaceAll(p.String(), "=*}", "}")]; ok {
					cl.mu.Lock()
					cl.method = m
					cl.mu.Unlock()
				}
			}
		}
		next(w, r, params)
	}
}

// admissionRefused counts a 429 of admission: the total limit reached, or the tenant's
// share of it.
func admissionRefused(ctx context.Context, overLimit bool) {
	reason := "tenant_share"
	if overLimit {
		reason = "limit"
	}
	admissionRejections.Add(context.WithoutCancel(ctx), 1, reason)
}

// observe reports the gateway's gauges at each scrape until the returned function is called.
func (c *core) observe() (stop func()) {
	return metrics.Observe(func(ctx context.Context, o metrics.Observer) {
		o.Gauge(&metrics.AdmissionLimit, float64(c.admission.Limit))
		if n, err := c.store.AdmittedTotal(ctx); err == nil {
			o.Gauge(&metrics.AdmissionInFlight, float64(n))
		}
		if states, err := c.store.VMStates(ctx); err == nil {
			for state, n := range states {
				o.Gauge(&metrics.VMs, float64(n), state)
			}
		}
	}, &metrics.AdmissionLimit, &metrics.AdmissionInFlight, &metrics.VMs)
}
