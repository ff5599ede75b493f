package vmrules

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// CheckAffinities checks that a VM's affinities name what exists and can all hold at
// once: one host at most (host affinities and the hosts of vm affinities), one
// availability zone, one datastore type, and one datastore (datastore affinities, by id
// or name, and the datastores of disk affinities); the host, when one is named, must be in
// the zone, carry the host tags and mount the datastore. A contradiction would otherwise
// surface only when the place step runs, as a failed task; here it is InvalidEntity
// before anything is written. A VM or disk not placed yet constrains nothing: the place
// step decides once it is.
func CheckAffinities(ctx context.Context, s *store.Store, affs []model.Locality) error {
	var host, zone, dsType named
	var stores []datastoreRef
	var hostTags []named
	for i, a := range affs {
		by := fmt.Sprintf("affinities[%d] (%s %s)", i, a.Kind, a.ID)
		var err error
		switch a.Kind {
		case model.LocalityHost:
			err = host.set("hosts", a.ID, by)
		case model.LocalityZone:
			err = zone.set("availability zones", a.ID, by)
		case model.LocalityVM:
			other, gerr := store.Get[model.VM](ctx, s, model.KindVM, a.ID)
			switch {
			case errors.Is(gerr, errs.ErrNotFound):
				err = invalid("%s: VM %s not found", by, a.ID)
			case gerr != nil:
				return gerr
			case other.HostID != "":
				err = host.set("hosts", other.HostID, by)
			}
		case model.LocalityDatastore:
			stores = append(stores, datastoreRef{names: []string{a.ID}, by: by})
		case model.LocalityDisk:
			d, gerr := store.Get[model.PersistentDisk](ctx, s, model.KindDisk, a.ID)
			switch {
			case errors.Is(gerr, errs.ErrNotFound):
				err = invalid("%s: persistent disk %s not found", by, a.ID)
			case gerr != nil:
				return gerr
			case d.DatastoreID != "":
				stores = append(stores, datastoreRef{id: d.DatastoreID, names: []string{d.DatastoreID, d.Datastore}, by: by})
			}
		case model.LocalityHostTag:
			hostTags = append(hostTags, named{a.ID, by})
		case model.LocalityDatastoreType:
			err = dsType.set("datastore types", a.ID, by)
		}
		if err != nil {
			return err
		}
	}
	for _, d := range stores[min(1, len(stores)):] {
		if !d.same(stores[0]) {
			return invalid("%s and %s name two different datastores", stores[0].by, d.by)
		}
	}
	if host.value == "" {
		return nil
	}
	h, err := s.GetHost(ctx, host.value)
	if errors.Is(err, errs.ErrNotFound) {
		return invalid("%s: host %s not found", host.by, host.value)
	}
	if err != nil {
		return err
	}
	if zone.value != "" && h.AvailabilityZone != zone.value {
		return invalid("%s: host %s is not in availability zone %s (%s)", host.by, h.ID, zone.value, zone.by)
	}
	for _, t := range hostTags {
		if !h.HasTag(t.value) {
			return invalid("%s: host %s does not carry tag %s (%s)", host.by, h.ID, t.value, t.by)
		}
	}
	fits := func(d model.Datastore) bool {
		return dsType.value == "" || strings.EqualFold(d.Type, dsType.value)
	}
	for _, ref := range stores {
		if !slices.ContainsFunc(h.Datastores, func(d model.Datastore) bool { return ref.is(d) && fits(d) }) {
			return invalid("%s: host %s mounts no such datastore%s (%s)", host.by, h.ID, ofType(dsType), ref.by)
		}
	}
	if dsType.value != "" && !slices.ContainsFunc(h.Datastores, fits) {
		return invalid("%s: host %s mounts no %s datastore (%s)", host.by, h.ID, dsType.value, dsType.by)
	}
	return nil
}

// named is what an affinity names, and which affinity names it.
type named struct{ value, by string }

// set records value, named by by, unless another affinity named another one of what.
func (n *named) set(what, value, by string) error {
	if n.value != "" && n.value != value {
		return invalid("%s and %s name two different %s", n.by, by, what)
	}
	if n.value == "" {
		*n = named{value, by}
	}
	return nil
}

// A datastoreRef is a datastore as an affinity names it: its id or name (a datastore
// affinity), or for sure by its id (the datastore a persistent disk is on: its name is
// its name on the disk's host, which another host may give another datastore).
type datastoreRef struct {
	id    string
	names []string
	by    string
}

func (r datastoreRef) is(d model.Datastore) bool {
	if r.id != "" {
		return d.ID == r.id
	}
	return slices.ContainsFunc(r.names, func(n string) bool { return n != "" && (n == d.ID || n == d.Name) })
}

// same reports whether r and o may be one datastore: they share an id or a name.
func (r datastoreRef) same(o datastoreRef) bool {
	return slices.ContainsFunc(r.names, func(n string) bool { return n != "" && slices.Contains(o.names, n) })
}

func ofType(t named) string {
	if t.value == "" {
		return ""
	}
	return " of type " + t.value
}

func invalid(format string, args ...any) *errs.Error {
	return errs.Invalid("affinities: "+format, args...).WithData("field", "affinities")
}
