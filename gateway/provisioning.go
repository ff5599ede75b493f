package gateway

import (
	"context"
	"errors"
	"time"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Host provisioning is a reconciler over records in Redis (store.Provisioning): the
// gateway that registers a host writes the record, leased to itself, with the host and
// its task, and runs the Provisioner while it renews the lease. Every gateway looks for
// records whose lease has ended (their gateway died, or closed and gave them back) and
// takes them over, running the Provisioner again (a Provisioner tolerates a host it
// started already). So a host is never left CREATING with its task STARTED, and every
// gateway sees which hosts are being provisioned.

// lease is this gateway's lease on what it provisions.
func (c *core) lease() store.Lease { return store.Lease{Owner: c.name, For: c.takeover} }

// reconcileProvisioning takes over, until ctx ends, the provisionings no gateway holds.
func (c *core) reconcileProvisioning(ctx context.Context) {
	if c.provisioner == nil {
		return
	}
	t := time.NewTicker(max(c.takeover/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		ids, err := c.store.Provisionings(ctx)
		if err != nil && ctx.Err() == nil {
			c.log.Warn("provisioning: list", "err", err)
		}
		for _, id := range ids {
			// A closing gateway takes on nothing: its Redis calls would still be sent
			// (the batched client does not look at a done context), and a claim now would
			// run the Provisioner once more before the next gateway's turn.
			if ctx.Err() != nil {
				return
			}
			p, ok, err := c.store.ClaimProvisioning(ctx, id, c.lease())
			if err != nil {
				c.log.Warn("provisioning: claim", "host", id, "err", err)
				continue
			}
			if ok {
				c.log.Info("provisioning: taking over", "host", id, "task", p.TaskID)
				c.provision(p)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// provision runs the Provisioner for p in the background while this gateway holds its
// lease, and ends its task: COMPLETED when the hostd registered, ERROR (the host too)
// when it could not. If the gateway closes meanwhile, or loses the lease, it leaves the
// task as it is for the gateway that takes over.
func (c *core) provision(p *store.Provisioning) {
	c.background.Add(1)
	go func() {
		defer c.background.Done()
		ctx, cancel := context.WithCancel(c.bg)
		defer cancel()
		id := p.Host.ID
		// The lease is renewed while the Provisioner runs; lost, the work is abandoned.
		renewed := make(chan struct{})
		go func() {
			defer close(renewed)
			t := time.NewTicker(max(c.takeover/3, 10*time.Millisecond))
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
				if held, err := c.store.RenewProvisioning(ctx, id, c.lease()); err == nil && !held {
					c.log.Warn("provisioning: lease lost to another gateway", "host", id)
					cancel()
					return
				}
			}
		}()
		defer func() { <-renewed }()
		defer cancel()

		task, err := c.store.GetTask(ctx, p.TaskID)
		switch {
		case errors.Is(err, errs.ErrNotFound) || (err == nil && task.Done()):
			c.endProvisioning(ctx, id) // ended before the last gateway could say so
			return
		case err != nil:
			return // the lease runs out and the work is taken over
		}
		// Closing (or the lease lost), before or while the Provisioner runs: the record
		// goes back at once and the next gateway provisions the host again.
		giveBack := func() {
			if err := c.store.ReleaseProvisioning(context.WithoutCancel(ctx), id, c.name); err != nil {
				c.log.Warn("provisioning: give back", "host", id, "err", err)
			}
		}
		if ctx.Err() != nil {
			giveBack()
			return
		}
		c.provisionStep(ctx, p, model.TaskStarted, nil)
		perr := c.provisioner.Provision(ctx, p.Host, HostCredentials{Address: p.Address, Username: p.Username, Password: p.Password})
		if ctx.Err() != nil {
			giveBack()
			return
		}
		if perr == nil {
			c.provisionStep(ctx, p, model.TaskCompleted, nil)
			c.endProvisioning(ctx, id)
			return
		}
		c.log.Error("provision host", "host", id, "address", p.Address, "err", perr)
		e := errs.New(errs.CodeHostError, "provision host %s (%s): %v", id, p.Address, perr)
		_, uerr := c.store.UpdateHost(ctx, id, func(cur *model.Host) error {
			if cur.State != model.HostCreating {
				return store.ErrNoChange
			}
			cur.State, cur.StateReason = model.HostError, "provisioning failed: "+perr.Error()
			return nil
		})
		if uerr != nil && !errors.Is(uerr, errs.ErrNotFound) {
			c.log.Error("provision host: mark ERROR", "host", id, "err", uerr)
			return // the lease runs out and the work is taken over
		}
		c.provisionStep(ctx, p, model.TaskError, e)
		c.endProvisioning(ctx, id)
	}()
}

// provisionStep records the provisioning task's one step as state.
func (c *core) provisionStep(ctx context.Context, p *store.Provisioning, state string, e *errs.Error) {
	_, err := c.store.UpdateTask(context.WithoutCancel(ctx), p.TaskID, func(t *model.Task) error {
		if t.Done() || (t.State == state && len(t.Steps) > 0 && t.Steps[0].State == state) {
			return store.ErrNoChange
		}
		now := c.store.Now()
		t.State = state
		if state == model.TaskStarted {
			t.StartedTime = now
		} else {
			t.EndTime = now
		}
		if len(t.Steps) > 0 {
			st := &t.Steps[0]
			st.State = state
			if state == model.TaskStarted {
				st.StartedTime = now
			} else {
				st.EndTime = now
			}
			if e != nil {
				st.Errors = append(st.Errors, e)
			}
		}
		return nil
	})
	if err != nil {
		c.log.Error("provision host: update task", "host", p.Host.ID, "task", p.TaskID, "err", err)
	}
}

func (c *core) endProvisioning(ctx context.Context, id string) {
	if err := c.store.EndProvisioning(context.WithoutCancel(ctx), id); err != nil {
		c.log.Error("provisioning: end", "host", id, "err", err)
	}
}
