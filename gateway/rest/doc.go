// Package rest makes grpc-gateway's REST side speak Photon Controller 1.2's JSON, so that
// Photon's Go SDK and CLI work against the gateway unchanged.
//
// Photon's clients decode responses with encoding/json into structs with int64 fields
// (queuedTime, size, ...), which protojson's quoted 64-bit integers break; they expect
// errors as ApiError {"code","message","data"} with Photon's HTTP statuses, and 201 for
// calls that start a task. Marshaler, ErrorHandler, RoutingErrorHandler and
// CreatedForTasks provide those; ServeMuxOptions wires them all into a ServeMux.
package rest
