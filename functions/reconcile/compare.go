package reconcile

import (
	"fmt"
	"path"
	"slices"
	"strings"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Records are Photon's records a host's inventory is compared with, read after the
// inventory (so none is older than it).
type Records struct {
	// VMs and Disks are those whose record places them on the host.
	VMs   []*model.VM
	Disks []*model.PersistentDisk
	// Claimed are the records of the other VMs the inventory names (placed elsewhere, or
	// nowhere), by id; DiskIDs every persistent disk id the inventory's files name that
	// has a record, wherever it is placed.
	Claimed map[string]*model.VM
	DiskIDs map[string]bool
}

// Orphan reasons.
const (
	reasonNoRecord     = "Photon has no record of it"
	reasonUnplaced     = "its Photon record places it on no host"
	reasonNICNotInRec  = "the VM has this NIC on the host, its record does not"
	reasonNICNotOnHost = "the VM's record has this NIC, the host does not"
	reasonISONotInRec  = "the VM has an ISO attached on the host, its record has none"
	reasonISONotOnHost = "the VM's record has an ISO attached, the host has none"
)

// Compare is what one read of host's inventory says against recs: the VMs and disks gone
// from the host and what the host has that Photon does not account for. It is pure;
// store.ApplyDrift acts only on what passes in a row find. A VM or a disk a task holds is
// the task's: left out either way, as is a VM whose record a task is creating.
func Compare(host string, inv *hostdv1.Inventory, recs Records) store.DriftPass {
	p := store.DriftPass{Host: host, ReadAt: inv.GetReadAt()}
	onHost := map[string]*hostdv1.VmInfo{}
	for _, iv := range inv.GetVms() {
		onHost[iv.GetVm().GetVmId()] = iv.GetVm()
	}
	placed := map[string]bool{}
	for _, vm := range recs.VMs {
		placed[vm.ID] = true
		if vm.ActiveTask != "" {
			continue
		}
		info, ok := onHost[vm.ID]
		if !ok {
			if _, gone := domain.VMGone(vm.State, vm.ActiveTask); gone {
				p.GoneVMs = append(p.GoneVMs, vm.ID)
			}
			continue
		}
		if domain.VMSettled(vm.State) {
			p.Orphans = append(p.Orphans, devices(host, vm, info)...)
		}
	}
	for _, iv := range inv.GetVms() {
		id := iv.GetVm().GetVmId()
		if placed[id] {
			continue
		}
		reason := reasonNoRecord
		if rec := recs.Claimed[id]; rec != nil {
			if rec.ActiveTask != "" || rec.State == domain.VMCreating {
				continue // being created, moved or deleted: its task's
			}
			reason = reasonUnplaced
			if rec.HostID != "" {
				reason = "its Photon record places it on host " + rec.HostID
			}
		}
		o := orphan(host, model.OrphanVM, iv.GetVsphereName(), reason)
		if iv.GetPhoton() {
			o.VMID = id
		}
		p.Orphans = append(p.Orphans, o)
	}
	files := map[string]bool{}
	for _, f := range inv.GetDiskFiles() {
		files[f] = true
		if id := DiskID(f); !recs.DiskIDs[id] {
			p.Orphans = append(p.Orphans, orphan(host, model.OrphanDisk, f, reasonNoRecord))
		}
	}
	for _, d := range recs.Disks {
		if _, gone := domain.DiskGone(d.State, d.ActiveTask); gone && !files[DiskFile(d)] {
			p.GoneDisks = append(p.GoneDisks, d.ID)
		}
	}
	return p
}

// devices are the mismatches of a settled VM's NICs and ISO between its record and its
// host.
func devices(host string, vm *model.VM, info *hostdv1.VmInfo) []model.Orphan {
	var out []model.Orphan
	add := func(typ, name, reason string) {
		o := orphan(host, typ, vm.ID+"/"+name, reason)
		o.VMID = vm.ID
		out = append(out, o)
	}
	var rec, got []string
	for _, n := range vm.Nics {
		rec = append(rec, n.ID)
	}
	for _, n := range info.GetNics() {
		got = append(got, n.GetId())
	}
	for _, id := range got {
		if !slices.Contains(rec, id) {
			add(model.OrphanNIC, id, reasonNICNotInRec)
		}
	}
	for _, id := range rec {
		if !slices.Contains(got, id) {
			add(model.OrphanNIC, id, reasonNICNotOnHost)
		}
	}
	switch {
	case vm.ISO == nil && info.GetIso() != "":
		add(model.OrphanISO, info.GetIso(), reasonISONotInRec)
	case vm.ISO != nil && info.GetIso() == "":
		add(model.OrphanISO, vm.ISO.Name, reasonISONotOnHost)
	}
	return out
}

func orphan(host, typ, name, reason string) model.Orphan {
	return model.Orphan{ID: store.OrphanID(host, typ, name), Type: typ, Name: name, StateReason: reason}
}

// DiskFile is where persistent disk d's file is: "[datastore] disks/<id>.vmdk" (hostd's
// layout).
func DiskFile(d *model.PersistentDisk) string {
	return fmt.Sprintf("[%s] disks/%s.vmdk", d.Datastore, d.ID)
}

// DiskID is the id of the persistent disk whose file is f.
func DiskID(f string) string {
	_, p, _ := strings.Cut(f, "] ")
	return strings.TrimSuffix(path.Base(p), ".vmdk")
}
