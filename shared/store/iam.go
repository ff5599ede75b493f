package store

import (
	"context"

	"github.com/photon-cloud/photon/shared/model"
)

// ChangePolicy changes the IAM policy of the entity kind/id (a tenant, a project or an
// image) with change, and writes task, atomically. may sees the entity first and refuses
// the change by returning an error. It returns the entity as changed.
func ChangePolicy[T any, PT interface {
	*T
	IAMPolicy() *[]model.PolicyEntry
}](ctx context.Context, s *Store, kind, id string, task *model.Task, may func(*T) error, change func([]model.PolicyEntry) ([]model.PolicyEntry, error)) (*T, error) {
	return StartTask(ctx, s, kind, id, task, func(v *T) error {
		if err := may(v); err != nil {
			return err
		}
		p := PT(v).IAMPolicy()
		next, err := change(*p)
		if err != nil {
			return err
		}
		*p = next
		return nil
	})
}

// ProjectScope reads project id and its tenant, what a decision on anything in the
// project needs; both nil when id is "" (a public image, a port-group subnet).
func (s *Store) ProjectScope(ctx context.Context, id string) (*model.Tenant, *model.Project, error) {
	if id == "" {
		return nil, nil, nil
	}
	p, err := Get[model.Project](ctx, s, model.KindProject, id)
	if err != nil {
		return nil, nil, err
	}
	t, err := Get[model.Tenant](ctx, s, model.KindTenant, p.TenantID)
	if err != nil {
		return nil, nil, err
	}
	return t, p, nil
}
