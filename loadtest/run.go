package loadtest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// Task is the part of a Photon task the load test reads.
type Task struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	QueuedTime int64  `json:"queuedTime"`
	EndTime    int64  `json:"endTime"`
	Steps      []Step `json:"steps"`
	Progress   *struct {
		Total     int `json:"total"`
		Completed int `json:"completed"`
		Failed    int `json:"failed"`
		InFlight  int `json:"inFlight"`
	} `json:"progress"`
}

// Step is the part of a task's step the load test reads.
type Step struct {
	Operation   string `json:"operation"`
	State       string `json:"state"`
	StartedTime int64  `json:"startedTime"`
	EndTime     int64  `json:"endTime"`
	// Errors says why the step failed.
	Errors []StepError `json:"errors"`
}

// StepError is one of a failed step's errors.
type StepError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// reason says why the task did not complete: its first failed step's first error, or
// its state.
func (t *Task) reason() string {
	for _, s := range t.Steps {
		if len(s.Errors) > 0 {
			return "task " + t.ID + ": step " + s.Operation + ": " + s.Errors[0].Code + " " + s.Errors[0].Message
		}
	}
	return "task " + t.ID + " ended " + t.State
}

// Done reports whether the task ended.
func (t *Task) Done() bool { return t.State == "COMPLETED" || t.State == "ERROR" }

// API is how the load test talks to Photon: REST (Client) or gRPC (GRPC).
type API interface {
	// CreateVMs posts a VM create spec (with "count" for a bulk create) to project.
	CreateVMs(ctx context.Context, project string, spec map[string]any) (*Task, error)
	GetTask(ctx context.Context, id string) (*Task, error)
	// SubTasks lists every sub-task of a parent task.
	SubTasks(ctx context.Context, parent string) ([]*Task, error)
}

// BusyError is a create refused with 429 / RESOURCE_EXHAUSTED; the run waits RetryAfter
// and tries again.
type BusyError struct{ RetryAfter time.Duration }

func (e *BusyError) Error() string { return "Photon is busy; retry after " + e.RetryAfter.String() }

// Run is one burst of VM creates.
type Run struct {
	API     API
	Project string
	VMs     int
	// Concurrency is how many create calls (with their task polling) are in flight.
	Concurrency int
	// Bulk above 1 creates that many VMs per call (a bulk create with one parent task);
	// otherwise each VM is its own call and task, polled as Photon clients poll.
	Bulk int
	// Rate, above 0, paces the calls: VMs per minute (an open load, as users arrive),
	// still at most Concurrency calls at once. 0 starts each call as soon as one ends.
	Rate float64
	// Spec is the create spec of the i-th call.
	Spec func(i int) map[string]any
	// Progress, if set, is told the counts as they change.
	Progress func(done, failed, inFlight int)
	// Ends, if set, tells each call when its task ended, and the call reads the task
	// then; without it (or when its stream is lost) a call polls its task, as Photon's
	// SDK and CLI do.
	Ends *Ends
	// EndsCheck is how often a call waiting on Ends reads its task all the same, lest an
	// end the stream missed keep it waiting (default 5 s).
	EndsCheck time.Duration
}

// Do runs the burst and measures it: end-to-end latency is from the create call to the
// VM's task end, per step from each step's start to its end as the task records them.
func (r Run) Do(ctx context.Context) Result {
	m := &meter{start: time.Now(), steps: map[string][]time.Duration{}, progress: r.Progress, total: r.VMs}
	per := max(r.Bulk, 1)
	calls := (r.VMs + per - 1) / per
	sem := make(chan struct{}, max(r.Concurrency, 1))
	var wg sync.WaitGroup
	for i := range calls {
		n := min(per, r.VMs-i*per)
		if r.Rate > 0 {
			due := m.start.Add(time.Duration(float64(i*per) / r.Rate * float64(time.Minute)))
			select {
			case <-ctx.Done():
			case <-time.After(time.Until(due)): // pacing the arrivals
			}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			spec := r.Spec(i)
			if per > 1 {
				spec["count"] = n
			}
			r.one(ctx, m, spec, n)
		}()
	}
	wg.Wait()
	return m.result(r.VMs)
}

