package chaos

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

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
		h, err := k.rdb.HGetAll(ctx, keyspace.Space(k.s.Prefix(), keyspace.Store)+"subnetports:"+key).Result()
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
