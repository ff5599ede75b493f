// Package finalize is what the end of each chain makes of its entity: a VM becomes ERROR
// after a failed create, a router READY after a completed one, a deleted image's record
// goes. Each chain of events/chain.go names its Finalizer; the runtime calls it after the
// chain's last step (or its last undo step), before the task ends, and again if the task's
// end is replayed, so every finalizer is idempotent.
//
// The states come from package domain (domain.VMEnd, domain.DiskEnd); this package writes
// them to the store.
package finalize

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// A Finalizer applies what the end of chain, completed or failed (with cause), means to
// the entity of task t.
type Finalizer interface {
	Completed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task) error
	Failed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task, cause error) error
}

// update is store.Update where an entity already gone needs nothing more.
func update[T any](ctx context.Context, s *store.Store, kind, id string, fn func(*T) error) error {
	_, err := store.Update(ctx, s, kind, id, fn)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}
