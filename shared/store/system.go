package store

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// System states: a PAUSED system refuses every mutation through the API (reads, and the
// chains already running, go on); BACKGROUND_PAUSED stops only background work.
const (
	SystemReady            = "READY"
	SystemPaused           = "PAUSED"
	SystemBackgroundPaused = "BACKGROUND_PAUSED"
)

func (s *Store) systemStateKey() string { return s.key("system", "state") }

// SystemState is the system's state, READY unless it was set.
func (s *Store) SystemState(ctx context.Context) (string, error) {
	v, err := s.rdb.Get(ctx, s.systemStateKey()).Result()
	if errors.Is(err, redis.Nil) {
		return SystemReady, nil
	}
	return v, err
}

// SetSystemState sets the system's state and answers the one it had.
func (s *Store) SetSystemState(ctx context.Context, state string) (string, error) {
	old, err := s.rdb.SetArgs(ctx, s.systemStateKey(), state, redis.SetArgs{Get: true}).Result()
	if errors.Is(err, redis.Nil) {
		return SystemReady, nil
	}
	return old, err
}

// Usage counts what the cloud holds.
type Usage struct {
	Tenants, Projects, VMs, Hosts, Datastores, Services int
}

// Usage counts tenants, projects, VMs, services, hosts and datastores (each datastore id once, however
// many hosts mount it). It reads every tenant's and project's index size, pipelined.
func (s *Store) Usage(ctx context.Context) (Usage, error) {
	var u Usage
	tenants, err := s.rdb.ZRange(ctx, s.tenantsIdx(), 0, -1).Result()
	if err != nil {
		return u, err
	}
	u.Tenants = len(tenants)
	if u.Services, err = s.CountServices(ctx); err != nil {
		return u, err
	}
	var projects []string
	for _, t := range tenants {
		ps, err := s.rdb.ZRange(ctx, s.projectsIdx(memberID(t)), 0, -1).Result()
		if err != nil {
			return u, err
		}
		for _, p := range ps {
			projects = append(projects, memberID(p))
		}
	}
	u.Projects = len(projects)
	pipe := s.rdb.Pipeline()
	counts := make([]*redis.IntCmd, len(projects))
	for i, p := range projects {
		counts[i] = pipe.ZCard(ctx, s.vmsIdx(p))
	}
	if len(projects) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return u, err
		}
	}
	for _, c := range counts {
		u.VMs += int(c.Val())
	}
	hosts, err := s.ListHosts(ctx)
	if err != nil {
		return u, err
	}
	u.Hosts = len(hosts)
	seen := map[string]bool{}
	for _, h := range hosts {
		for _, d := range h.Datastores {
			id := d.ID
			if id == "" {
				id = d.Name
			}
			seen[id] = true
		}
	}
	u.Datastores = len(seen)
	return u, nil
}
