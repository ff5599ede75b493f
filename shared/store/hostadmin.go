package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/model"
)

// What the API keeps of a host an administrator registered (POST /v1/infrastructure/hosts),
// beside the host record that hostd owns:
//   - photon:hostreg:{id}: the HostRegistration (JSON), never a password;
//   - photon:name:host::{address}: the id registered at an address (addresses are unique).
func (s *Store) hostRegKey(id string) string           { return s.key("hostreg", id) }
func (s *Store) hostAddressName(address string) string { return s.name(model.KindHost, "", address) }

// HostRegistration is what an administrator gave when registering a host: the ESXi
// host's address and the user hostd logs in as. The password is handed to the
// provisioner and kept only while the host is provisioned (Provisioning).
type HostRegistration struct {
	ID        string `json:"id"`
	Address   string `json:"address"`
	Username  string `json:"username"`
	CreatedAt int64  `json:"createdAt"`
}

// CreateHost registers a host: the registration and its task in one atomic call (failing
// with NameTaken when another host holds the address), then the host record h (state
// HostCreating as a rule) through PutHost, which publishes it to placement indexes. If
// the record cannot be written the registration is taken back and the task fails.
func (s *Store) CreateHost(ctx context.Context, h *model.Host, reg *HostRegistration, task *model.Task) error {
	return s.CreateProvisionedHost(ctx, h, reg, task, nil, Lease{})
}

// CreateProvisionedHost is CreateHost that also records p, the host's provisioning,
// leased to l, in the call that writes the registration and the task (see Provisioning).
func (s *Store) CreateProvisionedHost(ctx context.Context, h *model.Host, reg *HostRegistration, task *model.Task, p *Provisioning, l Lease) error {
	b := new(Batch).Unique(s.hostAddressName(reg.Address), reg.ID, fmt.Sprintf("host address %q", reg.Address)).
		Put(s.hostRegKey(reg.ID), reg)
	if p != nil {
		s.addProvisioning(b, p, l)
	}
	if err := s.Apply(ctx, s.AddTask(b, task)); err != nil {
		return err
	}
	if err := s.PutHost(ctx, h); err != nil {
		ctx := context.WithoutCancel(ctx)
		_ = s.Apply(ctx, new(Batch).Del(s.hostRegKey(reg.ID)).DelIfOwner(s.hostAddressName(reg.Address), reg.ID).
			Del(s.provisionKey(reg.ID)).Unindex(s.provisioningIdx(), reg.ID))
		_, _ = s.UpdateTask(ctx, task.ID, func(t *model.Task) error { t.State = model.TaskError; return nil })
		return err
	}
	return nil
}

// RemoveHost deletes a host's record, counters and index entries (DeleteHost), then its
// registration, and writes the delete task. The caller checks that the host may go.
func (s *Store) RemoveHost(ctx context.Context, id string, task *model.Task) error {
	reg, err := s.HostRegistrations(ctx, id)
	if err != nil {
		return err
	}
	if err := s.DeleteHost(ctx, id); err != nil {
		return fmt.Errorf("delete host %s: %w", id, err)
	}
	b := new(Batch).Del(s.hostRegKey(id))
	if reg[0] != nil {
		b.DelIfOwner(s.hostAddressName(reg[0].Address), id)
	}
	return s.Apply(ctx, s.AddTask(b, task))
}

// HostRegistrations reads the registrations of ids in one round trip; out[i] is nil for a
// host that registered itself (a hostd started with its own id).
func (s *Store) HostRegistrations(ctx context.Context, ids ...string) ([]*HostRegistration, error) {
	out := make([]*HostRegistration, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.hostRegKey(id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("read host registrations: %w", err)
	}
	for i, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		r := new(HostRegistration)
		if err := codec.Unmarshal([]byte(str), r); err != nil {
			return nil, fmt.Errorf("decode host registration %s: %w", ids[i], err)
		}
		out[i] = r
	}
	return out, nil
}

// ListHostsPage pages through hosts in id order, with what their heartbeats measured.
func (s *Store) ListHostsPage(ctx context.Context, size int, cursor string) (Page[model.Host], error) {
	p, err := List[model.Host](ctx, s, s.hostsIdx(), model.KindHost, size, cursor)
	if err != nil {
		return p, err
	}
	return p, s.mergeLive(ctx, p.Items...)
}

// VMsOnHost reads the VMs whose record names hostID as their host: those of the host's
// placed index (its reservations), in one read of the index and reads of 500 records at
// a time, whatever the size of the fleet.
func (s *Store) VMsOnHost(ctx context.Context, hostID string) ([]*model.VM, error) {
	return placedOn(ctx, s, hostID, model.KindVM, func(vm *model.VM) bool { return vm.HostID == hostID })
}

// DisksOnHost reads the persistent disks whose record names hostID as their host, as
// VMsOnHost reads VMs.
func (s *Store) DisksOnHost(ctx context.Context, hostID string) ([]*model.PersistentDisk, error) {
	return placedOn(ctx, s, hostID, model.KindDisk, func(d *model.PersistentDisk) bool { return d.HostID == hostID })
}

// placedOn reads the records of kind named in host's placed index that keep accepts. The
// index holds VMs and disks alike; the ids of the other kind read as missing records.
func placedOn[T any](ctx context.Context, s *Store, host, kind string, keep func(*T) bool) ([]*T, error) {
	ids, err := s.rdb.SMembers(ctx, s.placedIdx(host)).Result()
	if err != nil {
		return nil, fmt.Errorf("read what is placed on host %s: %w", host, err)
	}
	slices.Sort(ids)
	var out []*T
	for chunk := range slices.Chunk(ids, 500) {
		recs, err := getMany[T](ctx, s, kind, chunk)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if keep(r) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// getMany reads the records of kind named by ids in one round trip; missing ones are
// left out.
func getMany[T any](ctx context.Context, s *Store, kind string, ids []string) ([]*T, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.entityKey(kind, id)
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("read %ss: %w", kind, err)
	}
	out := make([]*T, 0, len(vals))
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue // deleted meanwhile
		}
		r := new(T)
		if err := codec.Unmarshal([]byte(str), r); err != nil {
			return nil, fmt.Errorf("decode %s: %w", kind, err)
		}
		out = append(out, r)
	}
	return out, nil
}
