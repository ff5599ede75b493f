package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/shared/errs"
)

// apiError is the JSON body of every REST error, Photon's ApiError. Data is always
// present ({} when empty), as Photon wrote it.
type apiError struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Data    map[string]string `json:"data"`
}

func apiErrorBody(e *errs.Error) apiError {
	data := e.Data
	if data == nil {
		data = map[string]string{}
	}
	return apiError{Code: e.Code, Message: e.Message, Data: data}
}

// ErrorHandler is the runtime.ErrorHandlerFunc of the REST side. It answers err with a
// Photon ApiError {"code","message","data"} and the HTTP status errs maps its code to:
//
//   - an *errs.Error from a service (in process, possibly wrapped, or across gRPC as an
//     ErrorInfo detail) keeps its code, message and data;
//   - a gRPC InvalidArgument without a Photon ErrorInfo detail was made by grpc-gateway
//     itself while reading the request (the JSON body, a path or query parameter), so it
//     is InvalidJson, as Photon answered a body it could not read;
//   - other gRPC statuses take the Photon code errs.FromStatus names;
//   - a runtime.HTTPStatusError keeps its HTTP status (grpc-gateway's routing errors).
//
// The body is always JSON, whatever marshaler the request negotiated.
func ErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	httpStatus := 0
	var hse *runtime.HTTPStatusError
	if errors.As(err, &hse) {
		httpStatus, err = hse.HTTPStatus, hse.Err
	}
	e := toAPIError(err)
	if httpStatus == 0 {
		httpStatus = e.HTTPStatus()
	}
	writeError(w, httpStatus, e)
}

// toAPIError is the Photon error that err stands for. An *errs.Error in err's chain is
// taken as it is: status.Convert would prefix its message with the wrapping context
// ("create vm: AccessForbidden: ..."), which is not for the client.
func toAPIError(err error) *errs.Error {
	var e *errs.Error
	if errors.As(err, &e) {
		return e
	}
	st, ok := status.FromError(err)
	if !ok {
		return errs.As(err) // a plain error: InternalError, or ServiceUnavailable when the store is down
	}
	if st.Code() == codes.InvalidArgument && !hasPhotonInfo(st) {
		return &errs.Error{Code: errs.CodeInvalidJSON, Message: st.Message()}
	}
	return errs.FromStatus(st)
}

func hasPhotonInfo(st *status.Status) bool {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == "photon" {
			return true
		}
	}
	return false
}

// RoutingErrorHandler is the runtime.RoutingErrorHandlerFunc of the REST side. A path
// that no route matches is NotFound (404); a path that matches only with another method
// is MethodNotAllowed (405); a malformed path is InvalidEntity (400).
// Without it grpc-gateway would send 405 through the error handler as Unimplemented,
// which errs knows only as an InternalError.
func RoutingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	var e *errs.Error
	switch httpStatus {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		e = routingError(r, httpStatus == http.StatusMethodNotAllowed)
	case http.StatusBadRequest:
		e = errs.New(errs.CodeInvalidEntity, "malformed path %q", r.URL.Path)
	default:
		e = errs.New(errs.CodeInternal, "routing failed: %s", http.StatusText(httpStatus))
	}
	writeError(w, httpStatus, e)
}

// routingError is the error of a request no route takes: MethodNotAllowed when the path
// is served with another method (known), else NotFound.
func routingError(r *http.Request, known bool) *errs.Error {
	if known {
		return errs.New(errs.CodeMethodNotAllowed, "%s does not support %s", r.URL.Path, r.Method)
	}
	return errs.New(errs.CodeNotFound, "%s not found", r.URL.Path)
}

// Unrouted answers a request that no handler of an http.ServeMux takes, as
// RoutingErrorHandler answers those of the REST mux: 405 MethodNotAllowed when the path is
// served with another method (known), else 404 NotFound.
func Unrouted(w http.ResponseWriter, r *http.Request, known bool) {
	if known {
		writeError(w, http.StatusMethodNotAllowed, routingError(r, true))
		return
	}
	writeError(w, http.StatusNotFound, routingError(r, false))
}

func writeError(w http.ResponseWriter, httpStatus int, e *errs.Error) {
	body, err := json.Marshal(apiErrorBody(e))
	if err != nil { // strings only: cannot fail
		body = []byte(`{"code":"InternalError","message":"cannot write the error","data":{}}`)
	}
	h := w.Header()
	// A failed call may have announced trailers or chunking for a response it never sent.
	h.Del("Trailer")
	h.Del("Transfer-Encoding")
	h.Set("Content-Type", "application/json")
	if d, ok := e.RetryAfter(); ok {
		h.Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
	}
	if httpStatus == http.StatusUnauthorized {
		challenge := `Bearer realm="photon"`
		if e.Code != errs.CodeMissingAuthToken {
			challenge += `, error="invalid_token"`
		}
		h.Set("WWW-Authenticate", challenge)
	}
	w.WriteHeader(httpStatus)
	if _, err := w.Write(body); err != nil {
		grpclog.Errorf("write error response: %v", err)
	}
}
