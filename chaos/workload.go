package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// The fixture every run creates: names carry the seed.
const (
	vmFlavor   = "chaos-vm"
	diskFlavor = "chaos-eph"
	pdFlavor   = "chaos-pd"
	image      = "images/photon-os.vmdk" // what photon hostd --sim puts on every datastore
)

// fixture is what the workload creates VMs, disks and subnets in.
type fixture struct {
	tenant, project, image, router string
}

// prepare makes the run's tenant, project (with a quota on every key the workload's
// costs use, so that the API reports their use), flavors, image and router.
func prepare(ctx context.Context, c *client, seed uint64) (fixture, error) {
	var f fixture
	name := fmt.Sprintf("chaos-%d", seed)
	limit := func(key, unit string) map[string]any { return map[string]any{"key": key, "value": 1e9, "unit": unit} }
	limits := []map[string]any{limit("vm.count", "COUNT"), limit("vm.cpu", "COUNT"), limit("vm.memory", "GB"),
		limit("ephemeral-disk", "COUNT"), limit("ephemeral-disk.capacity", "GB"), limit("persistent-disk", "COUNT"), limit("persistent-disk.capacity", "GB")}
	steps := []struct {
		path string
		body map[string]any
		into *string
	}{
		{"/v1/tenants", map[string]any{"name": name}, &f.tenant},
		{"", map[string]any{"name": name, "resourceTicket": map[string]any{"name": name, "limits": limits}}, &f.project},
		{"/v1/flavors", map[string]any{"name": vmFlavor, "kind": "vm", "cost": []map[string]any{
			{"key": "vm.cpu", "value": 1, "unit": "COUNT"}, {"key": "vm.memory", "value": 32, "unit": "MB"}}}, nil},
		{"/v1/flavors", map[string]any{"name": diskFlavor, "kind": "ephemeral-disk", "cost": []map[string]any{
			{"key": "ephemeral-disk", "value": 1, "unit": "COUNT"}}}, nil},
		{"/v1/flavors", map[string]any{"name": pdFlavor, "kind": "persistent-disk", "cost": []map[string]any{
			{"key": "persistent-disk", "value": 1, "unit": "COUNT"}}}, nil},
		{"/v1/images/register", map[string]any{"name": name, "diskPath": image}, &f.image},
		{"", map[string]any{"name": name, "privateIpCidr": "10.0.0.0/16"}, &f.router},
	}
	for i, s := range steps {
		path := s.path
		switch i {
		case 1:
			path = "/v1/tenants/" + f.tenant + "/projects"
		case 6:
			path = "/v1/projects/" + f.project + "/routers"
		}
		t, err := c.mustDo(ctx, "POST", path, s.body)
		if err != nil {
			return f, fmt.Errorf("prepare: %w", err)
		}
		if t, err = c.waitTask(ctx, t.ID); err != nil || t.State != "COMPLETED" {
			return f, fmt.Errorf("prepare: POST %s: task %+v: %v", path, t, err)
		}
		if s.into != nil {
			*s.into = t.Entity.ID
		}
	}
	return f, nil
}

// request is one mutating call the workload made and what came of it.
type request struct {
	op     string // e.g. "create", "create keyed", "bulk", "stop", "delete disk"
	key    string // Idempotency-Key, if any
	task   string // the acknowledged task ("" when none was acknowledged)
	entity string
	// otherTasks are different tasks the same key was answered with (each one a second
	// operation the key should have prevented).
	otherTasks []string
}

// vmRec and diskRec are what the workload knows of the entities it made.
type vmRec struct {
	createTask string
	created    bool // the create task COMPLETED
	failed     bool // the create task ended in ERROR
	deleted    bool // a delete was sent (acknowledged or not)
	busy       bool // a worker acts on it now
	stopped    bool // its last power verb that COMPLETED was a stop
}

type diskRec struct {
	vm         string // the VM it was placed beside, and is attached to when attached
	created    bool
	attached   bool
	deleted    bool
	busy       bool
	createTask string
}

// workload is the seeded mix of work: workers pick operations from their own random
// stream; what they act on comes from what earlier operations made.
type workload struct {
	c       *client
	f       fixture
	seed    uint64
	budget  int // VMs left to ask for
	total   int
	bulkMax int
	wait    time.Duration // how long a worker waits for one task before moving on

	mu          sync.Mutex
	reqs        []*request
	tasks       map[string]string // every acknowledged task (bulk sub-tasks too) → operation
	vms         map[string]*vmRec
	disks       map[string]*diskRec
	subnets     []string // READY subnets made by the workload and not deleted
	madeNets    []string // every subnet whose create COMPLETED
	deletedNets []string // every subnet a delete was sent for
	nextCIDR    int
	asked       int // VMs asked for so far
}

