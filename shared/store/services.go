package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/codec"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// A service's keys: its record (<prefix>service:<id>), the project's index of services,
// the index of all services, its sealed secrets (<prefix>servicesecrets:<id>) and its
// nodes' last reports (<prefix>servicereports:<id>, VM id → ms).

func (s *Store) servicesIdx(project string) string  { return s.key("idx", "services", project) }
func (s *Store) allServicesIdx() string             { return s.key("idx", "services") }
func (s *Store) serviceSecretsKey(id string) string { return s.key("servicesecrets", id) }
func (s *Store) serviceReportsKey(id string) string { return s.key("servicereports", id) }
func (s *Store) serviceTypeKey(typ string) string   { return s.key("servicetype", typ) }
func (s *Store) serviceTypesKey() string            { return s.key("servicetypes") }

// CreateService writes the service (CREATING), its first sealed secrets (if any) and its
// task, if its project exists and no other service of the project has its name.
func (s *Store) CreateService(ctx context.Context, svc *model.Service, sealed []byte, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(model.KindProject, svc.ProjectID), "Project #"+svc.ProjectID).
		Unique(s.name(model.KindService, svc.ProjectID, svc.Name), svc.ID, fmt.Sprintf("service name %q", svc.Name)).
		Put(s.entityKey(model.KindService, svc.ID), svc).
		Index(s.servicesIdx(svc.ProjectID), indexMember(svc.CreatedAt, svc.ID)).
		Index(s.allServicesIdx(), indexMember(svc.CreatedAt, svc.ID))
	if len(sealed) > 0 {
		b.add("S", s.serviceSecretsKey(svc.ID), sealed, "")
	}
	return s.Apply(ctx, s.AddTask(b, task))
}

// RemoveService deletes the service's record, its name, its secrets and its nodes'
// reports: the delete chain's end.
func (s *Store) RemoveService(ctx context.Context, svc *model.Service) error {
	b := new(Batch).Del(s.entityKey(model.KindService, svc.ID)).
		DelIfOwner(s.name(model.KindService, svc.ProjectID, svc.Name), svc.ID).
		Unindex(s.servicesIdx(svc.ProjectID), indexMember(svc.CreatedAt, svc.ID)).
		Unindex(s.allServicesIdx(), indexMember(svc.CreatedAt, svc.ID)).
		Del(s.serviceSecretsKey(svc.ID)).Del(s.serviceReportsKey(svc.ID))
	return s.Apply(ctx, b)
}

// ListServices pages through a project's services.
func (s *Store) ListServices(ctx context.Context, projectID string, size int, cursor string) (Page[model.Service], error) {
	return List[model.Service](ctx, s, s.servicesIdx(projectID), model.KindService, size, cursor)
}

// ListAllServices pages through every service.
func (s *Store) ListAllServices(ctx context.Context, size int, cursor string) (Page[model.Service], error) {
	return List[model.Service](ctx, s, s.allServicesIdx(), model.KindService, size, cursor)
}

// CountServices counts every service.
func (s *Store) CountServices(ctx context.Context) (int, error) {
	n, err := s.rdb.ZCard(ctx, s.allServicesIdx()).Result()
	return int(n), err
}

// PutServiceSecrets keeps a service's sealed secrets.
func (s *Store) PutServiceSecrets(ctx context.Context, id string, sealed []byte) error {
	if err := s.rdb.Set(ctx, s.serviceSecretsKey(id), sealed, 0).Err(); err != nil {
		return fmt.Errorf("keep secrets of service %s: %w", id, err)
	}
	return nil
}

