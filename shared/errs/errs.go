// Package errs holds Photon's domain errors and maps them, in one table, to Photon ApiError
// codes, gRPC codes and HTTP statuses. It also carries the retry contract of the function
// runtime: an error wrapped with Permanent is never retried.
package errs

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Photon ApiError codes (Photon Controller 1.2 names).
const (
	CodeInvalidJSON       = "InvalidJson"
	CodeInvalidEntity     = "InvalidEntity"
	CodeNameTaken         = "NameTaken"
	CodeQuotaError        = "QuotaError"
	CodeNotFound          = "NotFound"
	CodeStateError        = "StateError"
	CodeConcurrentTask    = "ConcurrentTask"
	CodeNotEnoughCapacity = "NotEnoughCpuResource" // placement found no host with room
	CodeNotEnoughMemory   = "NotEnoughMemoryResource"
	CodeNotEnoughDisk     = "NotEnoughDatastoreCapacity"
	CodeNoSuchHost        = "NoSuchResource"
	CodeAccessForbidden   = "AccessForbidden"
	CodeMissingAuthToken  = "MissingAuthToken"
	CodeInvalidAuthToken  = "InvalidAuthToken"
	CodeExpiredAuthToken  = "ExpiredAuthToken"
	CodeTooManyRequests   = "TooManyRequests"
	CodeHostError         = "HostError" // the ESXi host refused or failed an operation
	CodeInternal          = "InternalError"
	CodeUnavailable       = "ServiceUnavailable"
	CodeSystemPaused      = "SystemPaused"     // the system is paused: mutations are refused
	CodeMethodNotAllowed  = "MethodNotAllowed" // the path exists, not with this HTTP verb
	CodeNotImplemented    = "NotImplemented"   // a Photon call that Photon has nothing behind
	CodeRequestTooLarge   = "RequestTooLarge"  // a request body past its limit, refused before it is read whole
)

type mapping struct {
	grpc codes.Code
	http int
}

// table is the one place where Photon codes meet gRPC codes and HTTP statuses.
var table = map[string]mapping{
	CodeInvalidJSON:       {codes.InvalidArgument, http.StatusBadRequest},
	CodeInvalidEntity:     {codes.InvalidArgument, http.StatusBadRequest},
	CodeNameTaken:         {codes.AlreadyExists, http.StatusBadRequest},
	CodeQuotaError:        {codes.ResourceExhausted, http.StatusBadRequest},
	CodeNotFound:          {codes.NotFound, http.StatusNotFound},
	CodeStateError:        {codes.FailedPrecondition, http.StatusBadRequest},
	CodeConcurrentTask:    {codes.Aborted, http.StatusBadRequest},
	CodeNotEnoughCapacity: {codes.ResourceExhausted, http.StatusBadRequest},
	CodeNotEnoughMemory:   {codes.ResourceExhausted, http.StatusBadRequest},
	CodeNotEnoughDisk:     {codes.ResourceExhausted, http.StatusBadRequest},
	CodeNoSuchHost:        {codes.FailedPrecondition, http.StatusBadRequest},
	CodeAccessForbidden:   {codes.PermissionDenied, http.StatusForbidden},
	CodeMissingAuthToken:  {codes.Unauthenticated, http.StatusUnauthorized},
	CodeInvalidAuthToken:  {codes.Unauthenticated, http.StatusUnauthorized},
	CodeExpiredAuthToken:  {codes.Unauthenticated, http.StatusUnauthorized},
	CodeTooManyRequests:   {codes.ResourceExhausted, http.StatusTooManyRequests},
	CodeHostError:         {codes.Unavailable, http.StatusInternalServerError},
	CodeInternal:          {codes.Internal, http.StatusInternalServerError},
	CodeUnavailable:       {codes.Unavailable, http.StatusServiceUnavailable},
	CodeSystemPaused:      {codes.Unavailable, http.StatusServiceUnavailable},
	CodeMethodNotAllowed:  {codes.Unimplemented, http.StatusMethodNotAllowed},
	CodeNotImplemented:    {codes.Unimplemented, http.StatusNotImplemented},
	CodeRequestTooLarge:   {codes.ResourceExhausted, http.StatusRequestEntityTooLarge},
}

// byGRPC names the Photon code for a gRPC status that carries none.
var byGRPC = map[codes.Code]string{
	codes.InvalidArgument:    CodeInvalidEntity,
	codes.NotFound:           CodeNotFound,
	codes.AlreadyExists:      CodeNameTaken,
	codes.FailedPrecondition: CodeStateError,
	codes.Aborted:            CodeConcurrentTask,
	codes.PermissionDenied:   CodeAccessForbidden,
	codes.Unauthenticated:    CodeInvalidAuthToken,
	codes.ResourceExhausted:  CodeTooManyRequests,
	codes.Unavailable:        CodeUnavailable,
	codes.DeadlineExceeded:   CodeUnavailable,
}

