package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// FuzzRESTRequest sends any body (and any path tail) to the REST API's routes as a
// system administrator, uploads included: every answer is a Photon answer, never a
// server error, and every error is an ApiError with a code and a message.
//
// A longer run: go test -run '^$' -fuzz FuzzRESTRequest -fuzztime 1m ./gateway/
func FuzzRESTRequest(f *testing.F) {
	routes := []struct{ method, path, contentType string }{
		{"POST", "/v1/tenants", "application/json"},
		{"POST", "/v1/tenants/{tenant}/projects", "application/json"},
		{"POST", "/v1/projects/{project}/vms", "application/json"},
		{"POST", "/v1/projects/{project}/disks", "application/json"},
		{"POST", "/v1/projects/{project}/routers", "application/json"},
		{"PUT", "/v1/tenants/{tenant}/quota", "application/json"},
		{"PATCH", "/v1/projects/{project}/iam", "application/json"},
		{"POST", "/v1/projects/{project}/iam", "application/json"},
		{"POST", "/v1/flavors", "application/json"},
		{"POST", "/v1/infrastructure/hosts", "application/json"},
		{"GET", "/v1/system/audit", ""},
		{"GET", "/v1/tasks", ""},
		{"POST", "/v1/projects/{project}/images", "multipart/form-data; boundary=x"},
		{"POST", "/v1/vms/{vm}/attach_iso", "multipart/form-data; boundary=x"},
	}
	for i := range routes {
		f.Add(uint8(i), "", []byte(`{"name":"x"}`))
		f.Add(uint8(i), "?pageSize=-5&pageLink=%ff", []byte(`{"spec":{"name":"y","count":1000000}}`))
		f.Add(uint8(i), "/../..", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.iso\"\r\n\r\nabc\r\n--x--\r\n"))
		f.Add(uint8(i), "", []byte(`[{"principal":"","roles":["god"]}]`))
	}
	h := newHarness(f)
	w := h.world(f)
	base := "http://" + h.gw.HTTPAddr()
	fill := strings.NewReplacer("{tenant}", w.tenantA, "{project}", w.p1, "{vm}", w.vm)
	f.Fuzz(func(t *testing.T, which uint8, tail string, body []byte) {
		r := routes[int(which)%len(routes)]
		if strings.IndexFunc(tail, func(c rune) bool { return c <= ' ' || c >= 0x7f }) >= 0 {
			return // not a request line: net/http refuses it before any handler
		}
		req, err := http.NewRequestWithContext(t.Context(), r.method, base+fill.Replace(r.path), bytes.NewReader(body))
		if err != nil {
			return
		}
		if req.URL, err = req.URL.Parse(req.URL.Path + tail); err != nil {
			return // not a URL: no client can send it
		}
		req.Header.Set("Authorization", "Bearer "+h.tokens[sys])
		if r.contentType != "" {
			req.Header.Set("Content-Type", r.contentType)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 500 {
			t.Fatalf("%s %s%s → %d %s", r.method, r.path, tail, res.StatusCode, out)
		}
		if res.StatusCode >= 400 {
			var e struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			}
			if json.Unmarshal(out, &e) != nil || e.Code == "" || e.Message == "" {
				t.Fatalf("%s %s%s → %d, not an ApiError: %s", r.method, r.path, tail, res.StatusCode, out)
			}
		}
	})
}
