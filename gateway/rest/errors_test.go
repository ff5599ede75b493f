package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/shared/errs"
)

type errorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Data    map[string]string `json:"data"`
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	var b errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("body %q: %v", rec.Body, err)
	}
	if b.Data == nil {
		t.Errorf("body %s has no data object", rec.Body)
	}
	return b
}

func TestErrorHandler(t *testing.T) {
	t.Parallel()
	quota := errs.New(errs.CodeQuotaError, "not enough vm.cpu").WithData("key", "vm.cpu")
	tests := []struct {
		name    string
		err     error
		status  int
		code    string
		message string
		data    map[string]string
		www     string
	}{
		{"photon error across gRPC", status.Convert(errs.NotFound("Vm", "v1")).Err(), 404, errs.CodeNotFound, "Vm #v1 not found", map[string]string{"kind": "Vm", "id": "v1"}, ""},
		{"photon error in process", quota, 400, errs.CodeQuotaError, "not enough vm.cpu", map[string]string{"key": "vm.cpu"}, ""},
		{"wrapped photon error", fmt.Errorf("create vm: %w", errs.ErrForbidden), 403, errs.CodeAccessForbidden, "", nil, ""},
		{"photon InvalidEntity stays", status.Convert(errs.Invalid("name is required")).Err(), 400, errs.CodeInvalidEntity, "name is required", nil, ""},
		{"gateway decode failure", status.Error(codes.InvalidArgument, `proto: (line 1:2): unknown field "bogus"`), 400, errs.CodeInvalidJSON, `proto: (line 1:2): unknown field "bogus"`, nil, ""},
		{"gateway path parameter", status.Errorf(codes.InvalidArgument, "type mismatch, parameter: %s", "page_size"), 400, errs.CodeInvalidJSON, "type mismatch, parameter: page_size", nil, ""},
		{"missing token", errs.New(errs.CodeMissingAuthToken, "no token"), 401, errs.CodeMissingAuthToken, "no token", nil, `Bearer realm="photon"`},
		{"expired token", errs.New(errs.CodeExpiredAuthToken, "expired"), 401, errs.CodeExpiredAuthToken, "expired", nil, `Bearer realm="photon", error="invalid_token"`},
		{"plain gRPC status", status.Error(codes.Unavailable, "redis down"), 503, errs.CodeUnavailable, "redis down", nil, ""},
		{"plain error", errors.New("boom"), 500, errs.CodeInternal, "boom", nil, ""},
		{"HTTPStatusError keeps its status", &runtime.HTTPStatusError{HTTPStatus: 400, Err: errors.New("malformed")}, 400, errs.CodeInternal, "malformed", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(t.Context(), "POST", "/v1/projects/p/vms", nil)
			ErrorHandler(t.Context(), runtime.NewServeMux(), Marshaler{}, rec, req, tt.err)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			b := decodeError(t, rec)
			if b.Code != tt.code || b.Message != tt.message {
				t.Errorf("body = %+v, want code %q message %q", b, tt.code, tt.message)
			}
			for k, v := range tt.data {
				if b.Data[k] != v {
					t.Errorf("data[%s] = %q, want %q", k, b.Data[k], v)
				}
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.www {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.www)
			}
		})
	}
}

func TestRoutingErrorHandler(t *testing.T) {
	t.Parallel()
	tests := []struct {
		httpStatus int
		code       string
	}{
		{http.StatusNotFound, errs.CodeNotFound},
		{http.StatusMethodNotAllowed, errs.CodeMethodNotAllowed},
		{http.StatusBadRequest, errs.CodeInvalidEntity},
		{http.StatusInternalServerError, errs.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.httpStatus), func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(t.Context(), "PUT", "/v1/nowhere", nil)
			RoutingErrorHandler(t.Context(), runtime.NewServeMux(), Marshaler{}, rec, req, tt.httpStatus)
			if rec.Code != tt.httpStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.httpStatus)
			}
			if b := decodeError(t, rec); b.Code != tt.code {
				t.Errorf("code = %q, want %q", b.Code, tt.code)
			}
		})
	}
}
