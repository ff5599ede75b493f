package vmrules

import (
	"context"
	"errors"
	"fmt"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// A Spec is a VM create spec whose syntax the API has checked (a name, a flavor and an
// image named, affinities of known kinds with ids, a well-formed anti-affinity group).
type Spec struct {
	Name          string
	Flavor        string // a vm flavor's name
	SourceImageID string
	Subnets       []string
	Tags          []string
	Environment   map[string]string
	Affinities    []model.Locality
	AntiAffinity  *model.AntiAffinity
	Disks         []DiskSpec
	PowerOn       bool // start the VM once made; Photon left it STOPPED
}

// A DiskSpec is one disk of a VM create spec.
type DiskSpec struct {
	Name       string
	Kind       string // ephemeral-disk (or its short form, ephemeral)
	Flavor     string
	CapacityGB int32
	Boot       bool
}

// Validate checks spec, for a VM of project p made by who, against what exists, and
// builds the VM it makes (CREATING, with no ids: the caller gives the VM and its disks
// theirs): its flavor must be a vm flavor, its image one who may use in p and READY, its
// subnets p's or port-group ones, its disks ephemeral of existing flavors with exactly one
// boot disk, and its affinities must name what exists without contradicting each other.
// Every refusal is InvalidEntity.
func Validate(ctx context.Context, s *store.Store, who model.Caller, p *model.Project, spec Spec) (*model.VM, error) {
	flavor, cpu, mem, err := vmFlavor(ctx, s, spec.Flavor)
	if err != nil {
		return nil, err
	}
	img, ok, err := MayUseImage(ctx, s, who, spec.SourceImageID, p.ID)
	switch {
	case errors.Is(err, errs.ErrNotFound) || (err == nil && !ok):
		// Another project's image is as good as missing to a caller it is not shared with.
		return nil, errs.Invalid("image %q not found", spec.SourceImageID).WithData("field", "sourceImageId")
	case err != nil:
		return nil, err
	case img.State != model.ImageReady:
		return nil, Unusable(img.ID, img.State).WithData("field", "sourceImageId")
	}
	vm := &model.VM{Name: spec.Name, TenantID: p.TenantID, ProjectID: p.ID, FlavorID: flavor.ID,
		Flavor: flavor.Name, SourceImageID: img.ID, CPU: cpu, MemoryMB: mem, State: domain.VMCreating,
		Tags: spec.Tags, Environment: spec.Environment, Subnets: spec.Subnets, PowerOn: spec.PowerOn,
		Affinities: spec.Affinities, AntiAffinity: spec.AntiAffinity, CreatedAt: s.Now()}
	for i, id := range vm.Subnets {
		ok, err := SubnetUsable(ctx, s, p.ID, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errs.Invalid("subnets[%d]: subnet %q not found", i, id).WithData("field", "subnets")
		}
	}
	if err := CheckAffinities(ctx, s, spec.Affinities); err != nil {
		return nil, err
	}
	if vm.Placement = flavor.PlacementPolicy; vm.Placement == "" {
		vm.Placement = p.PlacementPolicy
	}
	var others []model.QuotaLineItem
	if vm.Disks, others, err = disks(ctx, s, spec.Disks); err != nil {
		return nil, err
	}
	vm.Cost = Cost(flavor, others...)
	return vm, nil
}

// disks checks a create spec's disks and returns them with what they cost: their
// flavors' line items and their capacity.
func disks(ctx context.Context, s *store.Store, in []DiskSpec) ([]model.Disk, []model.QuotaLineItem, error) {
	var out []model.Disk
	var cost []model.QuotaLineItem
	boots := 0
	for i, d := range in {
		kind := d.Kind
		if kind == "ephemeral" {
			kind = model.FlavorEphemeralDisk
		}
		if kind != model.FlavorEphemeralDisk {
			return nil, nil, errs.Invalid("attachedDisks[%d]: kind %q is not ephemeral-disk", i, d.Kind)
		}
		df, err := s.FlavorByName(ctx, model.FlavorEphemeralDisk, d.Flavor)
		if errors.Is(err, errs.ErrNotFound) {
			return nil, nil, errs.Invalid("attachedDisks[%d]: ephemeral-disk flavor %q not found", i, d.Flavor)
		}
		if err != nil {
			return nil, nil, err
		}
		disk := model.Disk{Name: d.Name, Kind: kind, Flavor: df.Name, FlavorID: df.ID, CapacityGB: d.CapacityGB,
			Boot: d.Boot, State: domain.DiskDetached}
		if disk.Name == "" {
			disk.Name = fmt.Sprintf("disk-%d", i)
		}
		if disk.Boot {
			boots++
		} else if disk.CapacityGB <= 0 {
			return nil, nil, errs.Invalid("attachedDisks[%d]: capacityGb must be above 0", i)
		}
		cost = append(cost, df.Cost...)
		if disk.CapacityGB > 0 {
			cost = append(cost, model.QuotaLineItem{Key: domain.CostEphemeralCapacity, Value: float64(disk.CapacityGB), Unit: "GB"})
		}
		out = append(out, disk)
	}
	if boots != 1 {
		return nil, nil, errs.Invalid("exactly one attached disk must be the boot disk (found %d)", boots)
	}
	return out, cost, nil
}

// SubnetUsable reports whether a VM of project projectID may go on subnet id: one of its
// project's or one of no project (port-group subnets). Any other is as good as missing.
func SubnetUsable(ctx context.Context, s *store.Store, projectID, id string) (bool, error) {
	sn, err := store.Get[model.Subnet](ctx, s, model.KindSubnet, id)
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return sn.ProjectID == "" || sn.ProjectID == projectID, nil
}
