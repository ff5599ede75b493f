package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Result is what a run found; String is its RESULT line.
type Result struct {
	Tasks, Stuck, Lost, Duplicated, Leaked, Orphans int
	// Findings say what each count is made of, one a line; Kinds count them by kind
	// (e.g. "VM vanished", "address").
	Findings []string
	Kinds    map[string]int
}

func (r Result) String() string {
	return fmt.Sprintf("RESULT chaos tasks=%d stuck=%d lost=%d duplicated=%d leaked=%d orphans=%d",
		r.Tasks, r.Stuck, r.Lost, r.Duplicated, r.Leaked, r.Orphans)
}

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
	ID, State, Host, Datastore string
	Cost                       []model.QuotaLineItem
}

type photonDisk struct {
	ID, State, Datastore string
	Cost                 []model.QuotaLineItem
	VMs                  []string
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
}

func check(ctx context.Context, c *client, d *deployment, w *workload, r *Result) error {
	opt, err := store.ParseURL(d.redisURL)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	k := &checker{c: c, d: d, w: w, s: store.New(rdb, ""), rdb: rdb, r: r}
	for _, step := range []func(context.Context) error{k.read, k.lost, k.onHosts, k.hostReservations, k.quota, k.addresses} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// read lists the project's VMs and disks and the hosts through the API.
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

// onHosts compares Photon's VMs and disks with what the simulated hosts hold.
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
				k.r.note(&k.r.Orphans, "orphan VM", "orphan: VM %s on host %s is not Photon's", id, k.d.hostIDs[i])
			}
		}
		for _, id := range inv.disks {
			pdsOn[id]++
			if _, ok := k.pds[id]; !ok {
				k.r.note(&k.r.Orphans, "orphan disk", "orphan: disk file disks/%s.vmdk on host %s is not Photon's", id, k.d.hostIDs[i])
			}
		}
	}
	for _, id := range sortedKeys(k.vms) {
		v, on := k.vms[id], vmsOn[id]
		switch {
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
		if (settled(d.State) && n != 1) || n > 1 {
			k.r.note(&k.r.Duplicated, "disk files", "duplicated: disk %s (%s) has %d files on the hosts", id, d.State, n)
		}
	}
	return nil
}

// failedCreate reports whether the workload saw the VM's create end in ERROR: its undo
// releases everything the create took.
func (k *checker) failedCreate(id string) bool {
	k.w.mu.Lock()
	defer k.w.mu.Unlock()
	v := k.w.vms[id]
	return v != nil && v.failed
}

// holds says whether a VM or disk must hold reservations (1), must not (0), or may
// either (-1): a settled one holds them; one whose create failed holds none; one in ERROR
// after it was made (a failed delete, a vanished VM) keeps them until it is deleted.
func (k *checker) holds(id, state string) int {
	switch {
	case settled(state):
		return 1
	case k.failedCreate(id):
		return 0
	}
	return -1
}

// scan lists the ids after prefix of the keys prefix* in Redis: the reservation records,
// which the store keeps apart from the entities and the API does not show.
func (k *checker) scan(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	it := k.rdb.Scan(ctx, 0, k.s.Prefix()+prefix+"*", 1000).Iterator()
	for it.Next(ctx) {
		out = append(out, strings.TrimPrefix(it.Val(), k.s.Prefix()+prefix))
	}
	return out, it.Err()
}

