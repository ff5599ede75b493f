// Package loadtest measures how fast Photon provisions VMs: a Run creates many VMs at once
// over the REST or gRPC API, as users would (one call per VM, or bulk calls), and reports
// throughput and latency end to end and per chain step; Baseline does the same work
// straight to the hosts with govmomi. The photon-loadtest command and the benchmarks in
// this package use them.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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
	if res.StatusCode == http.StatusTooManyRequests {
		secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
		return &BusyError{RetryAfter: time.Duration(max(secs, 1)) * time.Second}
	}
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

// Login gets a token for user with the password grant, as Photon's SDK and CLI log in.
func Login(ctx context.Context, c *http.Client, base, user, password string) (string, error) {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/openidconnect/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		return "", fmt.Errorf("log in as %s: status %d", user, res.StatusCode)
	}
	return tok.AccessToken, nil
}

// CreateVMs implements API over REST.
func (c *Client) CreateVMs(ctx context.Context, project string, spec map[string]any) (*Task, error) {
	var t Task
	return &t, c.Do(ctx, "POST", "/v1/projects/"+project+"/vms", spec, &t)
}

// GetTask implements API over REST.
func (c *Client) GetTask(ctx context.Context, id string) (*Task, error) {
	var t Task
	return &t, c.Do(ctx, "GET", "/v1/tasks/"+id, nil, &t)
}

// SubTasks implements API over REST, a page of 1000 at a time.
func (c *Client) SubTasks(ctx context.Context, parent string) ([]*Task, error) {
	var out []*Task
	for link := "/v1/tasks?pageSize=1000&parentId=" + parent; link != ""; {
		var page struct {
			Items        []*Task `json:"items"`
			NextPageLink string  `json:"nextPageLink"`
		}
		if err := c.Do(ctx, "GET", link, nil, &page); err != nil {
			return nil, err
		}
		out, link = append(out, page.Items...), page.NextPageLink
	}
	return out, nil
}

// Result is what a burst measured.
type Result struct {
	VMs, Errors   int
	Elapsed       time.Duration
	P50, P95, P99 time.Duration
	// Done holds, for every VM that completed, when it completed (since the start),
	// in ascending order: the curve of VMs completed over time.
	Done []time.Duration
	// Retries counts create calls refused as busy (429) and made again.
	Retries int
	// FirstError says why the first VM that failed failed ("" when none did).
	FirstError string
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
