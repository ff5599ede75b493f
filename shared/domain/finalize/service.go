package finalize

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Service ends the service chains with what domain.ServiceEnd says: the service is
// released from the task; a failure's reason is its errorReason; a completed resize
// records the new worker count and cost, a completed change_version the new image; a
// completed delete removes the record with its secrets and reports.
type Service struct{}

// Completed implements Finalizer.
func (Service) Completed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task) error {
	end := domain.ServiceEnd(chain, true)
	if end.Remove {
		svc, err := store.Get[model.Service](ctx, s, model.KindService, t.Entity.ID)
		if errors.Is(err, errs.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return s.RemoveService(ctx, svc)
	}
	return update(ctx, s, model.KindService, t.Entity.ID, func(svc *model.Service) error {
		if svc.ActiveTask != t.ID {
			return store.ErrNoChange
		}
		switch chain {
		case domain.ServiceResize:
			n, err := strconv.Atoi(t.Properties[model.PropWorkerCount])
			if err != nil {
				return fmt.Errorf("resize task %s carries no worker count: %w", t.ID, err)
			}
			cost, err := store.CostOf(t)
			if err != nil {
				return err
			}
			svc.WorkerCount, svc.Cost = n, cost
		case domain.ServiceChangeVersion:
			svc.ImageID = t.Properties[model.PropImageID]
			if svc.UpgradeStatus != nil {
				svc.UpgradeStatus.Result = "upgraded"
			}
		}
		svc.ActiveTask, svc.State, svc.ErrorReason, svc.Plan = "", end.State, "", ""
		return nil
	})
}

// Failed implements Finalizer.
func (Service) Failed(ctx context.Context, s *store.Store, chain domain.ChainID, t *model.Task, cause error) error {
	end := domain.ServiceEnd(chain, false)
	return update(ctx, s, model.KindService, t.Entity.ID, func(svc *model.Service) error {
		if svc.ActiveTask != t.ID {
			return store.ErrNoChange
		}
		svc.ActiveTask, svc.State, svc.Plan = "", end.State, ""
		svc.ErrorReason = reason(cause)
		return nil
	})
}

// reason is a failure's errorReason: the failing step and what it said.
func reason(cause error) string {
	var e *errs.Error
	if !errors.As(cause, &e) || e == nil {
		if cause == nil {
			return "failed"
		}
		return cause.Error()
	}
	if step := e.Data["step"]; step != "" {
		return step + ": " + e.Message
	}
	return e.Message
}
