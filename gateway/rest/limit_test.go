package rest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"

	photonv1 "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
)

// countingBody is a request body of n bytes that counts what the server read of it.
type countingBody struct {
	json      io.Reader
	remaining int64
	read      int64
}

// bigSpec is a VM create spec n bytes long, padded with JSON whitespace: valid to the
// end and within every field's bound, so only the body limit can refuse it.
func bigSpec(n int64) *countingBody {
	head, tail := `{"name":"web"`, `}`
	pad := n - int64(len(head)+len(tail))
	return &countingBody{json: io.MultiReader(strings.NewReader(head), io.LimitReader(repeat(' '), pad), strings.NewReader(tail)), remaining: n}
}

type repeat byte

func (c repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.json.Read(p)
	b.read += int64(n)
	return n, err
}

func (b *countingBody) Close() error { return nil }

// TestLimitBody: a body past MaxBody is refused with 413 RequestTooLarge, having read
// nothing of it when its length is announced and at most the limit and a buffer of it
// when it is chunked; a body within the limit is served.
func TestLimitBody(t *testing.T) {
	t.Parallel()
	const twentyMB = 20 << 20
	tests := []struct {
		name     string
		size     int64
		announce bool  // send Content-Length
		status   int   // wanted status
		maxRead  int64 // most bytes the server may read
	}{
		{"20 MB announced", twentyMB, true, http.StatusRequestEntityTooLarge, 0},
		{"20 MB chunked", twentyMB, false, http.StatusRequestEntityTooLarge, MaxBody + 64<<10},
		{"one byte past the limit, chunked", MaxBody + 1, false, http.StatusRequestEntityTooLarge, MaxBody + 1},
		{"at the limit", MaxBody, true, http.StatusCreated, MaxBody},
		{"small", 100, false, http.StatusCreated, 100},
	}
	mux := runtime.NewServeMux(ServeMuxOptions()...)
	if err := photonv1.RegisterVmsHandlerServer(t.Context(), mux, &vms{}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := bigSpec(tt.size)
			req := httptest.NewRequestWithContext(t.Context(), "POST", "/v1/projects/p1/vms", body)
			req.ContentLength = -1
			if tt.announce {
				req.ContentLength = tt.size
			}
			w := httptest.NewRecorder()
			mux.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %.200s", w.Code, tt.status, w.Body.Bytes())
			}
			if body.read > tt.maxRead {
				t.Errorf("read %d bytes of %d, want at most %d", body.read, tt.size, tt.maxRead)
			}
			if tt.status != http.StatusRequestEntityTooLarge {
				return
			}
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code != errs.CodeRequestTooLarge {
				t.Errorf("body %s, want code %s", w.Body.Bytes(), errs.CodeRequestTooLarge)
			}
		})
	}
}