// Error is a Photon ApiError: a code from the table above, a message for people and
// optional data for programs.
type Error struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Data    map[string]string `json:"data,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Is matches errors by code, so errors.Is(err, errs.ErrNotFound) holds for every NotFound.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Message == ""
}

// HTTPStatus is the HTTP status for the error's code.
func (e *Error) HTTPStatus() int {
	if m, ok := table[e.Code]; ok {
		return m.http
	}
	return http.StatusInternalServerError
}

// GRPCStatus lets status.FromError and grpc-gateway see the error as a gRPC status. The
// Photon code and data travel as an ErrorInfo detail so they survive the wire.
func (e *Error) GRPCStatus() *status.Status {
	c := codes.Internal
	if m, ok := table[e.Code]; ok {
		c = m.grpc
	}
	st := status.New(c, e.Message)
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: e.Code, Domain: "photon", Metadata: e.Data}}
	if d, ok := e.RetryAfter(); ok {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	}
	if d, err := st.WithDetails(details...); err == nil {
		return d
	}
	return st
}

// TooMany is the error of a call refused because Photon is busy; it tells the client when
// to try again (data retryAfterMs, the HTTP Retry-After header, gRPC RetryInfo).
func TooMany(retryAfter time.Duration, format string, args ...any) *Error {
	return New(CodeTooManyRequests, format, args...).WithData("retryAfterMs", strconv.FormatInt(retryAfter.Milliseconds(), 10))
}

// RetryAfter is the retry hint e carries, if any.
func (e *Error) RetryAfter() (time.Duration, bool) {
	ms, err := strconv.ParseInt(e.Data["retryAfterMs"], 10, 64)
	if err != nil || ms < 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// Sentinels for errors.Is.
var (
	ErrNotFound       = &Error{Code: CodeNotFound}
	ErrQuota          = &Error{Code: CodeQuotaError}
	ErrNameTaken      = &Error{Code: CodeNameTaken}
	ErrInvalid        = &Error{Code: CodeInvalidEntity}
	ErrState          = &Error{Code: CodeStateError}
	ErrConcurrentTask = &Error{Code: CodeConcurrentTask}
	ErrForbidden      = &Error{Code: CodeAccessForbidden}
	ErrUnavailable    = &Error{Code: CodeUnavailable}
)

// New makes an Error with a formatted message.
func New(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// NotFound is the error for a missing entity: "Vm #abc not found".
func NotFound(kind, id string) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf("%s #%s not found", kind, id),
		Data: map[string]string{"kind": kind, "id": id}}
}

// Invalid is the error for a request that fails validation.
func Invalid(format string, args ...any) *Error { return New(CodeInvalidEntity, format, args...) }

// TooLarge is the error of a request body longer than limit bytes.
func TooLarge(limit int64) *Error {
	return New(CodeRequestTooLarge, "the request body is larger than %d bytes", limit).WithData("limit", strconv.FormatInt(limit, 10))
}

// WithData returns a copy of e with key=value added to its data.
func (e *Error) WithData(key, value string) *Error {
	c := *e
	c.Data = maps.Clone(e.Data)
	if c.Data == nil {
		c.Data = map[string]string{}
	}
	c.Data[key] = value
	return &c
}

// As returns the Error in err's chain, or, for any other error, an InternalError (or the
// code a gRPC status in the chain names) carrying err's text.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.Unknown {
		return FromStatus(st)
	}
	if StoreUnavailable(err) {
		return Unavailable(StoreRetryAfter, "the store is unavailable, try again: %v", err)
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}

// StoreRetryAfter is the retry hint of a call that failed because the store (Redis) was
// unreachable or not ready: about the time a restarted redis-server takes to answer.
const StoreRetryAfter = 2 * time.Second

// Unavailable is the error of a call that may succeed later; it tells the client when to
// try again, as TooMany does.
func Unavailable(retryAfter time.Duration, format string, args ...any) *Error {
	return New(CodeUnavailable, format, args...).WithData("retryAfterMs", strconv.FormatInt(retryAfter.Milliseconds(), 10))
}

// StoreUnavailable reports whether err says the store cannot be reached or is not ready
// for commands, rather than refusing one: the connection failed or broke (a net.Error,
// a reset, an EOF mid-reply), the client's pool found no connection in time, or the
// server answered that it is loading its data, has no primary or is mid-failover (the
// error replies of Redis, recognized by their RedisError method and first word, so that
// errs needs no Redis client).
func StoreUnavailable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var re interface {
		error
		RedisError()
	}
	if errors.As(err, &re) {
		word, _, _ := strings.Cut(re.Error(), " ")
		switch word {
		case "LOADING", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "READONLY":
			return true
		}
	}
	return strings.Contains(err.Error(), "redis: connection pool timeout")
}

// FromStatus turns a gRPC status back into an Error, reading the ErrorInfo detail when
// there is one.
func FromStatus(st *status.Status) *Error {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.Domain == "photon" {
			return &Error{Code: info.Reason, Message: st.Message(), Data: info.Metadata}
		}
	}
	code, ok := byGRPC[st.Code()]
	if !ok {
		code = CodeInternal
	}
	return &Error{Code: code, Message: st.Message()}
}

// permanent marks an error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as not worth retrying. Photon Errors are permanent already unless
// their code says the service is unavailable.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether retrying err cannot help: it was marked Permanent, or it is
// a Photon Error (or gRPC status) whose code is not a transient one.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	var p permanent
	if errors.As(err, &p) {
		return true
	}
	var e *Error
	if errors.As(err, &e) {
		return !transientCode(e.Code)
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
			codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented, codes.Unauthenticated:
			return true
		}
	}
	return false
}

func transientCode(code string) bool {
	return code == CodeUnavailable || code == CodeInternal || code == CodeTooManyRequests
}