// one makes one create call for n VMs and waits for it to end.
func (r Run) one(ctx context.Context, m *meter, spec map[string]any, n int) {
	t0 := time.Now()
	var tk *Task
	for {
		var err error
		tk, err = r.API.CreateVMs(ctx, r.Project, spec)
		var busy *BusyError
		if errors.As(err, &busy) && ctx.Err() == nil {
			m.retried()
			select {
			case <-ctx.Done():
			case <-time.After(busy.RetryAfter): // the server's retry hint
			}
			continue
		}
		if err != nil {
			m.failed(n, err.Error())
			return
		}
		break
	}
	m.started(n)
	for r.Ends != nil && !tk.Done() {
		check := r.EndsCheck
		if check <= 0 {
			check = 5 * time.Second
		}
		wait, cancel := context.WithTimeout(ctx, check)
		err := r.Ends.Wait(wait, tk.ID)
		cancel()
		if ctx.Err() != nil || err != nil && !errors.Is(err, context.DeadlineExceeded) {
			break // the stream is lost: poll
		}
		if next, err := r.API.GetTask(ctx, tk.ID); err == nil {
			tk = next
		}
	}
	for delay := 5 * time.Millisecond; !tk.Done(); delay = min(2*delay, 200*time.Millisecond) {
		select {
		case <-ctx.Done():
			m.failed(n, ctx.Err().Error())
			return
		case <-time.After(delay): // polling the task, as Photon clients do
		}
		next, err := r.API.GetTask(ctx, tk.ID)
		if err != nil {
			continue // a transient read error: poll again
		}
		if next.Progress != nil && tk.Progress != nil {
			m.advance(next.Progress.Completed-tk.Progress.Completed, next.Progress.Failed-tk.Progress.Failed)
		}
		tk = next
	}
	if tk.Progress == nil { // one VM: its own task
		m.ended([]*Task{tk}, t0, false)
		return
	}
	subs, err := r.API.SubTasks(ctx, tk.ID)
	if err != nil {
		m.failed(0, "list sub-tasks: "+err.Error())
		return
	}
	m.ended(subs, t0, true)
}

// meter collects a run's measurements.
type meter struct {
	start    time.Time
	progress func(done, failed, inFlight int)
	total    int

	mu                      sync.Mutex
	lat, done               []time.Duration
	steps                   map[string][]time.Duration
	nDone, nFailed, nFlight int
	retries                 int
	counted                 int    // VMs already counted as done/failed through progress
	firstError              string // why the first VM failed
}

func (m *meter) report() {
	if m.progress != nil {
		m.progress(m.nDone, m.nFailed, m.nFlight)
	}
}

func (m *meter) started(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nFlight += n
	m.report()
}

func (m *meter) retried() {
	m.mu.Lock()
	m.retries++
	m.mu.Unlock()
}

// failed counts n VMs failed for why.
func (m *meter) failed(n int, why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nFailed += n
	m.failedFor(why)
	m.report()
}

// failedFor keeps the first failure's reason; m.mu is held.
func (m *meter) failedFor(why string) {
	if m.firstError == "" {
		m.firstError = why
	}
}

// advance counts a bulk's progress as it is polled, for the live display only.
func (m *meter) advance(done, failed int) {
	if done <= 0 && failed <= 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nDone, m.nFailed, m.nFlight = m.nDone+done, m.nFailed+failed, m.nFlight-done-failed
	m.counted += done + failed
	m.report()
}

// ended records finished VM tasks: latency from t0 (the create call) to each task's end.
// Bulk sub-tasks were already counted by advance.
func (m *meter) ended(tasks []*Task, t0 time.Time, counted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range tasks {
		if !counted {
			m.nFlight--
		}
		if t.State != "COMPLETED" {
			if !counted {
				m.nFailed++
			}
			m.failedFor(t.reason())
			continue
		}
		if !counted {
			m.nDone++
		}
		end := time.UnixMilli(t.EndTime)
		if !counted {
			end = time.Now() // the client saw it end now (it polled)
		}
		m.lat = append(m.lat, max(end.Sub(t0), 0))
		m.done = append(m.done, max(end.Sub(m.start), 0))
		for _, s := range t.Steps {
			if s.StartedTime > 0 && s.EndTime >= s.StartedTime {
				m.steps[s.Operation] = append(m.steps[s.Operation], time.Duration(s.EndTime-s.StartedTime)*time.Millisecond)
			}
		}
	}
	m.report()
}

func (m *meter) result(n int) Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := Result{VMs: n, Errors: n - len(m.lat), Elapsed: time.Since(m.start), Done: slices.Clone(m.done),
		Steps: map[string]Percentiles{}, Retries: m.retries, FirstError: m.firstError}
	slices.Sort(r.Done)
	p := Summarise(slices.Clone(m.lat))
	r.P50, r.P95, r.P99 = p.P50, p.P95, p.P99
	for op, d := range m.steps {
		r.Steps[op] = Summarise(d)
	}
	return r
}
