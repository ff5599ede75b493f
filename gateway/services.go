package gateway

import (
	"context"
	"log/slog"

	"github.com/google/uuid"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/tracing"
)

// core is what every service shares.
type core struct {
	store  *store.Store
	broker events.Broker
	log    *slog.Logger
}

func newID() string { return uuid.NewString() }

// caller is the authenticated principal of the request as the store records it.
func caller(ctx context.Context) store.Caller {
	p, _ := auth.FromContext(ctx)
	return store.Caller{Subject: p.Subject, Groups: p.Groups}
}

func requireSystemAdmin(ctx context.Context) error {
	if c := caller(ctx); !policy.IsSystemAdmin(c) {
		return errs.New(errs.CodeAccessForbidden, "%s is not a system administrator", c.Subject)
	}
	return nil
}

// projectFor reads a project and its tenant if the caller may use it; otherwise the
// project does not exist as far as the caller can tell.
func (c *core) projectFor(ctx context.Context, id string) (*store.Project, *store.Tenant, error) {
	p, err := store.Get[store.Project](ctx, c.store, store.KindProject, id)
	if err != nil {
		return nil, nil, err
	}
	t, err := store.Get[store.Tenant](ctx, c.store, store.KindTenant, p.TenantID)
	if err != nil {
		return nil, nil, err
	}
	if !policy.MayUseProject(caller(ctx), t, p) {
		return nil, nil, errs.NotFound("Project", id)
	}
	return p, t, nil
}

// startChain publishes the event that starts chain for task. If the event cannot be
// published the task fails at once rather than waiting forever.
func (c *core) startChain(ctx context.Context, chain *events.Chain, task *store.Task, tenantID string) error {
	e := events.New("photon/gateway", chain.StartType(), tenantID, events.StepData{TaskID: task.ID, EntityID: task.Entity.ID})
	tracing.Inject(ctx, &e)
	if err := c.broker.Publish(ctx, e); err != nil {
		c.log.Error("start chain", "task", task.ID, "err", err)
		_, _ = c.store.UpdateTask(context.WithoutCancel(ctx), task.ID, func(t *store.Task) error {
			t.State, t.EndTime = store.TaskError, c.store.Now()
			return nil
		})
		return errs.New(errs.CodeUnavailable, "could not start %s: %v", chain.Operation, err)
	}
	return nil
}