func newWorkload(c *client, f fixture, seed uint64, vms int, taskWait time.Duration) *workload {
	return &workload{c: c, f: f, seed: seed, budget: vms, total: vms, bulkMax: min(max(vms/40, 3), 20), wait: taskWait,
		tasks: map[string]string{}, vms: map[string]*vmRec{}, disks: map[string]*diskRec{}}
}

// progress is the share of the VMs asked for so far.
func (w *workload) progress() float64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return float64(w.asked) / float64(max(w.total, 1))
}

// run runs workers until the VM budget is spent.
func (w *workload) run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	for i := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(w.seed, uint64(i)+1))
			for ctx.Err() == nil && w.step(ctx, rng, i) {
			}
		}()
	}
	wg.Wait()
}

// The operations and their weights.
var ops = []struct {
	name   string
	weight int
}{
	{"create", 18}, {"create keyed", 18}, {"bulk", 8}, {"power", 16}, {"delete", 12},
	{"disk", 20}, {"subnet", 3},
}

// step does one operation; false when the VM budget is spent.
func (w *workload) step(ctx context.Context, rng *rand.Rand, worker int) bool {
	n := 0
	for _, o := range ops {
		n += o.weight
	}
	pick := rng.IntN(n)
	op := ops[0].name
	for _, o := range ops {
		if pick < o.weight {
			op = o.name
			break
		}
		pick -= o.weight
	}
	switch op {
	case "create", "create keyed", "bulk":
		count := 1
		if op == "bulk" {
			count = 2 + rng.IntN(w.bulkMax-1)
		}
		w.mu.Lock()
		count = min(count, w.budget)
		w.budget -= count
		w.asked += count
		w.mu.Unlock()
		if count == 0 {
			return false
		}
		w.create(ctx, rng, op, count, worker)
	case "power":
		w.power(ctx, rng)
	case "delete":
		w.deleteVM(ctx, rng)
	case "disk":
		w.disk(ctx, rng)
	case "subnet":
		w.subnet(ctx, rng)
	}
	return true
}

// summary counts the requests of each operation: sent, and acknowledged with a task.
func (w *workload) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	sent, acked := map[string]int{}, map[string]int{}
	for _, r := range w.reqs {
		sent[r.op]++
		if r.task != "" {
			acked[r.op]++
		}
	}
	var b strings.Builder
	for _, op := range sortedKeys(sent) {
		fmt.Fprintf(&b, " %s=%d/%d", strings.ReplaceAll(op, " ", "_"), acked[op], sent[op])
	}
	return fmt.Sprintf("requests (acknowledged/sent):%s; VMs asked for: %d", b.String(), w.asked)
}

// record notes an acknowledged request's task.
func (w *workload) record(r *request) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reqs = append(w.reqs, r)
	if r.task != "" {
		w.tasks[r.task] = r.op
	}
}

// send makes a mutating call. A keyed one is sent again with its key while its answer is
// unknown (no answer, a 5xx), as a client that cannot tell whether it acted must; keyed,
// it is also sent again after an answer when again is set, as a client that lost the
// answer does, and every answer must name the same task.
func (w *workload) send(ctx context.Context, r *request, method, path string, body any, again bool) *task {
	var first *task
	deadline := time.Now().Add(w.wait)
	for tries := 0; ; tries++ {
		a := w.c.call(ctx, method, path, body, r.key)
		if a.ok() {
			var t task
			if err := json.Unmarshal(a.body, &t); err != nil || t.ID == "" {
				return nil
			}
			if first == nil {
				first = &t
				r.task, r.entity = t.ID, t.Entity.ID
			} else if t.ID != first.ID && !slices.Contains(r.otherTasks, t.ID) {
				r.otherTasks = append(r.otherTasks, t.ID)
			}
			if r.key == "" || !again || tries > 0 {
				break
			}
			continue
		}
		if r.key == "" || !a.unknown() || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		wait(ctx, 200*time.Millisecond) // the API is restarting: try again with the same key
	}
	w.record(r)
	return first
}

// finish waits for t and answers its end (nil if it did not end within the wait).
func (w *workload) finish(ctx context.Context, t *task) *task {
	if t == nil {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, w.wait)
	defer cancel()
	end, err := w.c.waitTask(wctx, t.ID)
	if err != nil || end == nil || !end.done() {
		return nil
	}
	return end
}

