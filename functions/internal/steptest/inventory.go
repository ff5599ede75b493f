package steptest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// ListInventory answers every VM of the host (Photon's by their ids, those PutForeign
// made as not Photon's) and the persistent disk files, read now.
func (h *Host) ListInventory(context.Context, *hostdv1.ListInventoryRequest) (*hostdv1.Inventory, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	inv := &hostdv1.Inventory{ReadAt: time.Now().UnixMilli()}
	for id, vm := range h.vms {
		inv.Vms = append(inv.Vms, &hostdv1.InventoryVm{Vm: proto.CloneOf(vm), VsphereName: id, Photon: !h.foreign[id]})
	}
	for k := range h.disks {
		ds, id, _ := strings.Cut(k, "/")
		inv.DiskFiles = append(inv.DiskFiles, fmt.Sprintf("[%s] disks/%s.vmdk", ds, id))
	}
	return inv, nil
}

// PutForeign puts a VM named name on the host as made outside Photon (no photon.vmId).
func (h *Host) PutForeign(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.foreign == nil {
		h.foreign = map[string]bool{}
	}
	h.foreign[name] = true
	h.vms[name] = &hostdv1.VmInfo{VmId: name, PowerState: "poweredOn"}
}

// DropVM removes VM id from the host behind Photon's back (a lost host, an operator).
func (h *Host) DropVM(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.vms, id)
}

// DropDisk removes persistent disk id's file from datastore ds behind Photon's back.
func (h *Host) DropDisk(ds, id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.disks, diskKey(ds, id))
}