// hostReservations: each VM's and persistent disk's reservation on its host (placement
// reserves a disk's datastore space as it reserves a VM's, counting it among the host's
// "vms"), against the entities that live and the counters the API reports per host and
// per datastore.
func (k *checker) hostReservations(ctx context.Context) error {
	ids, err := k.scan(ctx, "resv:host:")
	if err != nil {
		return err
	}
	type sum struct{ cpu, mem, vms flexInt }
	per := map[string]*sum{}
	perDS := map[string]flexInt{} // host id + "/" + datastore name → MB
	held := map[string]bool{}
	for _, id := range ids {
		resv, ok, err := k.s.HostReservationOf(ctx, id)
		if err != nil || !ok {
			continue
		}
		held[id] = true
		s := per[resv.HostID]
		if s == nil {
			s = &sum{}
			per[resv.HostID] = s
		}
		s.cpu, s.mem, s.vms = s.cpu+flexInt(resv.CPU), s.mem+flexInt(resv.MemoryMB), s.vms+1
		perDS[resv.HostID+"/"+resv.Datastore] += flexInt(resv.DiskMB)
		v, vm := k.vms[id]
		_, pd := k.pds[id]
		switch {
		case vm && settled(v.State) && resv.HostID != v.Host:
			k.r.note(&k.r.Leaked, "host reservation", "leaked: VM %s is on host %s but reserved on host %s", id, v.Host, resv.HostID)
		case vm || pd || k.ownedElsewhere(ctx, model.KindVM, id) || k.ownedElsewhere(ctx, model.KindDisk, id):
		default:
			k.r.note(&k.r.Leaked, "host reservation", "leaked: host %s keeps a reservation for %s, which is gone", resv.HostID, id)
		}
	}
	for _, id := range sortedKeys(k.vms) {
		v := k.vms[id]
		if want := k.holds(id, v.State); want >= 0 && held[id] != (want == 1) {
			k.r.note(&k.r.Leaked, "host reservation", "leaked: VM %s (%s) holds a host reservation: %v, wanted %v", id, v.State, held[id], want == 1)
		}
	}
	for _, id := range sortedKeys(k.pds) {
		if d := k.pds[id]; settled(d.State) && !held[id] {
			k.r.note(&k.r.Leaked, "host reservation", "leaked: disk %s (%s) holds no host reservation", id, d.State)
		}
	}
	for _, id := range sortedKeys(k.host) {
		h, s := k.host[id], per[id]
		if s == nil {
			s = &sum{}
		}
		if h.Reserved.Cpus != s.cpu || h.Reserved.MemoryMB != s.mem || h.Reserved.VMs != s.vms {
			k.r.note(&k.r.Leaked, "host counters", "leaked: host %s reports %+v reserved, its reservations add up to %+v", id, h.Reserved, *s)
		}
		for _, ds := range h.Datastores {
			if want := perDS[id+"/"+ds.Name]; ds.ReservedMB != want {
				k.r.note(&k.r.Leaked, "host counters", "leaked: datastore %s of host %s reports %d MB reserved, its reservations add up to %d",
					ds.Name, id, ds.ReservedMB, want)
			}
		}
	}
	return nil
}

// ownedElsewhere reports whether a VM or disk that is not in the run's project exists in
// Photon (one made outside the run): its reservations are none of the run's business.
func (k *checker) ownedElsewhere(ctx context.Context, kind, id string) bool {
	switch kind {
	case model.KindVM:
		v, err := store.Get[model.VM](ctx, k.s, model.KindVM, id)
		return err == nil && v.ProjectID != k.w.f.project
	default:
		d, err := store.Get[model.PersistentDisk](ctx, k.s, model.KindDisk, id)
		return err == nil && d.ProjectID != k.w.f.project
	}
}

// quota: each VM's and disk's quota reservation against the entities that live, and the
// project's use the API reports against the costs of those that hold one.
func (k *checker) quota(ctx context.Context) error {
	ids, err := k.scan(ctx, "resv:quota:")
	if err != nil {
		return err
	}
	held := map[string]bool{}
	for _, id := range ids {
		held[id] = true
		_, vm := k.vms[id]
		_, pd := k.pds[id]
		if !vm && !pd && !k.ownedElsewhere(ctx, model.KindVM, id) && !k.ownedElsewhere(ctx, model.KindDisk, id) {
			k.r.note(&k.r.Leaked, "quota", "leaked: quota stays reserved for %s, which is gone", id)
		}
	}
	want := map[string]float64{}
	add := func(cost []model.QuotaLineItem) {
		for _, c := range cost {
			want[c.Key] += c.Value
		}
	}
	for _, id := range sortedKeys(k.vms) {
		v := k.vms[id]
		if w := k.holds(id, v.State); w >= 0 && held[id] != (w == 1) {
			k.r.note(&k.r.Leaked, "quota", "leaked: VM %s (%s) holds quota: %v, wanted %v", id, v.State, held[id], w == 1)
		}
		if held[id] {
			add(v.Cost)
		}
	}
	for _, id := range sortedKeys(k.pds) {
		d := k.pds[id]
		if settled(d.State) && !held[id] {
			k.r.note(&k.r.Leaked, "quota", "leaked: disk %s (%s) holds no quota", id, d.State)
		}
		if held[id] {
			add(d.Cost)
		}
	}
	var q struct {
		QuotaItems map[string]struct {
			Unit         string
			Limit, Usage float64
		} `json:"quotaItems"`
	}
	if _, err := k.c.get(ctx, "/v1/projects/"+k.w.f.project+"/quota", &q); err != nil {
		return err
	}
	for _, key := range sortedKeys(q.QuotaItems) {
		if got := q.QuotaItems[key].Usage; math.Abs(got-want[key]) > 1e-6 {
			k.r.note(&k.r.Leaked, "quota", "leaked: the project uses %v of %s, its VMs and disks that hold quota cost %v", got, key, want[key])
		}
	}
	return nil
}