func (w *workload) vmSpec(rng *rand.Rand, name string) map[string]any {
	// powered on: the power verbs take a new VM for a running one
	spec := map[string]any{"name": name, "flavor": vmFlavor, "sourceImageId": w.f.image, "powerOn": true,
		"attachedDisks": []map[string]any{{"name": "boot", "kind": "ephemeral-disk", "flavor": diskFlavor, "bootDisk": true}}}
	w.mu.Lock()
	if len(w.subnets) > 0 && rng.IntN(2) == 0 {
		spec["subnets"] = []string{w.subnets[rng.IntN(len(w.subnets))]}
	}
	w.mu.Unlock()
	return spec
}

func (w *workload) create(ctx context.Context, rng *rand.Rand, op string, count, worker int) {
	name := fmt.Sprintf("vm-%d-%d", worker, rng.Uint32())
	spec := w.vmSpec(rng, name)
	r := &request{op: op}
	if op == "create keyed" || (op == "bulk" && rng.IntN(2) == 0) {
		r.key = fmt.Sprintf("chaos-%d-%d-%d", w.seed, worker, rng.Uint64())
	}
	if op == "bulk" {
		spec["count"] = count
	}
	t := w.send(ctx, r, "POST", "/v1/projects/"+w.f.project+"/vms", spec, rng.IntN(2) == 0)
	if t == nil {
		return
	}
	if op != "bulk" {
		w.mu.Lock()
		w.vms[t.Entity.ID] = &vmRec{createTask: t.ID, busy: true}
		w.mu.Unlock()
		w.vmEnded(t.Entity.ID, w.finish(ctx, t))
		return
	}
	end := w.finish(ctx, t)
	subs, err := list[task](ctx, w.c, "/v1/tasks?parentId="+t.ID)
	if err != nil {
		return
	}
	for _, s := range subs {
		w.mu.Lock()
		w.tasks[s.ID] = "bulk sub-task"
		w.vms[s.Entity.ID] = &vmRec{createTask: s.ID, busy: true}
		w.mu.Unlock()
		if end == nil {
			w.vmEnded(s.Entity.ID, nil)
			continue
		}
		w.vmEnded(s.Entity.ID, &s)
	}
}

// vmEnded records the end of a VM's create (nil: not seen to end).
func (w *workload) vmEnded(id string, end *task) {
	w.mu.Lock()
	defer w.mu.Unlock()
	v := w.vms[id]
	v.busy = false
	if end != nil {
		v.created, v.failed = end.State == "COMPLETED", end.State == "ERROR"
	}
}

// pickVM takes a created VM no worker acts on, marking it busy; "" when there is none.
func (w *workload) pickVM(rng *rand.Rand, ok func(id string, v *vmRec) bool) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []string
	for id, v := range w.vms {
		if v.created && !v.deleted && !v.busy && (ok == nil || ok(id, v)) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return ""
	}
	slices.Sort(ids)
	id := ids[rng.IntN(len(ids))]
	w.vms[id].busy = true
	return id
}

func (w *workload) release(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if v := w.vms[id]; v != nil {
		v.busy = false
	}
	if d := w.disks[id]; d != nil {
		d.busy = false
	}
}

// power stops a VM the workload last saw running (or restarts it), or starts one it
// stopped: mostly verbs the VM's state allows, and now and then one it refuses.
func (w *workload) power(ctx context.Context, rng *rand.Rand) {
	id := w.pickVM(rng, nil)
	if id == "" {
		return
	}
	defer w.release(id)
	w.mu.Lock()
	stopped := w.vms[id].stopped
	w.mu.Unlock()
	verbs := []string{"stop", "stop", "restart", "start"}
	if stopped {
		verbs = []string{"start", "start", "start", "stop"}
	}
	verb := verbs[rng.IntN(len(verbs))]
	end := w.finish(ctx, w.send(ctx, &request{op: verb, entity: id}, "POST", "/v1/vms/"+id+"/"+verb, nil, false))
	if end != nil && end.State == "COMPLETED" {
		w.mu.Lock()
		w.vms[id].stopped = verb == "stop"
		w.mu.Unlock()
	}
}

func (w *workload) deleteVM(ctx context.Context, rng *rand.Rand) {
	id := w.pickVM(rng, func(id string, _ *vmRec) bool {
		for _, d := range w.disks {
			if d.vm == id && !d.deleted { // its disks are the disk operations' to end
				return false
			}
		}
		return true
	})
	if id == "" {
		return
	}
	defer w.release(id)
	w.mu.Lock()
	w.vms[id].deleted = true
	w.mu.Unlock()
	w.finish(ctx, w.send(ctx, &request{op: "delete", entity: id}, "DELETE", "/v1/vms/"+id, nil, false))
}
