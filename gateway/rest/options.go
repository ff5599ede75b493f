package rest

import (
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
)

// ServeMuxOptions is everything this package adds to grpc-gateway's ServeMux, for
// runtime.NewServeMux(rest.ServeMuxOptions()...):
//
//   - Marshaler for every media type (wrapped in runtime.HTTPBodyMarshaler, as
//     grpc-gateway's default is, so google.api.HttpBody responses pass through raw);
//   - ErrorHandler and RoutingErrorHandler for Photon ApiError bodies;
//   - RecordMethod and CreatedForTasks for 201 on task-starting calls;
//   - LimitBody, which refuses a body past MaxBody with 413;
//   - IncomingHeaders, which also passes Idempotency-Key to the services.
//
// Options given after these to NewServeMux win for the settings they replace;
// WithMiddlewares and WithForwardResponseOption add to the ones here.
func ServeMuxOptions() []runtime.ServeMuxOption {
	return []runtime.ServeMuxOption{
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: Marshaler{}}),
		runtime.WithErrorHandler(ErrorHandler),
		runtime.WithRoutingErrorHandler(RoutingErrorHandler),
		runtime.WithMiddlewares(RecordMethod, LimitBody),
		runtime.WithForwardResponseOption(CreatedForTasks),
		runtime.WithIncomingHeaderMatcher(IncomingHeaders),
	}
}

// IncomingHeaders passes the headers grpc-gateway passes by default and Idempotency-Key
// (as metadata "idempotency-key") to the services.
func IncomingHeaders(key string) (string, bool) {
	if strings.EqualFold(key, "Idempotency-Key") {
		return "idempotency-key", true
	}
	return runtime.DefaultHeaderMatcher(key)
}
