package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Result is what a run found; String is its RESULT line.
type Result struct {
	Tasks, Stuck, Lost, Duplicated, Leaked, Orphans int
	// Reported counts the orphans the reconciler lists (GET /v1/infrastructure/orphans);
	// Vanished the VMs and disks gone from their host that Photon has in ERROR with a
	// reason (the reconciler's doing). Neither is in the RESULT line: Reporting says them.
	Reported, Vanished int
	// Findings say what each count is made of, one a line; Kinds count them by kind
	// (e.g. "VM vanished", "address").
	Findings []string
	Kinds    map[string]int
}

func (r Result) String() string {
	return fmt.Sprintf("RESULT chaos tasks=%d stuck=%d lost=%d duplicated=%d leaked=%d orphans=%d",
		r.Tasks, r.Stuck, r.Lost, r.Duplicated, r.Leaked, r.Orphans)
}

// Reporting is the reconciler's account of the drift the check found.
func (r Result) Reporting() string {
	return fmt.Sprintf("reconciler: orphans=%d reported=%d vanished_in_error=%d", r.Orphans, r.Reported, r.Vanished)
}

// Held reports whether the invariants hold: nothing lost, duplicated or leaked, and every
// orphan reported.
func (r Result) Held() bool { return r.Lost+r.Duplicated+r.Leaked == 0 && r.Orphans == r.Reported }

func (r *Result) note(count *int, kind, format string, args ...any) {
	*count++
	if r.Kinds == nil {
		r.Kinds = map[string]int{}
	}
	r.Kinds[kind]++
	if len(r.Findings) < 200 {
		r.Findings = append(r.Findings, fmt.Sprintf(format, args...))
	}
}

// settle polls every acknowledged task until all have ended or the deadline has passed;
// it counts the tasks that did not end (stuck) and those Photon does not know (lost).
func settle(ctx context.Context, c *client, w *workload, deadline time.Time, r *Result) {
	w.mu.Lock()
	pending := map[string]string{}
	for id, op := range w.tasks {
		pending[id] = op
	}
	w.mu.Unlock()
	r.Tasks = len(pending)
	pctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for len(pending) > 0 {
		for id, op := range pending {
			var t task
			st, err := c.get(pctx, "/v1/tasks/"+id, &t)
			switch {
			case err != nil:
			case st == http.StatusNotFound:
				r.note(&r.Lost, "task unknown", "lost: %s task %s is unknown to Photon", op, id)
				delete(pending, id)
			case st == http.StatusOK && t.done():
				delete(pending, id)
			}
		}
		if len(pending) == 0 || !wait(pctx, 500*time.Millisecond) { // polling the tasks
			break
		}
	}
	for _, id := range sortedKeys(pending) {
		var t task
		gctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c.get(gctx, "/v1/tasks/"+id, &t)
		cancel()
		r.note(&r.Stuck, "task not ended", "stuck: %s task %s is %q at the settle deadline", pending[id], id, t.State)
	}
}

// photonVM and photonDisk are the API's VM and persistent disk.
type photonVM struct {
	ID, State, StateReason, Host, Datastore string
	Cost                                    []model.QuotaLineItem
}

type photonDisk struct {
	ID, State, StateReason, Datastore string
	Cost                              []model.QuotaLineItem
	VMs                               []string
}

type photonHost struct {
	ID       string
	State    string
	Reserved struct {
		Cpus     flexInt `json:"cpus"`
		MemoryMB flexInt `json:"memoryMb"`
		VMs      flexInt `json:"vms"`
	}
	Datastores []struct {
		Name       string
		ReservedMB flexInt `json:"reservedMb"`
	}
}

// flexInt is an int64 in JSON as a number or, as protojson writes int64s, a string.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	*n = flexInt(v)
	return err
}

// settled reports whether a VM or disk in state rests with its host holding it.
func settled(state string) bool {
	switch state {
	case model.VMStarted, model.VMStopped, model.VMSuspended, model.DiskDetached, model.DiskAttached:
		return true
	}
	return false
}

// checker compares Photon (its API, and Redis where the API shows nothing) with the
// simulated hosts and NSX.
type checker struct {
	c    *client
	d    *deployment
	w    *workload
	s    *store.Store
	rdb  redis.UniversalClient
	r    *Result
	vms  map[string]photonVM
	pds  map[string]photonDisk
	host map[string]photonHost
	// orphans are what the reconciler lists.
	orphans []photonOrphan
}

