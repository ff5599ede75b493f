// Package diskrules decides what a persistent disk may be, against what exists: a create
// spec against its flavor and the VMs it is to be placed beside (Validate), and its cost
// (Cost). The gateway calls it before it writes anything, so that a refusal is a 400.
package diskrules

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// CostCapacity is the quota key of a persistent disk's size, in GB.
const CostCapacity = "persistent-disk.capacity"

// A Spec is a persistent disk create spec whose syntax the API has checked (a name, a
// capacity above 0, vm affinities only).
type Spec struct {
	Name       string
	Flavor     string // a persistent-disk flavor's name
	CapacityGB int32
	Tags       []string
	// NearVMs are the VMs of its vm affinities: the disk goes on one of their datastores.
	NearVMs []string
}

// Validate checks spec, for a disk of project p, against what exists and builds the disk
// it makes (CREATING, with no id): its flavor must be a persistent-disk flavor and the VMs
// it is to be placed beside p's. Every refusal is InvalidEntity.
func Validate(ctx context.Context, s *store.Store, p *model.Project, spec Spec) (*model.PersistentDisk, error) {
	flavor, err := s.FlavorByName(ctx, model.FlavorPersistentDisk, spec.Flavor)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.Invalid("persistent-disk flavor %q not found", spec.Flavor).WithData("field", "flavor")
	}
	if err != nil {
		return nil, err
	}
	d := &model.PersistentDisk{Name: spec.Name, TenantID: p.TenantID, ProjectID: p.ID, FlavorID: flavor.ID,
		Flavor: flavor.Name, CapacityGB: spec.CapacityGB, State: domain.DiskCreating, Tags: spec.Tags,
		Cost: Cost(flavor, spec.CapacityGB), CreatedAt: s.Now()}
	for i, id := range spec.NearVMs {
		vm, err := store.Get[model.VM](ctx, s, model.KindVM, id)
		if errors.Is(err, errs.ErrNotFound) || (err == nil && vm.ProjectID != p.ID) {
			return nil, errs.Invalid("affinities[%d]: vm %q not found in project %s", i, id, p.Name).WithData("field", "affinities")
		}
		if err != nil {
			return nil, err
		}
		d.Affinities = append(d.Affinities, model.Locality{Kind: model.LocalityVM, ID: vm.ID})
	}
	return d, nil
}

// Cost is a persistent disk's cost: its flavor's line items and its capacity, in GB.
func Cost(flavor *model.Flavor, capacityGB int32) []model.QuotaLineItem {
	c := vmrules.Costs{}
	c.Add(flavor.Cost...)
	c.Add(model.QuotaLineItem{Key: CostCapacity, Value: float64(capacityGB), Unit: "GB"})
	return c.List()
}
