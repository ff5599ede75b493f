package rest

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"

	photonv1 "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
)

// vms is a Vms service that answers from fixed data, or with err when it is set.
type vms struct {
	photonv1.UnimplementedVmsServer
	err error
}

func (s *vms) CreateVm(_ context.Context, r *photonv1.CreateVmRequest) (*photonv1.Task, error) {
	if s.err != nil {
		return nil, s.err
	}
	return &photonv1.Task{Id: "t1", Operation: "CREATE_VM", State: "QUEUED", QueuedTime: 1_700_000_000_123,
		Entity: &photonv1.Entity{Id: r.GetSpec().GetName(), Kind: "vm"}}, nil
}

func (s *vms) DeleteVm(_ context.Context, r *photonv1.IdRequest) (*photonv1.Task, error) {
	return &photonv1.Task{Id: "t2", Operation: "DELETE_VM", Entity: &photonv1.Entity{Id: r.GetId(), Kind: "vm"}}, nil
}

func (s *vms) GetVm(_ context.Context, r *photonv1.IdRequest) (*photonv1.Vm, error) {
	if r.GetId() == "missing" {
		return nil, errs.NotFound("Vm", r.GetId())
	}
	return &photonv1.Vm{Id: r.GetId(), Name: "web"}, nil
}

// TestServeMux drives a ServeMux built from ServeMuxOptions over HTTP, as a Photon client
// would.
func TestServeMux(t *testing.T) {
	t.Parallel()
	newServer := func(t *testing.T, svc *vms) *httptest.Server {
		mux := runtime.NewServeMux(ServeMuxOptions()...)
		if err := photonv1.RegisterVmsHandlerServer(t.Context(), mux, svc); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		return srv
	}
	tests := []struct {
		name   string
		svc    *vms
		method string
		path   string
		body   string
		status int
		code   string // ApiError code; "" for success
		check  func(t *testing.T, body []byte)
	}{
		{name: "create answers 201 with numeric times", svc: &vms{}, method: "POST", path: "/v1/projects/p1/vms",
			body: `{"name":"web","flavor":"small","attachedDisks":[{"kind":"ephemeral-disk","capacityGb":2,"bootDisk":true}]}`, status: 201,
			check: func(t *testing.T, body []byte) {
				var task sdkTask
				if err := json.Unmarshal(body, &task); err != nil {
					t.Fatalf("SDK cannot decode %s: %v", body, err)
				}
				if task.QueuedTime != 1_700_000_000_123 || task.Entity.ID != "web" {
					t.Errorf("task = %+v", task)
				}
			}},
		{name: "delete answers 201", svc: &vms{}, method: "DELETE", path: "/v1/vms/v1", status: 201},
		{name: "get answers 200", svc: &vms{}, method: "GET", path: "/v1/vms/v1", status: 200,
			check: func(t *testing.T, body []byte) {
				if string(body) != `{"name":"web","id":"v1"}` {
					t.Errorf("body = %s", body)
				}
			}},
		{name: "service error", svc: &vms{}, method: "GET", path: "/v1/vms/missing", status: 404, code: errs.CodeNotFound},
		{name: "failed create is not 201", svc: &vms{err: errs.New(errs.CodeQuotaError, "over quota")}, method: "POST",
			path: "/v1/projects/p1/vms", body: `{"name":"web"}`, status: 400, code: errs.CodeQuotaError},
		{name: "unknown field", svc: &vms{}, method: "POST", path: "/v1/projects/p1/vms", body: `{"name":"web","color":"red"}`, status: 400, code: errs.CodeInvalidJSON},
		{name: "broken JSON", svc: &vms{}, method: "POST", path: "/v1/projects/p1/vms", body: `{"name":`, status: 400, code: errs.CodeInvalidJSON},
		{name: "no such path", svc: &vms{}, method: "GET", path: "/v1/nowhere", status: 404, code: errs.CodeNotFound},
		{name: "wrong method", svc: &vms{}, method: "PUT", path: "/v1/vms/v1", status: 405, code: errs.CodeMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, tt.svc)
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tt.code != "" {
				var e errorBody
				if err := json.Unmarshal(body, &e); err != nil || e.Code != tt.code {
					t.Errorf("body = %s, want code %q", body, tt.code)
				}
			}
			if tt.check != nil {
				tt.check(t, body)
			}
		})
	}
}