func check(ctx context.Context, c *client, d *deployment, w *workload, r *Result) error {
	rdb, err := keyspace.Open(ctx, d.redisURL, 0)
	if err != nil {
		return err
	}
	defer rdb.Close()
	k := &checker{c: c, d: d, w: w, s: store.New(rdb, ""), rdb: rdb, r: r}
	for _, step := range []func(context.Context) error{k.read, k.lost, k.onHosts, k.hostReservations, k.quota, k.addresses} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// read lists the project's VMs and disks, the hosts and the orphans through the API.
func (k *checker) read(ctx context.Context) error {
	p := "/v1/projects/" + k.w.f.project
	vms, err := list[photonVM](ctx, k.c, p+"/vms")
	if err != nil {
		return err
	}
	pds, err := list[photonDisk](ctx, k.c, p+"/disks")
	if err != nil {
		return err
	}
	hosts, err := list[photonHost](ctx, k.c, "/v1/infrastructure/hosts")
	if err != nil {
		return err
	}
	if k.orphans, err = list[photonOrphan](ctx, k.c, "/v1/infrastructure/orphans"); err != nil {
		return err
	}
	k.vms, k.pds, k.host = map[string]photonVM{}, map[string]photonDisk{}, map[string]photonHost{}
	for _, v := range vms {
		k.vms[v.ID] = v
	}
	for _, d := range pds {
		k.pds[d.ID] = d
	}
	for _, h := range hosts {
		k.host[h.ID] = h
	}
	return nil
}

// lost: completed creates whose entity is gone though the workload never deleted it,
// and keyed requests answered with more than one task.
func (k *checker) lost(ctx context.Context) error {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	for id, v := range k.w.vms {
		if _, ok := k.vms[id]; v.created && !v.deleted && !ok {
			k.r.note(&k.r.Lost, "VM gone", "lost: VM %s (create task %s COMPLETED) is not in Photon", id, v.createTask)
		}
	}
	for id, d := range k.w.disks {
		if _, ok := k.pds[id]; d.created && !d.deleted && !ok {
			k.r.note(&k.r.Lost, "disk gone", "lost: disk %s (create task %s COMPLETED) is not in Photon", id, d.createTask)
		}
	}
	subnets, err := list[struct{ ID string }](ctx, k.c, "/v1/projects/"+k.w.f.project+"/subnets")
	if err != nil {
		return err
	}
	for _, id := range k.w.madeNets {
		if !slices.Contains(k.w.deletedNets, id) && !slices.ContainsFunc(subnets, func(s struct{ ID string }) bool { return s.ID == id }) {
			k.r.note(&k.r.Lost, "subnet gone", "lost: subnet %s (create COMPLETED) is not in Photon", id)
		}
	}
	for _, q := range k.w.reqs {
		for _, other := range q.otherTasks {
			k.r.note(&k.r.Duplicated, "key answered twice", "duplicated: %s with key %s answered task %s and then task %s", q.op, q.key, q.task, other)
		}
	}
	return nil
}

// photonOrphan is what the reconciler lists of a host object Photon does not know.
type photonOrphan struct {
	Type, Name, VMID, HostID string
}

// orphan counts a host object Photon does not know (with disk, a persistent disk file),
// and whether the reconciler lists it.
func (k *checker) orphan(disk bool, id, host string) {
	reported := slices.ContainsFunc(k.orphans, func(o photonOrphan) bool {
		if o.HostID != host {
			return false
		}
		if disk {
			return o.Type == "disk" && strings.Contains(o.Name, id)
		}
		return o.Type == "vm" && (o.VMID == id || o.Name == id)
	})
	if disk {
		k.r.note(&k.r.Orphans, "orphan disk", "orphan: disk file disks/%s.vmdk on host %s is not Photon's (reported: %t)", id, host, reported)
	} else {
		k.r.note(&k.r.Orphans, "orphan VM", "orphan: VM %s on host %s is not Photon's (reported: %t)", id, host, reported)
	}
	if reported {
		k.r.Reported++
	}
}

// onHosts compares Photon's VMs and disks with what the simulated hosts hold, and what
// differs with what the reconciler reported.
func (k *checker) onHosts(ctx context.Context) error {
	vmsOn := map[string][]string{} // Photon VM id → the hosts that hold a VM of that id
	pdsOn := map[string]int{}
	for i, u := range k.d.simURLs {
		inv, err := inventory(ctx, u)
		if err != nil {
			return err
		}
		for _, id := range inv.vms {
			vmsOn[id] = append(vmsOn[id], k.d.hostIDs[i])
			if _, ok := k.vms[id]; !ok {
				k.orphan(false, id, k.d.hostIDs[i])
			}
		}
		for _, id := range inv.disks {
			pdsOn[id]++
			if _, ok := k.pds[id]; !ok {
				k.orphan(true, id, k.d.hostIDs[i])
			}
		}
	}
	for _, id := range sortedKeys(k.vms) {
		v, on := k.vms[id], vmsOn[id]
		switch {
		case v.State == model.VMError && v.StateReason != "" && len(on) == 0 && v.Host != "":
			k.r.Vanished++ // gone from its host, and the reconciler said so
		case settled(v.State) && len(on) == 0:
			k.r.note(&k.r.Duplicated, "VM vanished", "duplicated: VM %s is %s on host %s, which does not hold it", id, v.State, v.Host)
		case settled(v.State) && (len(on) > 1 || on[0] != v.Host):
			k.r.note(&k.r.Duplicated, "VM twin", "duplicated: VM %s (%s, host %s) is on hosts %v", id, v.State, v.Host, on)
		case len(on) > 1:
			k.r.note(&k.r.Duplicated, "VM twin", "duplicated: VM %s (%s) is on hosts %v", id, v.State, on)
		}
	}
	for _, id := range sortedKeys(k.pds) {
		d, n := k.pds[id], pdsOn[id]
		if d.State == model.DiskError && d.StateReason != "" && n == 0 {
			k.r.Vanished++
			continue
		}
		if (settled(d.State) && n != 1) || n > 1 {
			k.r.note(&k.r.Duplicated, "disk files", "duplicated: disk %s (%s) has %d files on the hosts", id, d.State, n)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// jsonBody decodes a 2xx answer's JSON body into out.
func jsonBody(res *http.Response, out any) error {
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("status %d: %s", res.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}
