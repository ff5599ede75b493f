package store

import (
	"context"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/model"
)

// clockSlack is how far apart a host's clock and Photon's may be when a power state read
// on the host is weighed against a task's end.
const clockSlack = 1000 // ms

// reconcilePower brings the records of the VMs host reported in line with the power
// states it read at readAt: a VM that was powered on, off or suspended behind Photon's back
// (on the host's console, by HA, by a crash) gets the state the host has. A VM Photon has
// not placed on host is not the host's to report on, and is left alone. A VM a task
// holds, or one whose last task ended after the read (the read may predate it), is left
// to that task (domain.VMReconciled decides); those are retry, for the host to report
// again, as it reports only what changed since the last report taken. Only VMs whose
// state differs cost more than the one MGET.
func (s *Store) reconcilePower(ctx context.Context, host string, power map[string]string, readAt int64) (retry []string, err error) {
	ids := make([]string, 0, len(power))
	keys := make([]string, 0, len(power))
	for id := range power {
		ids = append(ids, id)
		keys = append(keys, s.entityKey(model.KindVM, id))
	}
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		raw, ok := v.(string)
		if !ok {
			continue // not a Photon VM, or deleted since
		}
		var vm powerView
		if codec.Unmarshal([]byte(raw), &vm) != nil {
			continue
		}
		if vm.HostID != host {
			continue
		}
		if vm.ActiveTask != "" {
			retry = append(retry, vm.ID)
			continue
		}
		want, ok := domain.VMReconciled(vm.State, vm.ActiveTask, power[ids[i]])
		if !ok {
			continue
		}
		last, err := s.lastTaskEnd(ctx, vm.ID)
		if err != nil {
			return retry, err
		}
		if last < 0 || last >= readAt-clockSlack {
			retry = append(retry, vm.ID)
			continue
		}
		if _, _, err := UpdateFrom(ctx, s, model.KindVM, vm.ID, []byte(raw), func(v *model.VM) error {
			if v.HostID != host || v.ActiveTask != "" || v.State != vm.State {
				return ErrNoChange // a task took it meanwhile
			}
			v.State = want
			return nil
		}); err != nil {
			return retry, err
		}
	}
	return retry, nil
}

// powerView is what reconcilePower reads of a VM record: decoding these fields alone
// costs a fraction of decoding the record, and a host's full list of power states has it
// read every VM on the host.
type powerView struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	HostID     string `json:"hostId"`
	ActiveTask string `json:"activeTask"`
}

// lastTaskEnd is when the entity's newest task ended (0 when it has none, -1 while it
// has not ended).
func (s *Store) lastTaskEnd(ctx context.Context, id string) (int64, error) {
	m, err := s.rdb.ZRevRange(ctx, s.key("idx", "tasks", id), 0, 0).Result()
	if err != nil || len(m) == 0 {
		return 0, err
	}
	t, err := s.GetTask(ctx, memberID(m[0]))
	if err != nil {
		return 0, err
	}
	if !t.Done() {
		return -1, nil
	}
	return t.EndTime, nil
}