// ServiceSecrets reads a service's sealed secrets: NotFound when it has none.
func (s *Store) ServiceSecrets(ctx context.Context, id string) ([]byte, error) {
	b, err := s.rdb.Get(ctx, s.serviceSecretsKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, errs.NotFound("secrets of service", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read secrets of service %s: %w", id, err)
	}
	return b, nil
}

// DeleteServiceSecrets forgets a service's secrets.
func (s *Store) DeleteServiceSecrets(ctx context.Context, id string) error {
	return s.rdb.Del(ctx, s.serviceSecretsKey(id)).Err()
}

// ReportNode records that node vm of service id reported at ms. It reports whether it is
// the node's first report.
func (s *Store) ReportNode(ctx context.Context, id, vm string, at int64) (bool, error) {
	n, err := s.rdb.HSet(ctx, s.serviceReportsKey(id), vm, at).Result()
	if err != nil {
		return false, fmt.Errorf("record report of %s: %w", vm, err)
	}
	return n == 1, nil
}

// NodeReports reads when each node of service id last reported (ms).
func (s *Store) NodeReports(ctx context.Context, id string) (map[string]int64, error) {
	m, err := s.rdb.HGetAll(ctx, s.serviceReportsKey(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("read reports of service %s: %w", id, err)
	}
	out := make(map[string]int64, len(m))
	for vm, v := range m {
		out[vm], _ = strconv.ParseInt(v, 10, 64)
	}
	return out, nil
}

// ForgetNodeReports drops the reports of nodes that are gone.
func (s *Store) ForgetNodeReports(ctx context.Context, id string, vms ...string) error {
	if len(vms) == 0 {
		return nil
	}
	return s.rdb.HDel(ctx, s.serviceReportsKey(id), vms...).Err()
}

// CreateServiceVMs writes node VMs of a service with their create tasks (tasks[i] creates
// vms[i], each task's start with it) in one atomic call. A VM that exists already fails
// the whole call with NameTaken: its batch was written before (a replayed step).
func (s *Store) CreateServiceVMs(ctx context.Context, vms []*model.VM, tasks []*model.Task) error {
	if len(vms) == 0 {
		return nil
	}
	b := new(Batch).Require(s.entityKey(model.KindProject, vms[0].ProjectID), "Project #"+vms[0].ProjectID)
	for i, vm := range vms {
		b.Absent(s.entityKey(model.KindVM, vm.ID), "VM #"+vm.ID).
			Put(s.entityKey(model.KindVM, vm.ID), vm).Index(s.vmsIdx(vm.ProjectID), indexMember(vm.CreatedAt, vm.ID))
		s.useFlavors(b, vm.ID, vmFlavors(vm)...)
		s.AddTask(b, tasks[i])
	}
	return s.Apply(ctx, b)
}

// PutServiceType enables a service type with its image.
func (s *Store) PutServiceType(ctx context.Context, t model.ServiceType) error {
	p := s.rdb.TxPipeline()
	p.Set(ctx, s.serviceTypeKey(t.Type), t.ImageID, 0)
	p.SAdd(ctx, s.serviceTypesKey(), t.Type)
	_, err := p.Exec(ctx)
	return err
}

// DeleteServiceType disables a service type.
func (s *Store) DeleteServiceType(ctx context.Context, typ string) error {
	p := s.rdb.TxPipeline()
	p.Del(ctx, s.serviceTypeKey(typ))
	p.SRem(ctx, s.serviceTypesKey(), typ)
	_, err := p.Exec(ctx)
	return err
}

// ServiceType reads an enabled type: NotFound when it is not enabled.
func (s *Store) ServiceType(ctx context.Context, typ string) (*model.ServiceType, error) {
	img, err := s.rdb.Get(ctx, s.serviceTypeKey(typ)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, errs.NotFound("service type", typ)
	}
	if err != nil {
		return nil, err
	}
	return &model.ServiceType{Type: typ, ImageID: img}, nil
}

// ServiceTypes lists the enabled types.
func (s *Store) ServiceTypes(ctx context.Context) ([]model.ServiceType, error) {
	types, err := s.rdb.SMembers(ctx, s.serviceTypesKey()).Result()
	if err != nil {
		return nil, err
	}
	var out []model.ServiceType
	for _, typ := range types {
		t, err := s.ServiceType(ctx, typ)
		if errors.Is(err, errs.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, nil
}

var claimIP = redis.NewScript(`
local k, owner, n = KEYS[1], ARGV[1], ARGV[2]
if redis.call('EXISTS', k) == 0 then return 'gone' end
local have = redis.call('HGET', k, 'o:' .. owner)
if have == n then return 'ok' end
if have then return 'other' end
if redis.call('HEXISTS', k, 'closed') == 1 then return 'closed' end
local first, last = tonumber(redis.call('HGET', k, 'first')), tonumber(redis.call('HGET', k, 'last'))
if not first or tonumber(n) < first or tonumber(n) > last then return 'outside' end
if redis.call('HSETNX', k, 'a:' .. n, owner) == 0 then return 'taken' end
redis.call('HSET', k, 'o:' .. owner, n)
redis.call('HINCRBY', k, 'count', 1)
return 'ok'
`)

// ClaimIP gives owner the address ip on the subnet, if it is free and in the subnet's
// range; claiming what owner holds already changes nothing. A taken address is
// StateError, one outside the range InvalidEntity.
func (s *Store) ClaimIP(ctx context.Context, subnet, owner, ip string) error {
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return errs.Invalid("%q is not an IPv4 address", ip)
	}
	res, err := claimIP.Run(ctx, s.rdb, []string{s.subnetPortsKey(subnet)}, owner, strconv.FormatUint(uint64(addrInt(a)), 10)).Text()
	if err != nil {
		return fmt.Errorf("claim %s on subnet %s: %w", ip, subnet, err)
	}
	switch res {
	case "ok":
		return nil
	case "gone":
		return errs.NotFound("Subnet", subnet)
	case "closed":
		return errs.New(errs.CodeStateError, "Subnet #%s is being deleted", subnet)
	case "outside":
		return errs.Invalid("%s is not an address of subnet #%s", ip, subnet)
	case "other":
		return errs.New(errs.CodeStateError, "%s holds another address of subnet #%s", owner, subnet)
	}
	return errs.New(errs.CodeStateError, "%s is taken on subnet #%s", ip, subnet).WithData("subnet", subnet)
}

// CostOf reads the cost a task carries (PropCost): a service resize's new cost.
func CostOf(t *model.Task) ([]model.QuotaLineItem, error) {
	var cost []model.QuotaLineItem
	if err := codec.Unmarshal([]byte(t.Properties[model.PropCost]), &cost); err != nil {
		return nil, errs.Invalid("task %s carries no cost: %v", t.ID, err)
	}
	return cost, nil
}
