package rest

import (
	"errors"
	"io"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	"github.com/photon-cloud/photon/shared/errs"
)

// MaxBody is the most bytes of a request body the API reads. Every create or update
// spec fits many times over (shared/domain's bounds keep each field small); image and
// ISO uploads are served apart, with limits of their own.
const MaxBody = 1 << 20

// LimitBody is the runtime.Middleware that refuses a request body past MaxBody with 413
// RequestTooLarge before it is read whole: at once when its Content-Length says so, else
// as soon as the decoder reads the byte past the limit (the connection is then closed
// rather than drained).
func LimitBody(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if r.ContentLength > MaxBody {
			writeError(w, http.StatusRequestEntityTooLarge, errs.TooLarge(MaxBody))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, MaxBody)}
		}
		next(w, r, params)
	}
}

// limitedBody remembers that its reader hit the limit, so that ErrorHandler answers
// RequestTooLarge for the decoding error grpc-gateway makes of it (an InvalidArgument
// status whose cause is lost).
type limitedBody struct {
	io.ReadCloser
	exceeded bool
	refused  error // what the decoder's bounds check refused (Marshaler.NewDecoder)
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		b.exceeded = true
	}
	return n, err
}

// bodyError is the error to answer instead of the decoding error grpc-gateway made of
// it when r's body went past its limit or past a bound.
func bodyError(r *http.Request) (*errs.Error, bool) {
	if r == nil {
		return nil, false
	}
	b, ok := r.Body.(*limitedBody)
	switch {
	case !ok:
		return nil, false
	case b.exceeded:
		return errs.TooLarge(MaxBody), true
	case b.refused != nil:
		return errs.As(b.refused), true
	}
	return nil, false
}
