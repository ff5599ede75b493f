package nsx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
)

// Kinds of failure that NSX reports only as a generic 400, recognised by looking at the
// state of the object after the refusal.
var (
	// ErrInUse: the object still has dependents (ports on a switch or router, addresses
	// allocated from a pool), or the Photon id already names a different object.
	ErrInUse = errors.New("in use")
	// ErrPoolExhausted: the pool has no free address left.
	ErrPoolExhausted = errors.New("IP pool exhausted")
)

// Error is a failed NSX call.
type Error struct {
	Op      string // what Photon was doing, e.g. "create logical switch"
	Status  int    // HTTP status; 0 when no answer came back
	Code    int64  // NSX error_code, when NSX sent one
	Module  string // NSX module_name
	Message string // NSX error_message, or the transport error
	Kind    error  // ErrInUse or ErrPoolExhausted when recognised
	Err     error  // the client's error
}

func (e *Error) Error() string {
	msg := "nsx: " + e.Op
	if e.Status != 0 {
		msg += fmt.Sprintf(": %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Kind != nil {
		msg += ": " + e.Kind.Error()
	}
	if e.Code != 0 {
		msg += fmt.Sprintf(" (NSX error %d)", e.Code)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap exposes both the kind and the client's error to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	var out []error
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// transient reports whether trying the same call again later can succeed.
func (e *Error) transient() bool {
	if e.Kind != nil {
		return false
	}
	switch {
	case e.Status == 0:
		return !errors.Is(e.Err, context.Canceled)
	case e.Status >= 500, e.Status == http.StatusTooManyRequests, e.Status == http.StatusRequestTimeout:
		return true
	}
	return false
}

// result is what a method returns: transient errors as they are, the others marked
// errs.Permanent for the function runtime.
func (e *Error) result() error {
	if e.transient() {
		return e
	}
	return errs.Permanent(e)
}

// IsNotFound reports whether NSX answered 404: the object (or one it refers to) does not exist.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// IsConflict reports whether the call clashed with the state of NSX: a stale _revision
// (412), a conflict (409), or an object still in use.
func IsConflict(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusConflict ||
		e.Status == http.StatusPreconditionFailed || errors.Is(e.Kind, ErrInUse))
}

// IsExhausted reports whether an allocation failed because the pool has no free address.
func IsExhausted(err error) bool { return errors.Is(err, ErrPoolExhausted) }

// IsTransient reports whether retrying later can help: 5xx, 408 and 429 answers and
// failures to reach NSX at all. Other 4xx answers are permanent.
func IsTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.transient()
}

// callError turns the outcome of a go-vmware-nsxt call into an *Error, or nil when it
// succeeded. NSX's error body is read from the response that keepErrorBody preserved.
func callError(op string, resp *http.Response, err error) *Error {
	if err == nil && (resp == nil || resp.StatusCode < 300) {
		return nil
	}
	e := &Error{Op: op, Err: err}
	if resp != nil {
		e.Status = resp.StatusCode
		if b, ok := resp.Body.(*errorBody); ok {
			var body struct {
				Code    int64  `json:"error_code"`
				Module  string `json:"module_name"`
				Message string `json:"error_message"`
			}
			if json.Unmarshal(b.raw, &body) == nil {
				e.Code, e.Module, e.Message = body.Code, body.Module, body.Message
			}
		}
	}
	if e.Message == "" && err != nil {
		e.Message = err.Error()
	}
	return e
}

// roundTripper bounds every request by a timeout (go-vmware-nsxt sends requests without the
// caller's context) and keeps the body of every error answer readable after the client has
// closed it: the client drops the body of most error answers, and with it NSX's message.
// It does both itself because an http.Client with a Timeout would wrap the body.
type roundTripper struct {
	next    http.RoundTripper
	timeout time.Duration
}

type errorBody struct {
	*bytes.Reader
	raw []byte
}

func (*errorBody) Close() error { return nil }

// cancelBody ends the request's timeout when the client closes the body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(r.Context(), rt.timeout)
	resp, err := rt.next.RoundTrip(r.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode < 300 {
		resp.Body = cancelBody{resp.Body, cancel}
		return resp, nil
	}
	defer cancel()
	raw, rerr := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if rerr != nil {
		return nil, rerr
	}
	resp.Body = &errorBody{bytes.NewReader(raw), raw}
	return resp, nil
}