// addresses: each subnet's address table and NSX's logical ports against the NICs of the
// VMs that live.
func (k *checker) addresses(ctx context.Context) error {
	type nic struct{ vm, subnet, ip string }
	nics := map[string]nic{} // by owner, <vm>/<nic>
	for _, id := range sortedKeys(k.vms) {
		v, err := store.Get[model.VM](ctx, k.s, model.KindVM, id)
		if err != nil {
			continue // deleted meanwhile: nothing to hold
		}
		for _, n := range v.Nics {
			if n.IP != "" {
				nics[id+"/"+n.ID] = nic{id, n.Network, n.IP}
			}
		}
	}
	given := map[string][]string{} // subnet and address → the NICs that have it
	for _, owner := range sortedKeys(nics) {
		n := nics[owner]
		given[n.subnet+" "+n.ip] = append(given[n.subnet+" "+n.ip], owner)
	}
	for _, at := range sortedKeys(given) {
		if owners := given[at]; len(owners) > 1 {
			k.r.note(&k.r.Leaked, "address", "leaked: subnet and address %s given to %v", at, owners)
		}
	}
	subnets, err := k.scan(ctx, "subnetports:")
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, key := range subnets {
		subnet := strings.Trim(key, "{}")
		h, err := k.rdb.HGetAll(ctx, k.s.Prefix()+"subnetports:"+key).Result()
		if err != nil {
			return err
		}
		for f, val := range h {
			owner, ok := strings.CutPrefix(f, "o:")
			if !ok {
				continue
			}
			vm, _, _ := strings.Cut(owner, "/")
			n, live := nics[owner]
			ip := ""
			if num, err := strconv.ParseUint(val, 10, 32); err == nil {
				ip = fmt.Sprintf("%d.%d.%d.%d", num>>24, num>>16&255, num>>8&255, num&255)
			}
			switch {
			case !live && k.ownedElsewhere(ctx, model.KindVM, vm):
			case !live:
				k.r.note(&k.r.Leaked, "address", "leaked: subnet %s keeps address %s for %s, which has no NIC there", subnet, ip, owner)
			case n.subnet != subnet || n.ip != ip:
				k.r.note(&k.r.Leaked, "address", "leaked: subnet %s gives %s to %s, whose NIC has %s on %s", subnet, ip, owner, n.ip, n.subnet)
			}
			seen[owner] = true
		}
	}
	for _, owner := range sortedKeys(nics) {
		n := nics[owner]
		if !seen[owner] && settled(k.vms[n.vm].State) {
			k.r.note(&k.r.Leaked, "address", "leaked: %s has address %s on subnet %s, which does not record it", owner, n.ip, n.subnet)
		}
	}
	hc := &http.Client{Timeout: 30 * time.Second}
	ports, err := logicalPorts(ctx, hc, k.d.nsxURL)
	if err != nil {
		return err
	}
	perNIC := map[string]int{}
	for _, p := range ports {
		vm := p.vm()
		if vm == "" {
			continue // not a VM's port: a router link
		}
		perNIC[p.nic()]++
		owner := strings.Replace(p.nic(), vm+"-", vm+"/", 1)
		if _, live := nics[owner]; !live && !k.ownedElsewhere(ctx, model.KindVM, vm) {
			k.r.note(&k.r.Leaked, "logical port", "leaked: logical port %s of %s on switch %s, which has no NIC there", p.ID, p.nic(), p.SwitchID)
		}
	}
	for _, owner := range sortedKeys(nics) {
		n := nics[owner]
		sn, err := store.Get[model.Subnet](ctx, k.s, model.KindSubnet, n.subnet)
		if err != nil || sn.SwitchID == "" || !settled(k.vms[n.vm].State) {
			continue
		}
		if c := perNIC[strings.Replace(owner, "/", "-", 1)]; c != 1 {
			k.r.note(&k.r.Leaked, "logical port", "leaked: %s on subnet %s has %d logical ports", owner, n.subnet, c)
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
