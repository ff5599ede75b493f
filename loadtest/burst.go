// Package loadtest measures how fast Photon provisions VMs: Burst creates many VMs at once
// over the REST API, as users would, and reports throughput and latency. The benchmarks in
// this package run it against an in-process dev cloud.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Client talks to one Photon REST endpoint with a bearer token.
type Client struct {
	Base  string
	Token string
	HTTP  *http.Client
}

// Do sends a JSON request and decodes the answer.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var buf bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, &buf)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	res, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		var e struct{ Code, Message string }
		json.NewDecoder(res.Body).Decode(&e)
		return fmt.Errorf("%s %s: %d %s %s", method, path, res.StatusCode, e.Code, e.Message)
	}
	if out != nil {
		return json.NewDecoder(res.Body).Decode(out)
	}
	return nil
}

type task struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// Result is what a burst measured.
type Result struct {
	VMs, Errors   int
	Elapsed       time.Duration
	P50, P95, P99 time.Duration
	// Done holds, for every VM that completed, when it completed (since the start),
	// in ascending order: the curve of VMs completed over time.
	Done []time.Duration
	// Steps holds the latency of each chain step (by task operation, e.g. PLACE_VM), from
	// the step's start to its end as the task records them. Empty for the baseline.
	Steps map[string]Percentiles
}

// Percentiles summarises N latencies.
type Percentiles struct {
	N             int
	P50, P95, P99 time.Duration
}

// Summarise computes the percentiles of lat, which it sorts.
func Summarise(lat []time.Duration) Percentiles {
	slices.Sort(lat)
	return Percentiles{N: len(lat), P50: percentile(lat, 0.50), P95: percentile(lat, 0.95), P99: percentile(lat, 0.99)}
}

// PerMinute is the completed VMs per minute.
func (r Result) PerMinute() float64 { return float64(r.VMs-r.Errors) / r.Elapsed.Minutes() }

func (r Result) String() string {
	return fmt.Sprintf("vms=%d errors=%d seconds=%.2f vms_per_min=%.0f p50_ms=%d p95_ms=%d p99_ms=%d",
		r.VMs, r.Errors, r.Elapsed.Seconds(), r.PerMinute(), r.P50.Milliseconds(), r.P95.Milliseconds(), r.P99.Milliseconds())
}

// Burst creates n VMs in project with the given spec maker, concurrency at a time, and
// waits for every task to end. Latency is from the POST to the task's end.
func Burst(ctx context.Context, c *Client, project string, n, concurrency int, spec func(i int) any) Result {
	return measure(n, concurrency, func(i int) bool { return createAndWait(ctx, c, project, spec(i)) })
}

// measure runs create(0..n-1), concurrency at a time, and times each call that succeeds.
func measure(n, concurrency int, create func(i int) bool) Result {
	var mu sync.Mutex
	var lat, done []time.Duration
	errs := 0
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t0 := time.Now()
			ok := create(i)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				errs++
				return
			}
			lat = append(lat, time.Since(t0))
			done = append(done, time.Since(start))
		}()
	}
	wg.Wait()
	r := Result{VMs: n, Errors: errs, Elapsed: time.Since(start), Done: done}
	slices.Sort(r.Done)
	p := Summarise(lat)
	r.P50, r.P95, r.P99 = p.P50, p.P95, p.P99
	return r
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func createAndWait(ctx context.Context, c *Client, project string, spec any) bool {
	var t task
	if err := c.Do(ctx, "POST", "/v1/projects/"+project+"/vms", spec, &t); err != nil {
		return false
	}
	for delay := 5 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		if err := c.Do(ctx, "GET", "/v1/tasks/"+t.ID, nil, &t); err != nil {
			return false
		}
		switch t.State {
		case "COMPLETED":
			return true
		case "ERROR":
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay): // polling the task, as Photon clients do
		}
	}
}
