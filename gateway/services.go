package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// core is what every service shares.
type core struct {
	store       *store.Store
	broker      events.Broker
	log         *slog.Logger
	admission   store.Admission
	provisioner Provisioner
	limits      RateLimits
	// bg is the context of work that outlives a request (host provisioning), canceled by
	// stop when the server closes; background counts that work.
	bg         context.Context
	stop       context.CancelFunc
	background sync.WaitGroup
	// name is this gateway's among those sharing the store: it holds leases (host
	// provisioning) and reads the starts stream under it. takeover is how long what it
	// holds may go without a sign of life before another gateway takes it over.
	name     string
	takeover time.Duration
	// settings are the system's pause state and administrators' groups, read at most
	// once a second.
	settings systemCache
}

func newID() string { return uuid.NewString() }

// caller is the authenticated principal of the request as the store records it.
func caller(ctx context.Context) model.Caller {
	p, _ := auth.FromContext(ctx)
	return model.Caller{Subject: p.Subject, Groups: p.Groups}
}

func requireSystemAdmin(ctx context.Context) error {
	if c := caller(ctx); !policy.IsSystemAdmin(c) {
		return errs.New(errs.CodeAccessForbidden, "%s is not a system administrator", c.Subject)
	}
	return nil
}

// projectFor reads a project and its tenant if the caller has the role the method of ctx
// needs on it (see need): a viewer reads, a contributor changes. A caller with no role
// on it is told it does not exist; a viewer asking to change it is AccessForbidden.
func (c *core) projectFor(ctx context.Context, id string) (*model.Project, *model.Tenant, error) {
	return c.projectAs(ctx, id, need(ctx))
}

// projectAs reads a project and its tenant if the caller has role want on it.
func (c *core) projectAs(ctx context.Context, id string, want policy.Role) (*model.Project, *model.Tenant, error) {
	if id == "" {
		return nil, nil, errs.NotFound("Project", id)
	}
	t, p, err := c.store.ProjectScope(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if err := allowAs(ctx, policy.ProjectRole(caller(ctx), t, p), want, "Project", id); err != nil {
		return nil, nil, err
	}
	if err := c.limitTenant(ctx, t.ID); err != nil {
		return nil, nil, err
	}
	return p, t, nil
}

// admit admits the chains of tasks for tenant, or answers TooManyRequests with a retry
// hint (Retry-After over REST, RetryInfo over gRPC) when the cloud or the tenant's fair
// share of it is full.
func (c *core) admit(ctx context.Context, tenantID string, tasks ...string) error {
	r, err := c.store.Admit(ctx, c.admission, tenantID, tasks...)
	if err != nil {
		return err
	}
	if !r.OK {
		admissionRefused(ctx, r.InFlight+len(tasks) > c.admission.Limit)
		return errs.TooMany(r.RetryAfter, "Photon is busy: %d operations in flight (at most %d), this tenant holds %d of its share of %d; "+
			"retry in %s", r.InFlight, c.admission.Limit, r.Tenant, r.Share, r.RetryAfter)
	}
	return nil
}

// startChain starts chain for tasks written earlier without their start (an ISO attach,
// whose task holds the VM while the ISO uploads): their start events are appended to the
// starts stream in one write, for the relay to publish. If that write fails the tasks
// fail at once, their entities released, rather than waiting forever.
func (c *core) startChain(ctx context.Context, chain *events.Chain, tenantID string, tasks ...*model.Task) error {
	withStart(ctx, chain, tenantID, tasks...)
	if err := c.store.AppendStarts(ctx, tasks...); err != nil {
		c.log.Error("start chain", "tasks", len(tasks), "err", err)
		cause := errs.New(errs.CodeUnavailable, "could not start %s: %v", chain.Operation, err)
		for _, task := range tasks {
			if ferr := c.store.FailStart(context.WithoutCancel(ctx), task.ID, cause); ferr != nil {
				c.log.Error("start chain: fail task", "task", task.ID, "err", ferr)
			}
		}
		return cause
	}
	return nil
}

// startOn starts chain on one existing entity (kind/id, of tenant and project): it makes
// the task (with properties props) and lets hold check and take the entity, the entity
// and the task written in one atomic call (see begin).
func startOn[T any](ctx context.Context, c *core, chain *events.Chain, kind, id, tenantID, projectID string,
	props map[string]string, hold func(*T, *model.Task) error) (*pb.Task, error) {
	task := c.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: id, Kind: kind}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID, task.Properties = tenantID, projectID, props
	return c.begin(ctx, chain, task, func() error {
		_, err := store.StartTask(ctx, c.store, kind, id, task, func(v *T) error { return hold(v, task) })
		return err
	})
}

// begin admits task and lets write record it with whatever it holds and with the
// chain's start event (Task.StartEvent), all in one atomic call: the relay publishes the
// start, so a task is never written without its chain starting. Whatever refuses gives
// the admission back; write writes all or nothing.
func (c *core) begin(ctx context.Context, chain *events.Chain, task *model.Task, write func() error) (*pb.Task, error) {
	if err := c.admit(ctx, task.TenantID, task.ID); err != nil {
		return nil, err
	}
	withStart(ctx, chain, task.TenantID, task)
	if err := write(); err != nil {
		c.store.Release(context.WithoutCancel(ctx), task.TenantID, task.ID)
		return nil, err
	}
	return taskPB(task), nil
}
