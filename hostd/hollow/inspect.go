package hollow

import (
	"fmt"
	"maps"
)

// What an operator or a guest does on a hollow host beside hostd: reads, and changes
// hostd did not make, for tests and drills.

// VM is what the host has of one VM, as an operator reading it sees it.
type VM struct {
	Name       string
	PowerState string
	CPUs       int32
	MemoryMB   int32
	Disks      []string // its disks' files, the boot disk first
	ISO        string   // the ISO file in its CD-ROM
	CDROMs     int
	MACs       []string // its NICs' MACs
	// ExtraConfig is what vSphere's extraConfig would hold of Photon's and the guest's:
	// photon.vmId, photon.nic.<id> (each NIC's MAC) and the create's guestinfo.* keys.
	ExtraConfig map[string]string
	Boots       int // power-ons from off or suspended, and resets
}

// VM reads the VM named name.
func (h *Host) VM(name string) (VM, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.vms[name]
	if !ok {
		return VM{}, false
	}
	info := v.report()
	out := VM{Name: v.name, PowerState: info.PowerState, CPUs: v.cpus, MemoryMB: v.memMB, ISO: info.Iso,
		Boots: int(v.boots), ExtraConfig: maps.Clone(v.guest)}
	if out.ExtraConfig == nil {
		out.ExtraConfig = map[string]string{}
	}
	if v.photon {
		out.ExtraConfig["photon.vmId"] = v.name
	}
	for _, n := range v.nics {
		out.ExtraConfig["photon.nic."+n.id] = n.mac
		out.MACs = append(out.MACs, n.mac)
	}
	if v.cdrom {
		out.CDROMs = 1
	}
	for _, d := range info.Disks {
		out.Disks = append(out.Disks, d.File)
	}
	return out, true
}

// VMs is how many VMs the host has.
func (h *Host) VMs() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.vms)
}

// Exists reports whether the file or folder p is on datastore ds.
func (h *Host) Exists(ds, p string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.dss[ds]
	return ok && !h.lookup(d, p).none()
}

// ReadFile is what the host kept of an uploaded file (MaxKept bytes at most).
func (h *Host) ReadFile(ds, p string) ([]byte, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.dss[ds]
	if !ok {
		return nil, false
	}
	f, ok := d.files[p]
	if !ok || f.dir {
		return nil, false
	}
	return append([]byte(nil), f.data...), true
}

// DestroyVM destroys the VM named name behind hostd's back, as an operator would; false
// if there was none.
func (h *Host) DestroyVM(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.vms[name]
	if ok {
		for _, d := range v.disks {
			if d.ds == nil {
				v.ds.used -= d.capKB << 10
			}
		}
		delete(h.vms, name)
	}
	return ok
}

// CreateVM makes an empty VM named name on datastore ds beside Photon, as an operator
// would: no boot disk, no photon.vmId.
func (h *Host) CreateVM(ds, name string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.dss[ds]
	if !ok {
		return fmt.Errorf("no datastore %q", ds)
	}
	if _, ok := h.vms[name]; ok {
		return fmt.Errorf("a VM %q exists", name)
	}
	h.vms[name] = &vm{name: name, ds: d, cpus: 1, memMB: 16}
	return nil
}

// SetGuestIP plays the guest of VM name reporting ip on its first NIC.
func (h *Host) SetGuestIP(name, ip string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	v, ok := h.vms[name]
	if !ok || len(v.nics) == 0 {
		return fmt.Errorf("VM %q has no NIC", name)
	}
	v.nics[0].ip = ip
	return nil
}

// Fail makes every later call of the hostd.v1 method (e.g. "PowerOn") fail with
// FailedPrecondition, as vSphere's InvalidState fault does, before it changes anything.
// ClearFaults undoes it.
func (h *Host) Fail(method string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail[method] = true
}

// ClearFaults ends every Fail.
func (h *Host) ClearFaults() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.fail)
}
