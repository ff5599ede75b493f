package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// client is a Photon REST client with a system administrator's bearer token.
type client struct {
	base  string
	token string
	http  *http.Client
}

// task is the part of a Photon task the harness reads.
type task struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Operation string `json:"operation"`
	Entity    struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
	} `json:"entity"`
	Progress *struct {
		Total int `json:"total"`
	} `json:"progress"`
}

func (t *task) done() bool { return t.State == "COMPLETED" || t.State == "ERROR" }

// answer is one HTTP exchange: status 0 when no answer came.
type answer struct {
	status int
	body   []byte
	err    error
}

func (a answer) ok() bool { return a.err == nil && a.status/100 == 2 }

// unknown reports whether the call may or may not have acted: no answer, or a 5xx.
func (a answer) unknown() bool { return a.err != nil || a.status >= 500 }

func (a answer) String() string {
	if a.err != nil {
		return a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
}

// call makes one request; key, if set, is its Idempotency-Key. A 429 is waited out as
// its Retry-After says and asked again: the API did nothing with it.
func (c *client) call(ctx context.Context, method, path string, body any, key string) answer {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return answer{err: err}
		}
	}
	for {
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(raw))
		if err != nil {
			return answer{err: err}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.token)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := c.http.Do(req)
		if err != nil {
			return answer{err: err}
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return answer{status: res.StatusCode, err: err}
		}
		if res.StatusCode != http.StatusTooManyRequests {
			return answer{status: res.StatusCode, body: b}
		}
		secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		if !wait(ctx, time.Duration(max(secs, 1))*time.Second) { // the server's retry hint
			return answer{err: ctx.Err()}
		}
	}
}

// get reads path into out, retrying while Photon does not answer (a part restarting)
// until ctx ends.
func (c *client) get(ctx context.Context, path string, out any) (status int, err error) {
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		a := c.call(ctx, "GET", path, nil, "")
		if !a.unknown() {
			if a.ok() && out != nil {
				return a.status, json.Unmarshal(a.body, out)
			}
			return a.status, nil
		}
		if !wait(ctx, delay) { // Photon is restarting a part: poll again
			return 0, fmt.Errorf("GET %s: %v (last: %s)", path, ctx.Err(), a)
		}
	}
}

// mustDo makes a setup call until Photon answers it, and decodes a 2xx answer's task.
func (c *client) mustDo(ctx context.Context, method, path string, body any) (*task, error) {
	a := c.call(ctx, method, path, body, "")
	if !a.ok() {
		return nil, fmt.Errorf("%s %s: %s", method, path, a)
	}
	var t task
	return &t, json.Unmarshal(a.body, &t)
}

// waitTask polls task id until it ends or ctx does; it answers the last task read.
func (c *client) waitTask(ctx context.Context, id string) (*task, error) {
	var t task
	for delay := 20 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		st, err := c.get(ctx, "/v1/tasks/"+id, &t)
		if err != nil {
			return &t, err
		}
		if st == http.StatusNotFound {
			return nil, errNoTask
		}
		if st == http.StatusOK && t.done() {
			return &t, nil
		}
		if !wait(ctx, delay) { // polling the task, as Photon's clients do
			return &t, ctx.Err()
		}
	}
}

var errNoTask = errors.New("no such task")

// list reads every page of a list path into items.
func list[T any](ctx context.Context, c *client, path string) ([]T, error) {
	var out []T
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for link := path + sep + "pageSize=1000"; link != ""; {
		var page struct {
			Items        []T    `json:"items"`
			NextPageLink string `json:"nextPageLink"`
		}
		st, err := c.get(ctx, link, &page)
		if err != nil {
			return nil, err
		}
		if st != http.StatusOK {
			return nil, fmt.Errorf("GET %s: status %d", link, st)
		}
		out, link = append(out, page.Items...), page.NextPageLink
	}
	return out, nil
}

// wait waits d unless ctx ends first; it reports whether d passed.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
