package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// Network keys. A router's subnets, a project's routers and subnets and the port-group
// subnets are sorted-set indexes; photon:defaultsubnet:{scope} holds the default subnet's
// id; photon:subnetports:{id} is the subnet's table of addresses (see AllocateIP).
func (s *Store) routersIdx(project string) string        { return s.key("idx", "routers", project) }
func (s *Store) routerSubnetsIdx(router string) string   { return s.key("idx", "routersubnets", router) }
func (s *Store) projectSubnetsIdx(project string) string { return s.key("idx", "subnets", project) }
func (s *Store) portGroupSubnetsIdx() string             { return s.key("idx", "subnets", model.SystemScope) }
func (s *Store) allSubnetsIdx() string                   { return s.key("idx", "allsubnets") }
func (s *Store) defaultSubnetKey(scope string) string    { return s.key("defaultsubnet", scope) }
func (s *Store) vmNetsKey(vm string) string              { return s.key("vmnets", vm) }

// subnetPortsKey is the subnet's address table, one hash with the subnet id as its Redis
// Cluster hash tag.
func (s *Store) subnetPortsKey(subnet string) string { return s.key("subnetports", "{"+subnet+"}") }

// CreateRouter writes the router (CREATING) and its task, if its project exists and no
// other router of the project has its name.
func (s *Store) CreateRouter(ctx context.Context, r *model.Router, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(model.KindProject, r.ProjectID), "Project #"+r.ProjectID).
		Unique(s.name(model.KindRouter, r.ProjectID, r.Name), r.ID, fmt.Sprintf("router name %q", r.Name)).
		Put(s.entityKey(model.KindRouter, r.ID), r).
		Index(s.routersIdx(r.ProjectID), indexMember(r.CreatedAt, r.ID))
	return s.Apply(ctx, s.AddTask(b, task))
}

// RenameRouter gives the router a new name, unique in its project, and writes the
// (completed) task.
func (s *Store) RenameRouter(ctx context.Context, id, name string, task *model.Task) (*model.Router, error) {
	r, err := Get[model.Router](ctx, s, model.KindRouter, id)
	if err != nil {
		return nil, err
	}
	nameKey := s.name(model.KindRouter, r.ProjectID, name)
	err = s.watch(ctx, []string{s.entityKey(model.KindRouter, id), nameKey}, func(tx *redis.Tx) (*Batch, error) {
		if r, err = Get[model.Router](ctx, s, model.KindRouter, id); err != nil {
			return nil, err
		}
		old := r.Name
		r.Name = name
		b := new(Batch).Unique(nameKey, r.ID, fmt.Sprintf("router name %q", name)).
			Put(s.entityKey(model.KindRouter, r.ID), r)
		if old != name {
			b.DelIfOwner(s.name(model.KindRouter, r.ProjectID, old), r.ID)
		}
		return s.AddTask(b, task), nil
	})
	return r, err
}

// StartRouterDelete marks the router DELETING for task, unless it has subnets (StateError)
// or another task holds it (ConcurrentTask). It is atomic with subnet creates on the
// router: a subnet create that races it sees DELETING or makes it retry.
func (s *Store) StartRouterDelete(ctx context.Context, id string, task *model.Task) (*model.Router, error) {
	var out *model.Router
	keys := []string{s.entityKey(model.KindRouter, id), s.routerSubnetsIdx(id)}
	err := s.watch(ctx, keys, func(tx *redis.Tx) (*Batch, error) {
		r, err := Get[model.Router](ctx, s, model.KindRouter, id)
		if err != nil {
			return nil, err
		}
		if r.ActiveTask != "" {
			return nil, errs.New(errs.CodeConcurrentTask, "Router #%s is busy with task %s", r.ID, r.ActiveTask).WithData("task", r.ActiveTask)
		}
		n, err := tx.ZCard(ctx, s.routerSubnetsIdx(id)).Result()
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, errs.New(errs.CodeStateError, "Router #%s still has %d subnets", r.ID, n)
		}
		r.State, r.ActiveTask, out = model.NetDeleting, task.ID, r
		return s.AddTask(new(Batch).Put(keys[0], r), task), nil
	})
	return out, err
}

