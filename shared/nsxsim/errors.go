package nsxsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// NSX error codes the simulator answers with. 600 (object not found) and 205 (stale
// revision) are NSX's own; the others only need to be stable for tests.
const (
	codeNotFound     = 600
	codeStale        = 205
	codeInvalidJSON  = 325
	codeInvalidParam = 255
	codeInvalid      = 8327
	codeInUse        = 5041
	codeAttached     = 5042
	codeExhausted    = 5109
	codeNotAllocated = 5110
	codeInjected     = 99
)

const (
	moduleCommon    = "common-services"
	moduleSwitching = "switching"
	moduleRouting   = "routing"
	modulePools     = "id-allocation-service"
)

// apiError is NSX's error body; httpStatus is derived from status.
type apiError struct {
	status  int
	code    int64
	module  string
	message string
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"httpStatus":    strings.ToUpper(strings.ReplaceAll(http.StatusText(e.status), " ", "_")),
		"error_code":    e.code,
		"module_name":   e.module,
		"error_message": e.message,
	})
}

func notFound(id string) *apiError {
	return &apiError{http.StatusNotFound, codeNotFound, moduleCommon,
		fmt.Sprintf("The requested object : %s could not be found. Object identifiers are case sensitive.", id)}
}

func badRequest(code int64, format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, code, moduleCommon, fmt.Sprintf(format, args...)}
}

func (e *apiError) in(module string) *apiError {
	e.module = module
	return e
}
