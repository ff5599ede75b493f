package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/google/pprof/profile"
	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/part"
)

// Cost is what a burst cost per VM created: the CPU of Photon and of Redis, split by
// part, and the memory it left in Redis. A figure that could not be measured is nil.
type Cost struct {
	// CPUMsPerVM is the CPU (user plus system, as the OS accounts it) that Photon and
	// Redis used during the burst, in milliseconds per VM: this process's, less its load
	// client's share, when Photon runs in it, plus Redis's (INFO cpu, over every primary).
	CPUMsPerVM *float64 `json:"cpuMsPerVm,omitempty"`
	// ByPart splits CPUMsPerVM by part (package part's labels, "redis" for Redis): the
	// process's CPU apportioned by its profile's CPU per label. The parts sum to
	// CPUMsPerVM.
	ByPart map[string]float64 `json:"cpuMsPerVmByPart,omitempty"`
	// NotCounted is the process's CPU per VM that is not Photon's, left out of
	// CPUMsPerVM: the load tool's own calls (part.LoadClient) and the simulated hosts and
	// NSX Manager (part.Simulator).
	NotCounted map[string]float64 `json:"notCountedCpuMsPerVm,omitempty"`
	// RedisBytesPerVM is Redis's used_memory grown over the burst, per VM.
	RedisBytesPerVM *float64 `json:"redisBytesPerVm,omitempty"`
	// ProcessMs and RedisMs are the totals measured (RedisMs nil when unknown); Samples
	// is how many profile samples the split stands on (100 a second of CPU).
	ProcessMs float64  `json:"processCpuMs"`
	RedisMs   *float64 `json:"redisCpuMs,omitempty"`
	Samples   int64    `json:"profileSamples"`
}

// CostMeter measures a burst's Cost: getrusage(RUSAGE_SELF) and Redis's INFO around the
// burst, and a CPU profile of the process during it for the split by part.
type CostMeter struct {
	rdb       redis.UniversalClient
	inProcess bool
	prof      bytes.Buffer
	rusage    time.Duration
	redis     keyspace.Usage
	redisOK   bool
}

// StartCost starts measuring. rdb is Photon's Redis (nil if unknown); inProcess says
// Photon runs in this process (so that its CPU is this process's); the CPU profile is
// also written to also when it is not nil (--cpuprofile), so that one profile serves both.
func StartCost(ctx context.Context, rdb redis.UniversalClient, inProcess bool, also io.Writer) (*CostMeter, error) {
	m := &CostMeter{rdb: rdb, inProcess: inProcess}
	if rdb != nil {
		u, err := keyspace.Measure(ctx, rdb)
		m.redis, m.redisOK = u, err == nil
	}
	w := io.Writer(&m.prof)
	if also != nil {
		w = io.MultiWriter(&m.prof, also)
	}
	if err := pprof.StartCPUProfile(w); err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	m.rusage = processCPU()
	return m, nil
}

// Stop ends the measure, for vms VMs created.
func (m *CostMeter) Stop(ctx context.Context, vms int) (*Cost, error) {
	processMs := ms(processCPU() - m.rusage)
	pprof.StopCPUProfile()
	c := &Cost{ProcessMs: processMs}
	var redisCPU *float64
	if m.rdb != nil && m.redisOK {
		if u, err := keyspace.Measure(ctx, m.rdb); err == nil {
			if vms > 0 {
				c.RedisBytesPerVM = ptr(float64(u.UsedMemory-m.redis.UsedMemory) / float64(vms))
			}
			if u.CPU && m.redis.CPU {
				redisCPU = ptr((u.CPUSeconds - m.redis.CPUSeconds) * 1000)
			}
		}
	}
	c.RedisMs = redisCPU
	shares, samples, err := partShares(m.prof.Bytes())
	if err != nil {
		return nil, err
	}
	c.Samples = samples
	if !m.inProcess || vms <= 0 || (redisCPU == nil && !embedded(shares)) {
		return c, nil // Photon's CPU is elsewhere, or Redis's is unknown
	}
	c.ByPart, c.NotCounted = map[string]float64{}, map[string]float64{}
	for p, share := range shares {
		if p == part.LoadClient || p == part.Simulator {
			c.NotCounted[p] = processMs * share / float64(vms)
		} else {
			c.ByPart[p] = processMs * share / float64(vms)
		}
	}
	if redisCPU != nil {
		c.ByPart[part.Redis] += *redisCPU / float64(vms)
	}
	total := 0.0
	for _, v := range c.ByPart {
		total += v
	}
	c.CPUMsPerVM = &total
	return c, nil
}

// embedded says the process's profile has the embedded Redis in it (its CPU is the
// process's, labelled part.Redis), where INFO reports no CPU.
func embedded(shares map[string]float64) bool { return shares[part.Redis] > 0 }

// partShares parses a CPU profile into each part's share of its CPU time.
func partShares(raw []byte) (map[string]float64, int64, error) {
	p, err := profile.Parse(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, fmt.Errorf("parse the CPU profile: %w", err)
	}
	cpu, count := -1, -1
	for i, st := range p.SampleType {
		switch st.Type {
		case "cpu":
			cpu = i
		case "samples":
			count = i
		}
	}
	if cpu < 0 || count < 0 {
		return nil, 0, fmt.Errorf("the CPU profile has no cpu or samples values: %v", p.SampleType)
	}
	byPart := map[string]int64{}
	var all, samples int64
	for _, s := range p.Sample {
		byPart[part.Of(s.Label)] += s.Value[cpu]
		all += s.Value[cpu]
		samples += s.Value[count]
	}
	shares := map[string]float64{}
	for k, v := range byPart {
		shares[k] = float64(v) / float64(max(all, 1))
	}
	return shares, samples, nil
}

// processCPU is the user plus system CPU this process has used (getrusage).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func ptr[T any](v T) *T { return &v }

// PartsLine is the split of the CPU per VM by part, the gateway first, Redis and the
// unlabelled rest last, then the shares not counted; "" without a split.
func (c *Cost) PartsLine() string {
	if c == nil || len(c.ByPart) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("CPU per VM by part:")
	for _, p := range c.partOrder() {
		fmt.Fprintf(&b, " %s=%.3fms", p, c.ByPart[p])
	}
	if len(c.NotCounted) > 0 {
		b.WriteString("; not Photon, not counted:")
		for _, p := range slices.Sorted(maps.Keys(c.NotCounted)) {
			fmt.Fprintf(&b, " %s=%.3fms", p, c.NotCounted[p])
		}
	}
	return b.String()
}

// partOrder is the parts of ByPart: the gateway, the rest by name, then Redis and other.
func (c *Cost) partOrder() []string {
	rank := func(p string) int {
		switch p {
		case part.Gateway:
			return 0
		case part.Redis:
			return 2
		case part.Other:
			return 3
		}
		return 1
	}
	return slices.SortedFunc(maps.Keys(c.ByPart), func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
}