func TestCreatedForTasks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string // "" for no RecordMethod in the chain
		msg    *photonv1.Task
		vm     bool
		want   int
	}{
		{"POST task", "POST", &photonv1.Task{}, false, 201},
		{"DELETE task", "DELETE", &photonv1.Task{}, false, 201},
		{"GET task", "GET", &photonv1.Task{}, false, 200},
		{"POST other message", "POST", nil, true, 200},
		{"no middleware", "", &photonv1.Task{}, false, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := httptest.NewRecorder()
			h := func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
				var err error
				if tt.vm {
					err = CreatedForTasks(r.Context(), w, &photonv1.Vm{})
				} else {
					err = CreatedForTasks(r.Context(), w, tt.msg)
				}
				if err != nil {
					t.Error(err)
				}
			}
			req := httptest.NewRequestWithContext(t.Context(), cmp.Or(tt.method, "POST"), "/", nil)
			if tt.method == "" {
				h(rec, req, nil)
			} else {
				RecordMethod(h)(rec, req, nil)
			}
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d", rec.Code, tt.want)
			}
		})
	}

	t.Run("nil message and repeated calls", func(t *testing.T) {
		t.Parallel()
		rec := &countingWriter{ResponseRecorder: httptest.NewRecorder()}
		RecordMethod(func(w http.ResponseWriter, r *http.Request, _ map[string]string) {
			_ = CreatedForTasks(r.Context(), w, nil) // a stream's call before its first message
			for range 2 {                            // then one call per message
				_ = CreatedForTasks(r.Context(), w, &photonv1.Task{})
			}
		})(rec, httptest.NewRequestWithContext(t.Context(), "POST", "/", nil), nil)
		if rec.writes != 1 || rec.Code != 201 {
			t.Errorf("WriteHeader called %d times, status %d; want once, 201", rec.writes, rec.Code)
		}
	})
}

type countingWriter struct {
	*httptest.ResponseRecorder
	writes int
}

func (c *countingWriter) WriteHeader(code int) {
	c.writes++
	c.ResponseRecorder.WriteHeader(code)
}

// TestStream: grpc-gateway writes a streamed response as {"result": msg} lines and a
// failure as an {"error": status} line; both go through the Marshaler.
func TestStream(t *testing.T) {
	t.Parallel()
	mux := runtime.NewServeMux(ServeMuxOptions()...)
	req := httptest.NewRequestWithContext(t.Context(), "GET", "/v1/tasks/t1:watch", nil)
	_, out := runtime.MarshalerForRequest(mux, req)
	ctx := runtime.NewServerMetadataContext(t.Context(), runtime.ServerMetadata{})
	msgs := []*photonv1.Task{
		{Id: "t1", State: "STARTED", StartedTime: 1_700_000_000_200},
		{Id: "t1", State: "COMPLETED", EndTime: 1_700_000_000_900},
	}
	recv := func() (proto.Message, error) {
		if len(msgs) == 0 {
			return nil, errs.New(errs.CodeUnavailable, "watch ended")
		}
		m := msgs[0]
		msgs = msgs[1:]
		return m, nil
	}
	rec := httptest.NewRecorder()
	runtime.ForwardResponseStream(ctx, mux, out, rec, req, recv, mux.GetForwardResponseOptions()...)
	want := `{"result":{"id":"t1","state":"STARTED","startedTime":1700000000200}}` + "\n" +
		`{"result":{"id":"t1","state":"COMPLETED","endTime":1700000000900}}` + "\n" +
		`{"error":{"code":"ServiceUnavailable","message":"watch ended","data":{}}}` + "\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("stream =\n%s\nwant\n%s", got, want)
	}
	if rec.Code != 200 {
		t.Errorf("status = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}