// RemoveRouter deletes the router's record and frees its name: the delete chain's end.
func (s *Store) RemoveRouter(ctx context.Context, r *model.Router) error {
	b := new(Batch).Del(s.entityKey(model.KindRouter, r.ID)).
		DelIfOwner(s.name(model.KindRouter, r.ProjectID, r.Name), r.ID).
		Unindex(s.routersIdx(r.ProjectID), indexMember(r.CreatedAt, r.ID))
	return s.Apply(ctx, b)
}

// ListRouters pages through a project's routers.
func (s *Store) ListRouters(ctx context.Context, project string, size int, cursor string) (Page[model.Router], error) {
	return List[model.Router](ctx, s, s.routersIdx(project), model.KindRouter, size, cursor)
}

// CreateSubnet writes a subnet on a router (CREATING), its address table and its task. It
// refuses (InvalidEntity) a CIDR outside the router's or overlapping another subnet of the
// router, and a router that is not READY (StateError); the check and the write are one
// transaction on the router and its subnet index.
func (s *Store) CreateSubnet(ctx context.Context, sn *model.Subnet, task *model.Task) error {
	prefix, err := netip.ParsePrefix(sn.PrivateIPCIDR)
	if err != nil {
		return errs.Invalid("privateIpCidr %q: %v", sn.PrivateIPCIDR, err)
	}
	keys := []string{s.entityKey(model.KindRouter, sn.RouterID), s.routerSubnetsIdx(sn.RouterID)}
	return s.watch(ctx, keys, func(tx *redis.Tx) (*Batch, error) {
		r, err := Get[model.Router](ctx, s, model.KindRouter, sn.RouterID)
		if err != nil {
			return nil, err
		}
		if r.State != model.NetReady {
			return nil, errs.New(errs.CodeStateError, "Router #%s is %s", r.ID, r.State)
		}
		if rp, err := netip.ParsePrefix(r.PrivateIPCIDR); err == nil && (rp.Bits() > prefix.Bits() || !rp.Contains(prefix.Addr())) {
			return nil, errs.Invalid("privateIpCidr %s is not inside router %s's %s", sn.PrivateIPCIDR, r.Name, r.PrivateIPCIDR)
		}
		others, err := s.allOf(ctx, s.routerSubnetsIdx(r.ID))
		if err != nil {
			return nil, err
		}
		for _, o := range others {
			if op, err := netip.ParsePrefix(o.PrivateIPCIDR); err == nil && op.Overlaps(prefix) {
				return nil, errs.Invalid("privateIpCidr %s overlaps subnet %s (%s) of router %s", sn.PrivateIPCIDR, o.Name, o.PrivateIPCIDR, r.Name).
					WithData("subnet", o.ID)
			}
		}
		sn.TenantID, sn.ProjectID = r.TenantID, r.ProjectID
		return s.AddTask(s.subnetWrites(sn), task), nil
	})
}

// CreatePortGroupSubnet writes a port-group subnet (READY: there is nothing to make) and
// its completed task.
func (s *Store) CreatePortGroupSubnet(ctx context.Context, sn *model.Subnet, task *model.Task) error {
	return s.Apply(ctx, s.AddTask(s.subnetWrites(sn), task))
}

// subnetWrites writes a new subnet, its indexes and its address table: the first and last
// address it hands out, as integers (a subnet without a CIDR hands out none).
func (s *Store) subnetWrites(sn *model.Subnet) *Batch {
	m := indexMember(sn.CreatedAt, sn.ID)
	b := new(Batch).Put(s.entityKey(model.KindSubnet, sn.ID), sn).Index(s.allSubnetsIdx(), m)
	if sn.RouterID != "" {
		b.Index(s.routerSubnetsIdx(sn.RouterID), m).Index(s.projectSubnetsIdx(sn.ProjectID), m)
	} else {
		b.Index(s.portGroupSubnetsIdx(), m)
	}
	fields := map[string]string{"subnet": sn.ID}
	if first, last, ok := HostRange(sn.PrivateIPCIDR); ok {
		fields["first"], fields["last"] = fmt.Sprint(addrInt(first)), fmt.Sprint(addrInt(last))
	}
	return b.HashSet(s.subnetPortsKey(sn.ID), fields)
}

