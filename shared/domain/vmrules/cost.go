package vmrules

import (
	"sort"
	"strings"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Size reads a vm flavor's vm.cpu (COUNT) and vm.memory, in MB: a flavor without both is
// no vm flavor.
func Size(f *model.Flavor) (cpu int32, memMB int64, err error) {
	for _, c := range f.Cost {
		switch c.Key {
		case domain.CostVMCPU:
			cpu = int32(c.Value)
		case domain.CostVMMemory:
			k, err := domain.UnitFactor(c.Unit)
			if err != nil {
				return 0, 0, err
			}
			if strings.EqualFold(c.Unit, "") || strings.EqualFold(c.Unit, "COUNT") {
				k = 1024 // Photon's examples give memory in GB
			}
			memMB = int64(c.Value * k)
		}
	}
	if cpu <= 0 || memMB <= 0 {
		return 0, 0, errs.Invalid("vm flavor %q needs vm.cpu and vm.memory costs above 0", f.Name)
	}
	return cpu, memMB, nil
}

// Cost is a VM's cost: its flavor's line items and others (its disks', or what a resize
// keeps), summed in canonical units, with exactly one vm.count whatever the flavor says:
// quota counts VMs, and a VM is one.
func Cost(flavor *model.Flavor, others ...model.QuotaLineItem) []model.QuotaLineItem {
	c := Costs{}
	c.Add(flavor.Cost...)
	c.Add(others...)
	c[domain.CostVMCount] = model.QuotaLineItem{Key: domain.CostVMCount, Value: 1, Unit: "COUNT"}
	return c.List()
}

// Resized is the cost of a VM that costs cur once its flavor old becomes flavor: old's
// line items replaced by the new flavor's; its disks keep theirs.
func Resized(cur []model.QuotaLineItem, old, flavor *model.Flavor) []model.QuotaLineItem {
	c := Costs{}
	c.Add(cur...)
	c.Sub(old.Cost...)
	delete(c, domain.CostVMCount)
	return Cost(flavor, c.List()...)
}

// WithFloatingIP is a VM's cost cur with its floating IP counted (on) or not: one
// sdn.floatingip.size, whatever cur says of it.
func WithFloatingIP(cur []model.QuotaLineItem, on bool) []model.QuotaLineItem {
	c := Costs{}
	c.Add(cur...)
	delete(c, domain.CostFloatingIP)
	if on {
		c[domain.CostFloatingIP] = model.QuotaLineItem{Key: domain.CostFloatingIP, Value: 1, Unit: "COUNT"}
	}
	return c.List()
}

// Costs sums quota line items by key, in canonical units.
type Costs map[string]model.QuotaLineItem

// Add adds items. Units that do not convert are skipped: flavors' units were checked
// when the flavors were created.
func (c Costs) Add(items ...model.QuotaLineItem) {
	for _, it := range items {
		v, unit, err := domain.Canonical(it.Value, it.Unit)
		if err != nil {
			continue
		}
		x := c[it.Key]
		x.Key, x.Value, x.Unit = it.Key, x.Value+v, unit
		c[it.Key] = x
	}
}

// Sub takes items away; line items that come to nothing are dropped.
func (c Costs) Sub(items ...model.QuotaLineItem) {
	for _, it := range items {
		v, _, err := domain.Canonical(it.Value, it.Unit)
		if err != nil {
			continue
		}
		x := c[it.Key]
		if x.Value -= v; x.Value < 1e-9 {
			delete(c, it.Key)
			continue
		}
		c[it.Key] = x
	}
}

// List is the sums sorted by key.
func (c Costs) List() []model.QuotaLineItem {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]model.QuotaLineItem, 0, len(keys))
	for _, k := range keys {
		out = append(out, c[k])
	}
	return out
}
