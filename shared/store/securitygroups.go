package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/model"
)

// Security groups are names of groups of the identity provider (e.g. "acme\\admins").
// A tenant's and a project's own groups live in their records; the system's (the groups
// of system administrators besides the built-in one) in one key, photon:system:securitygroups.
func (s *Store) systemGroupsKey() string { return s.key("system", "securitygroups") }

// KindDeployment is the kind of the entity the system's security-group tasks act on, as
// Photon named the whole installation.
const KindDeployment = "deployment"

// DeploymentID is the id of the one deployment.
const DeploymentID = "default"

// CleanGroups trims names, drops empty ones and repeats, and keeps the given order.
func CleanGroups(in []string) []string {
	out := make([]string, 0, len(in))
	for _, g := range in {
		if g = strings.TrimSpace(g); g != "" && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out
}

// SystemSecurityGroups reads the security groups of system administrators that were set
// (not the built-in one).
func (s *Store) SystemSecurityGroups(ctx context.Context) ([]string, error) {
	b, err := s.rdb.Get(ctx, s.systemGroupsKey()).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read system security groups: %w", err)
	}
	var groups []string
	if err := codec.Unmarshal(b, &groups); err != nil {
		return nil, fmt.Errorf("decode system security groups: %w", err)
	}
	return groups, nil
}

// SetSystemSecurityGroups replaces the system's security groups and writes task, atomically.
func (s *Store) SetSystemSecurityGroups(ctx context.Context, groups []string, task *model.Task) error {
	return s.Apply(ctx, s.AddTask(new(Batch).Put(s.systemGroupsKey(), CleanGroups(groups)), task))
}

// SetTenantSecurityGroups replaces the tenant's own security groups and writes task,
// atomically. It returns the tenant as changed.
func (s *Store) SetTenantSecurityGroups(ctx context.Context, id string, groups []string, task *model.Task) (*model.Tenant, error) {
	return StartTask(ctx, s, model.KindTenant, id, task, func(t *model.Tenant) error {
		t.SecurityGroups = CleanGroups(groups)
		return nil
	})
}

// SetProjectSecurityGroups replaces the project's own security groups and writes task,
// atomically. It returns the project as changed.
func (s *Store) SetProjectSecurityGroups(ctx context.Context, id string, groups []string, task *model.Task) (*model.Project, error) {
	return StartTask(ctx, s, model.KindProject, id, task, func(p *model.Project) error {
		p.SecurityGroups = CleanGroups(groups)
		return nil
	})
}
