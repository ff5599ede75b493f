package rest

import (
	"context"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"
)

// request is what RecordMethod keeps of the HTTP request for the forward-response
// options, which see only the context, the writer and the message.
type request struct {
	method  string
	created bool // 201 was written; a streamed response asks for each message
}

type requestKey struct{}

// RecordMethod is a runtime.Middleware that puts the request's HTTP method in the
// context for CreatedForTasks. grpc-gateway's context carries the RPC name and the path
// pattern but not the method, and forward-response options are not given the request.
// The method recorded is the one the route matched, after X-HTTP-Method-Override.
func RecordMethod(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, pathParams map[string]string) {
		ctx := context.WithValue(r.Context(), requestKey{}, &request{method: r.Method})
		next(w, r.WithContext(ctx), pathParams)
	}
}

// CreatedForTasks is a forward-response option: it answers 201 Created, as Photon did
// for calls that start a task, when the response is a Task (its full name ends in
// ".Task") and the request was a POST or a DELETE. It needs RecordMethod in the mux's
// middlewares; without it every response keeps grpc-gateway's 200.
func CreatedForTasks(ctx context.Context, w http.ResponseWriter, m proto.Message) error {
	if m == nil {
		return nil // grpc-gateway's call before a stream's first message
	}
	req, ok := ctx.Value(requestKey{}).(*request)
	if !ok || req.created || (req.method != http.MethodPost && req.method != http.MethodDelete) {
		return nil
	}
	if name := m.ProtoReflect().Descriptor().FullName(); name != "Task" && !strings.HasSuffix(string(name), ".Task") {
		return nil
	}
	req.created = true
	w.WriteHeader(http.StatusCreated)
	return nil
}
