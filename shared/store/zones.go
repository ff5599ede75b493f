package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Zone keys: the record photon:zone:{id}, the index photon:idx:zones (by creation time),
// and the name key photon:name:zone::{name} (zone names are unique).
func (s *Store) zonesIdx() string            { return s.key("idx", "zones") }
func (s *Store) zoneName(name string) string { return s.name(model.KindZone, "", name) }

// CreateZone writes the zone and its task, if no other zone has its name.
func (s *Store) CreateZone(ctx context.Context, z *model.Zone, task *model.Task) error {
	b := new(Batch).Unique(s.zoneName(z.Name), z.ID, fmt.Sprintf("availability zone name %q", z.Name)).
		Put(s.entityKey(model.KindZone, z.ID), z).
		Index(s.zonesIdx(), indexMember(z.CreatedAt, z.ID))
	return s.Apply(ctx, s.AddTask(b, task))
}

// DeleteZone deletes a zone and writes its task. The caller checks that no host is in
// the zone: hosts name their zone in their own records (set by the API or by hostd), so
// there is no index of a zone's hosts to test here.
func (s *Store) DeleteZone(ctx context.Context, z *model.Zone, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(model.KindZone, z.ID), "AvailabilityZone #"+z.ID).
		Del(s.entityKey(model.KindZone, z.ID)).
		DelIfOwner(s.zoneName(z.Name), z.ID).
		Unindex(s.zonesIdx(), indexMember(z.CreatedAt, z.ID))
	return s.Apply(ctx, s.AddTask(b, task))
}

// GetZone reads a zone; a missing one is NotFound (kind "AvailabilityZone").
func (s *Store) GetZone(ctx context.Context, id string) (*model.Zone, error) {
	z, err := Get[model.Zone](ctx, s, model.KindZone, id)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.NotFound("AvailabilityZone", id)
	}
	return z, err
}

// ZoneByName finds a zone by its name; a missing one is NotFound.
func (s *Store) ZoneByName(ctx context.Context, name string) (*model.Zone, error) {
	id, err := s.LookupName(ctx, model.KindZone, "", name)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, errs.New(errs.CodeNotFound, "availability zone %q not found", name).
			WithData("kind", "AvailabilityZone").WithData("name", name)
	}
	return s.GetZone(ctx, id)
}

// ListZones pages through zones, oldest first.
func (s *Store) ListZones(ctx context.Context, size int, cursor string) (Page[model.Zone], error) {
	return List[model.Zone](ctx, s, s.zonesIdx(), model.KindZone, size, cursor)
}
