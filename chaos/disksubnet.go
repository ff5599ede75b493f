package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
)

// The workload's operations on persistent disks and subnets.

// disk does one persistent disk operation: create one beside a VM, attach it to that VM,
// detach it, or delete a detached one, whichever the workload's disks allow.
func (w *workload) disk(ctx context.Context, rng *rand.Rand) {
	w.mu.Lock()
	var attachable, attached, deletable []string
	for id, d := range w.disks {
		if !d.created || d.deleted || d.busy {
			continue
		}
		vm := w.vms[d.vm]
		switch {
		case d.attached && !vm.busy:
			attached = append(attached, id)
		case !d.attached && vm.created && !vm.deleted && !vm.busy:
			attachable = append(attachable, id)
			deletable = append(deletable, id)
		case !d.attached:
			deletable = append(deletable, id)
		}
	}
	w.mu.Unlock()
	choices := map[string][]string{"attach": attachable, "detach": attached, "delete disk": deletable}
	names := []string{"create disk"}
	for _, n := range []string{"attach", "detach", "delete disk"} {
		if len(choices[n]) > 0 {
			names = append(names, n)
		}
	}
	op := names[rng.IntN(len(names))]
	if op == "create disk" {
		w.createDisk(ctx, rng)
		return
	}
	ids := choices[op]
	slices.Sort(ids)
	id := ids[rng.IntN(len(ids))]
	w.mu.Lock()
	d := w.disks[id]
	vm := w.vms[d.vm]
	if d.busy || (op != "delete disk" && vm.busy) || d.deleted {
		w.mu.Unlock()
		return
	}
	d.busy = true
	if op != "delete disk" {
		vm.busy = true
	}
	if op == "delete disk" {
		d.deleted = true
	}
	w.mu.Unlock()
	defer func() { w.release(id); w.release(d.vm) }()
	switch op {
	case "attach", "detach":
		end := w.finish(ctx, w.send(ctx, &request{op: op, entity: id}, "POST", "/v1/vms/"+d.vm+"/"+op+"_disk",
			map[string]any{"diskId": id}, false))
		if end != nil && end.State == "COMPLETED" {
			w.mu.Lock()
			d.attached = op == "attach"
			w.mu.Unlock()
		}
	case "delete disk":
		w.finish(ctx, w.send(ctx, &request{op: op, entity: id}, "DELETE", "/v1/disks/"+id, nil, false))
	}
}

func (w *workload) createDisk(ctx context.Context, rng *rand.Rand) {
	vm := w.pickVM(rng, nil)
	if vm == "" {
		return
	}
	defer w.release(vm)
	spec := map[string]any{"name": fmt.Sprintf("pd-%d", rng.Uint32()), "kind": "persistent-disk", "flavor": pdFlavor,
		"capacityGb": 1 + rng.IntN(4), "affinities": []map[string]string{{"kind": "vm", "id": vm}}}
	t := w.send(ctx, &request{op: "create disk"}, "POST", "/v1/projects/"+w.f.project+"/disks", spec, false)
	if t == nil {
		return
	}
	w.mu.Lock()
	d := &diskRec{vm: vm, createTask: t.ID, busy: true}
	w.disks[t.Entity.ID] = d
	w.mu.Unlock()
	end := w.finish(ctx, t)
	w.mu.Lock()
	d.busy, d.created = false, end != nil && end.State == "COMPLETED"
	w.mu.Unlock()
}

// subnet makes a subnet on the run's router, or deletes one (refused while VMs use it).
func (w *workload) subnet(ctx context.Context, rng *rand.Rand) {
	w.mu.Lock()
	n := len(w.subnets)
	w.mu.Unlock()
	if n > 0 && rng.IntN(3) == 0 {
		w.mu.Lock()
		id := w.subnets[rng.IntN(len(w.subnets))]
		w.deletedNets = append(w.deletedNets, id)
		w.mu.Unlock()
		end := w.finish(ctx, w.send(ctx, &request{op: "delete subnet", entity: id}, "DELETE", "/v1/subnets/"+id, nil, false))
		if end != nil && end.State == "COMPLETED" {
			w.mu.Lock()
			w.subnets = slices.DeleteFunc(w.subnets, func(s string) bool { return s == id })
			w.mu.Unlock()
		}
		return
	}
	w.mu.Lock()
	w.nextCIDR++
	cidr := fmt.Sprintf("10.0.%d.0/24", w.nextCIDR)
	w.mu.Unlock()
	end := w.finish(ctx, w.send(ctx, &request{op: "create subnet"}, "POST", "/v1/routers/"+w.f.router+"/subnets",
		map[string]any{"name": "sn-" + cidr[5:len(cidr)-5], "privateIpCidr": cidr}, false))
	if end != nil && end.State == "COMPLETED" {
		w.mu.Lock()
		w.subnets = append(w.subnets, end.Entity.ID)
		w.madeNets = append(w.madeNets, end.Entity.ID)
		w.mu.Unlock()
	}
}