// RemoveSubnet deletes the subnet's record, indexes and address table, and stops it
// being a default: the delete chain's end.
func (s *Store) RemoveSubnet(ctx context.Context, sn *model.Subnet) error {
	m := indexMember(sn.CreatedAt, sn.ID)
	b := new(Batch).Del(s.entityKey(model.KindSubnet, sn.ID)).Del(s.subnetPortsKey(sn.ID)).
		DelIfOwner(s.defaultSubnetKey(sn.Scope()), sn.ID).Unindex(s.allSubnetsIdx(), m)
	if sn.RouterID != "" {
		b.Unindex(s.routerSubnetsIdx(sn.RouterID), m).Unindex(s.projectSubnetsIdx(sn.ProjectID), m)
	} else {
		b.Unindex(s.portGroupSubnetsIdx(), m)
	}
	return s.Apply(ctx, b)
}

// ListSubnets, ListRouterSubnets, ListProjectSubnets and ListPortGroupSubnets page
// through subnets: all of them, a router's, a project's, the port-group ones.
func (s *Store) ListSubnets(ctx context.Context, size int, cursor string) (Page[model.Subnet], error) {
	return List[model.Subnet](ctx, s, s.allSubnetsIdx(), model.KindSubnet, size, cursor)
}

func (s *Store) ListRouterSubnets(ctx context.Context, router string, size int, cursor string) (Page[model.Subnet], error) {
	return List[model.Subnet](ctx, s, s.routerSubnetsIdx(router), model.KindSubnet, size, cursor)
}

func (s *Store) ListProjectSubnets(ctx context.Context, project string, size int, cursor string) (Page[model.Subnet], error) {
	return List[model.Subnet](ctx, s, s.projectSubnetsIdx(project), model.KindSubnet, size, cursor)
}

func (s *Store) ListPortGroupSubnets(ctx context.Context, size int, cursor string) (Page[model.Subnet], error) {
	return List[model.Subnet](ctx, s, s.portGroupSubnetsIdx(), model.KindSubnet, size, cursor)
}

// allOf reads every subnet of an index.
func (s *Store) allOf(ctx context.Context, idx string) ([]*model.Subnet, error) {
	var out []*model.Subnet
	cursor := ""
	for {
		p, err := List[model.Subnet](ctx, s, idx, model.KindSubnet, MaxPageSize, cursor)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.Next == "" {
			return out, nil
		}
		cursor = p.Next
	}
}

// SetDefaultSubnet makes the subnet the default of its scope (its project, or the system
// for a port-group subnet) and writes the completed task; the subnet must be READY.
func (s *Store) SetDefaultSubnet(ctx context.Context, sn *model.Subnet, task *model.Task) error {
	key := s.entityKey(model.KindSubnet, sn.ID)
	return s.watch(ctx, []string{key}, func(tx *redis.Tx) (*Batch, error) {
		cur, err := Get[model.Subnet](ctx, s, model.KindSubnet, sn.ID)
		if err != nil {
			return nil, err
		}
		if cur.State != model.NetReady {
			return nil, errs.New(errs.CodeStateError, "Subnet #%s is %s", cur.ID, cur.State)
		}
		b := new(Batch)
		b.add("S", s.defaultSubnetKey(cur.Scope()), cur.ID, "")
		return s.AddTask(b, task), nil
	})
}

// DefaultSubnet is the id of the default subnet of scope (a project id or SystemScope), or "".
func (s *Store) DefaultSubnet(ctx context.Context, scope string) (string, error) {
	id, err := s.rdb.Get(ctx, s.defaultSubnetKey(scope)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return id, err
}
