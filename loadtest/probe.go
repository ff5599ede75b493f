package loadtest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A Probe times the reads that must stay fast however many VMs exist: a get of a VM and a
// page of 100 of a project's VMs, one after the other, as a user's console does.
type Probe struct {
	Client  *Client
	Project string
}

// ProbeResult is the latency of a probe's lists and gets.
type ProbeResult struct {
	List, Get Percentiles
}

func (r ProbeResult) String() string {
	return fmt.Sprintf("list 100 VMs p50_ms=%.2f p99_ms=%.2f; get VM p50_ms=%.2f p99_ms=%.2f (%d lists, %d gets)",
		ms(r.List.P50), ms(r.List.P99), ms(r.Get.P50), ms(r.Get.P99), r.List.N, r.Get.N)
}

// Run times n list pages, then n gets of VMs they listed.
func (p Probe) Run(ctx context.Context, n int) (ProbeResult, error) {
	var list, get []time.Duration
	var ids []string
	pager := p.pager()
	for range n {
		page, took, err := pager(ctx)
		if err != nil {
			return ProbeResult{}, err
		}
		list = append(list, took)
		ids = append(ids, page...)
	}
	if len(ids) == 0 {
		return ProbeResult{}, errors.New("probe: no VMs listed")
	}
	for i := range n {
		took, err := p.get(ctx, ids[i%len(ids)])
		if err != nil {
			return ProbeResult{}, err
		}
		get = append(get, took)
	}
	return ProbeResult{List: Summarise(list), Get: Summarise(get)}, nil
}

// During probes until done is closed, a list page and a get of a VM it listed every
// interval, and times them: the reads' latency while a burst runs. A get waits for the
// first page that lists a VM.
func (p Probe) During(ctx context.Context, interval time.Duration, done <-chan struct{}) (ProbeResult, error) {
	var list, get []time.Duration
	var ids []string
	pager := p.pager()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-done:
			return ProbeResult{List: Summarise(list), Get: Summarise(get)}, nil
		case <-ctx.Done():
			return ProbeResult{}, ctx.Err()
		case <-tick.C:
		}
		page, took, err := pager(ctx)
		if err != nil {
			return ProbeResult{}, err
		}
		list = append(list, took)
		ids = append(ids, page...)
		if len(ids) > 0 {
			took, err := p.get(ctx, ids[(i*7919)%len(ids)])
			if err != nil {
				return ProbeResult{}, err
			}
			get = append(get, took)
		}
	}
}

// pager returns a function that reads the project's next page of 100 VMs, starting over
// after the last and every 50 pages, and returns their IDs and how long it took.
func (p Probe) pager() func(context.Context) ([]string, time.Duration, error) {
	first := "/v1/projects/" + p.Project + "/vms?pageSize=100"
	link, pages := first, 0
	return func(ctx context.Context) ([]string, time.Duration, error) {
		var page struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
			NextPageLink string `json:"nextPageLink"`
		}
		t0 := time.Now()
		if err := p.Client.Do(ctx, "GET", link, nil, &page); err != nil {
			return nil, 0, fmt.Errorf("list VMs: %w", err)
		}
		took := time.Since(t0)
		if pages++; page.NextPageLink == "" || pages%50 == 0 {
			link = first
		} else {
			link = page.NextPageLink
		}
		ids := make([]string, 0, len(page.Items))
		for _, it := range page.Items {
			ids = append(ids, it.ID)
		}
		return ids, took, nil
	}
}

func (p Probe) get(ctx context.Context, id string) (time.Duration, error) {
	t0 := time.Now()
	if err := p.Client.Do(ctx, "GET", "/v1/vms/"+id, nil, nil); err != nil {
		return 0, fmt.Errorf("get VM: %w", err)
	}
	return time.Since(t0), nil
}
