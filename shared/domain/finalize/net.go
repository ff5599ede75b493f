package finalize

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Router and Subnet end the router and subnet chains. A create leaves the entity READY
// when it completed, ERROR (holding nothing on NSX: the undo chain ran) when it failed,
// for the user to delete; a completed delete removes the record, a failed one leaves it
// ERROR so that the delete can be tried again.
var (
	Router Finalizer = network[model.Router]{model.KindRouter, routerState, (*store.Store).RemoveRouter}
	Subnet Finalizer = network[model.Subnet]{model.KindSubnet, subnetState, (*store.Store).RemoveSubnet}
)

type network[T any] struct {
	kind   string
	set    setState[T]
	remove func(*store.Store, context.Context, *T) error
}

// setState releases the entity from task and sets its state; it reports false when the
// entity is held by another task.
type setState[T any] func(v *T, task, state string) bool

func routerState(r *model.Router, task, state string) bool {
	if r.ActiveTask != task {
		return false
	}
	r.ActiveTask, r.State = "", state
	return true
}

func subnetState(sn *model.Subnet, task, state string) bool {
	if sn.ActiveTask != task {
		return false
	}
	sn.ActiveTask, sn.State = "", state
	return true
}

func (f network[T]) Completed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task) error {
	if chain == domain.RouterDelete || chain == domain.SubnetDelete {
		v, err := store.Get[T](ctx, s, f.kind, t.Entity.ID)
		if errors.Is(err, errs.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return f.remove(s, ctx, v)
	}
	return f.finish(ctx, s, t, model.NetReady)
}

func (f network[T]) Failed(ctx context.Context, s *store.Store, _ domain.ChainID, t *model.Task, _ error) error {
	return f.finish(ctx, s, t, model.NetError)
}

// finish releases the entity from t and sets its state, unless another task holds it.
func (f network[T]) finish(ctx context.Context, s *store.Store, t *model.Task, state string) error {
	return update(ctx, s, f.kind, t.Entity.ID, func(v *T) error {
		if !f.set(v, t.ID, state) {
			return store.ErrNoChange
		}
		return nil
	})
}
