// Package netstate finalizes the router and subnet chains: what a router or subnet record
// becomes when its create or delete chain ends. The runtime calls it after the last step
// (or the last undo step).
package netstate

import (
	"context"
	"errors"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// Finalizers returns the finalizers of the network chains, by chain name.
func Finalizers(s *store.Store) map[string]runtime.Finalizer {
	return map[string]runtime.Finalizer{
		"router.create": ended[store.Router]{s, store.KindRouter, routerState},
		"router.delete": removed[store.Router]{s, store.KindRouter, routerState, s.RemoveRouter},
		"subnet.create": ended[store.Subnet]{s, store.KindSubnet, subnetState},
		"subnet.delete": removed[store.Subnet]{s, store.KindSubnet, subnetState, s.RemoveSubnet},
	}
}

// setState releases the entity from task and sets its state; it reports false when the
// entity is held by another task.
type setState[T any] func(v *T, task, state string) bool

func routerState(r *store.Router, task, state string) bool {
	if r.ActiveTask != task {
		return false
	}
	r.ActiveTask, r.State = "", state
	return true
}

func subnetState(sn *store.Subnet, task, state string) bool {
	if sn.ActiveTask != task {
		return false
	}
	sn.ActiveTask, sn.State = "", state
	return true
}

// ended finalizes a create: READY when it completed, ERROR (holding nothing on NSX: the
// undo chain ran) when it failed, for the user to delete.
type ended[T any] struct {
	s    *store.Store
	kind string
	set  setState[T]
}

func (f ended[T]) Completed(ctx context.Context, t *store.Task) error {
	return finish(ctx, f.s, f.kind, t, f.set, store.NetReady)
}

func (f ended[T]) Failed(ctx context.Context, t *store.Task, _ error) error {
	return finish(ctx, f.s, f.kind, t, f.set, store.NetError)
}

// removed finalizes a delete: the record goes when it completed; it is ERROR when it
// failed, so that the delete can be tried again.
type removed[T any] struct {
	s      *store.Store
	kind   string
	set    setState[T]
	remove func(context.Context, *T) error
}

func (f removed[T]) Completed(ctx context.Context, t *store.Task) error {
	v, err := store.Get[T](ctx, f.s, f.kind, t.Entity.ID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.remove(ctx, v)
}

func (f removed[T]) Failed(ctx context.Context, t *store.Task, _ error) error {
	return finish(ctx, f.s, f.kind, t, f.set, store.NetError)
}

func finish[T any](ctx context.Context, s *store.Store, kind string, t *store.Task, set setState[T], state string) error {
	_, err := store.Update(ctx, s, kind, t.Entity.ID, func(v *T) error {
		if !set(v, t.ID, state) {
			return store.ErrNoChange
		}
		return nil
	})
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	return err
}
