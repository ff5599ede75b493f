package hostd

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	hostdv1 "github.com/photon-cloud/photon/hostd/api/hostd/v1"
)

// The inventory is what the control plane's drift repair compares with its records. It
// should not leave out a VM the host has: a VM missing from it is, after a second read
// says so too, put in ERROR as gone. vSphere's lists of VMs can each miss one that is
// being registered or moved, and vcsim's, changed in place by a concurrent destroy, can
// miss a neighbour of the VM destroyed. So the inventory takes the
// union of two lists kept apart, a container view of every VirtualMachine under the root
// folder (in any folder, made by anyone) and the host's own "vm" property, and reads every
// VM hostd has found or made by its own reference. Under a burst of concurrent destroys
// vcsim can still leave a VM out of one read (seen with 20 destroys beside 20 reads), so
// the reconciler acts only on what two reads in a row find.

func (h *host) inventory(ctx context.Context) (*hostdv1.Inventory, error) {
	out := &hostdv1.Inventory{ReadAt: time.Now().UnixMilli()}
	known := h.vms.snapshot()
	refs, err := h.vmRefs(ctx)
	if err != nil {
		return nil, err
	}
	// The VMs hostd has found or made are read by their own reference too: that read
	// cannot miss one that exists, whatever the lists say.
	for _, vm := range known {
		refs = append(refs, vm.Reference())
	}
	refs = uniqueRefs(refs)
	vms, err := h.vmsOf(ctx, refs)
	if err != nil {
		return nil, err
	}
	listed := make(map[types.ManagedObjectReference]bool, len(vms))
	for i := range vms {
		m := &vms[i]
		iv := &hostdv1.InventoryVm{VsphereName: m.Name}
		id := m.Name
		if m.Config != nil {
			if pid := extra(m, "photon.vmId"); pid != "" {
				id, iv.Photon = pid, true
			}
			iv.Vm = report(id, m)
		} else {
			iv.Vm = &hostdv1.VmInfo{VmId: id, PowerState: string(m.Runtime.PowerState)}
		}
		listed[m.Self] = true
		out.Vms = append(out.Vms, iv)
	}
	// A VM destroyed behind hostd's back stays in its memo of VM objects, and every call
	// on it would fail on the stale reference: forget what hostd knew before this read
	// and the read did not find (a VM it missed is only looked up again).
	for id, vm := range known {
		if !listed[vm.Reference()] {
			h.vms.forgetIf(id, func(cur *object.VirtualMachine) bool { return cur.Reference() == vm.Reference() })
			h.state.forget(id)
		}
	}
	if out.DiskFiles, err = h.diskFiles(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// vmRefs is the union of the container view's VMs and the host's.
func (h *host) vmRefs(ctx context.Context) ([]types.ManagedObjectReference, error) {
	m := view.NewManager(h.c)
	v, err := m.CreateContainerView(ctx, h.c.ServiceContent.RootFolder, []string{"VirtualMachine"}, true)
	if err != nil {
		return nil, fmt.Errorf("container view: %w", err)
	}
	defer v.Destroy(context.WithoutCancel(ctx))
	var cv mo.ContainerView
	pc := property.DefaultCollector(h.c)
	if err := pc.RetrieveOne(ctx, v.Reference(), []string{"view"}, &cv); err != nil {
		return nil, fmt.Errorf("read container view: %w", err)
	}
	var hs mo.HostSystem
	if err := pc.RetrieveOne(ctx, h.system.Reference(), []string{"vm"}, &hs); err != nil {
		return nil, fmt.Errorf("read the host's VMs: %w", err)
	}
	return uniqueRefs(slices.Concat(cv.View, hs.Vm)), nil
}

func uniqueRefs(refs []types.ManagedObjectReference) []types.ManagedObjectReference {
	slices.SortFunc(refs, func(a, b types.ManagedObjectReference) int { return strings.Compare(a.Value, b.Value) })
	return slices.Compact(refs)
}

// vmsOf reads the VMs of refs. One destroyed since it was listed is left out: it is gone.
func (h *host) vmsOf(ctx context.Context, refs []types.ManagedObjectReference) ([]mo.VirtualMachine, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	pc := property.DefaultCollector(h.c)
	var vms []mo.VirtualMachine
	if err := pc.Retrieve(ctx, refs, vmProperties, &vms); err == nil {
		return vms, nil
	}
	// One of them went between the list and the read: read them one by one.
	vms = vms[:0]
	for _, ref := range refs {
		var m mo.VirtualMachine
		err := pc.RetrieveOne(ctx, ref, vmProperties, &m)
		switch {
		case isFault[*types.ManagedObjectNotFound](err):
			continue
		case err != nil:
			return nil, fmt.Errorf("read VM %s: %w", ref.Value, err)
		}
		vms = append(vms, m)
	}
	return vms, nil
}

// diskFiles lists the persistent disk files (persistentPath) on every datastore of the
// host. A datastore without a disks/ folder has none; any other failed search fails the
// read, since a missing file would read as a disk gone.
func (h *host) diskFiles(ctx context.Context) ([]string, error) {
	var hs mo.HostSystem
	pc := property.DefaultCollector(h.c)
	if err := pc.RetrieveOne(ctx, h.system.Reference(), []string{"datastore"}, &hs); err != nil {
		return nil, err
	}
	if len(hs.Datastore) == 0 {
		return nil, nil
	}
	var dss []mo.Datastore
	if err := pc.Retrieve(ctx, hs.Datastore, []string{"summary", "browser"}, &dss); err != nil {
		return nil, err
	}
	var out []string
	for _, ds := range dss {
		files, err := h.vmdks(ctx, object.NewHostDatastoreBrowser(h.c, ds.Browser), ds.Summary.Name, "disks")
		if err != nil {
			return nil, fmt.Errorf("list disks on %s: %w", ds.Summary.Name, err)
		}
		out = append(out, files...)
	}
	return out, nil
}

// vmdks lists the disk descriptors ("[ds] dir/x.vmdk", not the -flat extents) in dir.
func (h *host) vmdks(ctx context.Context, b *object.HostDatastoreBrowser, ds, dir string) ([]string, error) {
	release, err := h.fileOp(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	t, err := b.SearchDatastore(ctx, fmt.Sprintf("[%s] %s", ds, dir), &types.HostDatastoreBrowserSearchSpec{
		MatchPattern: []string{"*.vmdk"}})
	if err != nil {
		return nil, err
	}
	res, err := h.wait(ctx, t)
	switch {
	case isFault[*types.FileNotFound](err):
		return nil, nil
	case err != nil:
		return nil, err
	}
	r, _ := res.Result.(types.HostDatastoreBrowserSearchResults)
	var out []string
	for _, f := range r.File {
		if f == nil || f.GetFileInfo() == nil {
			continue
		}
		if name := f.GetFileInfo().Path; strings.HasSuffix(name, ".vmdk") && !strings.HasSuffix(name, "-flat.vmdk") {
			out = append(out, fmt.Sprintf("[%s] %s/%s", ds, dir, name))
		}
	}
	return out, nil
}

// snapshot copies what the memo holds.
func (c *memo[V]) snapshot() map[string]V {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]V, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

// forgetIf forgets key if what is remembered for it satisfies same.
func (c *memo[V]) forgetIf(key string, same func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[key]; ok && same(v) {
		delete(c.m, key)
	}
}
