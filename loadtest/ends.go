package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Ends follows the ends of a project's tasks on Photon's event stream (GET
// /v1/events/stream, task.completed and task.failed), as the console follows changes: a
// client waiting for many tasks learns of each end from one stream instead of polling
// every task. The stream ends now and then (its lifetime, a gateway going away); Ends
// reconnects after the last event it saw. A run that waits with Ends still reads each
// task once when it has ended.
type Ends struct {
	c       *Client
	project string

	mu      sync.Mutex
	ended   map[string]bool          // ended, not yet waited for
	waiting map[string]chan struct{} // waited for, not yet ended
	err     error                    // why the stream stopped for good; nil while it runs
	stopped chan struct{}            // closed when it has
}

// WatchEnds starts following the ends of project's tasks. It returns once the stream is
// open, so that a task created after it returns cannot end unseen. The stream is read
// until ctx ends.
func (c *Client) WatchEnds(ctx context.Context, project string) (*Ends, error) {
	e := &Ends{c: c, project: project, ended: map[string]bool{}, waiting: map[string]chan struct{}{},
		stopped: make(chan struct{})}
	body, err := e.open(ctx, "")
	if err != nil {
		return nil, err
	}
	go e.follow(ctx, body)
	return e, nil
}

// Wait returns when task id has ended, or with an error when ctx ends or the stream
// stops for good (the caller then polls the task).
func (e *Ends) Wait(ctx context.Context, id string) error {
	e.mu.Lock()
	if e.ended[id] {
		delete(e.ended, id)
		e.mu.Unlock()
		return nil
	}
	if e.err != nil {
		err := e.err
		e.mu.Unlock()
		return err
	}
	ch := make(chan struct{})
	e.waiting[id] = ch
	e.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-e.stopped:
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.waiting, id)
		return e.err
	case <-ctx.Done():
		e.mu.Lock()
		defer e.mu.Unlock()
		delete(e.waiting, id)
		return ctx.Err()
	}
}

// open connects to the stream, after the event last (none: from now on).
func (e *Ends) open(ctx context.Context, last string) (*bufio.Reader, error) {
	q := url.Values{"types": {"io.photon.task."}, "projectId": {e.project}}
	req, err := http.NewRequestWithContext(ctx, "GET", e.c.Base+"/v1/events/stream?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+e.c.Token)
	req.Header.Set("Accept", "text/event-stream")
	if last != "" {
		req.Header.Set("Last-Event-ID", last)
	}
	res, err := e.c.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("event stream: status %d", res.StatusCode)
	}
	context.AfterFunc(ctx, func() { res.Body.Close() })
	return bufio.NewReader(res.Body), nil
}

// follow reads the stream, reconnecting after the last event seen when it ends, until ctx
// ends or a reconnection fails for ten seconds.
func (e *Ends) follow(ctx context.Context, r *bufio.Reader) {
	var last string
	for {
		var err error
		last, err = e.read(r, last)
		if ctx.Err() != nil {
			e.stop(ctx.Err())
			return
		}
		deadline := time.Now().Add(10 * time.Second)
		for r, err = e.open(ctx, last); err != nil; r, err = e.open(ctx, last) {
			if ctx.Err() != nil || time.Now().After(deadline) {
				e.stop(fmt.Errorf("event stream lost: %w", err))
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond): // the gateway's retry hint is 2 s; a run has no time for it
			}
		}
	}
}

// read reads server-sent events until the stream ends, marking each task end, and
// returns the id of the last event read.
func (e *Ends) read(r *bufio.Reader, last string) (string, error) {
	var id, data string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return last, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data != "" {
				e.end(data)
				last = id
			}
			id, data = "", ""
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(line[len("id:"):])
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimSpace(line[len("data:"):])
		}
	}
}

// end marks the task a task.completed or task.failed event is about as ended.
func (e *Ends) end(data string) {
	var ce struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if json.Unmarshal([]byte(data), &ce) != nil || ce.Data.ID == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ch, ok := e.waiting[ce.Data.ID]; ok {
		delete(e.waiting, ce.Data.ID)
		close(ch)
		return
	}
	e.ended[ce.Data.ID] = true
}

func (e *Ends) stop(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		err = errors.New("event stream stopped")
	}
	e.err = err
	close(e.stopped)
}
