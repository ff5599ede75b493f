package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"strings"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Network operations that answer a completed task at once, as Photon names them.
const (
	OpUpdateRouter     = "UPDATE_ROUTER"
	OpUpdateSubnet     = "UPDATE_SUBNET"
	OpSetDefaultSubnet = "SET_DEFAULT_SUBNET"
	OpGetNetworks      = "GET_NETWORKS"
)

// routingRouted is the routing type of the SDK's networks that routers are: a network of
// the SDK (/v1/projects/{id}/networks, /v1/networks/{id}) is a router, its subnets the
// router's.
const routingRouted = "ROUTED"

// DefaultRouterPrivateCIDR is the address space of a router (a network) created without
// one, as Photon's CLI defaults a project's router: routers are apart from each other, so
// theirs may overlap.
const DefaultRouterPrivateCIDR = "192.168.0.0/16"

// networks serves routers and subnets. Routers and their subnets belong to a project and
// its users manage them; port-group subnets serve every project and system administrators
// manage them. The NSX work is done by the chains (events.RouterCreate, ...), never here.
type networks struct {
	pb.UnimplementedNetworksServer
	*core
}

// router reads a router the caller may see, with its project's tenant id.
func (s *networks) router(ctx context.Context, id string) (*model.Router, error) {
	r, err := store.Get[model.Router](ctx, s.store, model.KindRouter, id)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.projectFor(ctx, r.ProjectID); err != nil {
		return nil, errs.NotFound("Router", id)
	}
	return r, nil
}

// subnet reads a subnet the caller may see; manage asks for the right to change it too
// (port-group subnets: system administrators).
func (s *networks) subnet(ctx context.Context, id string, manage bool) (*model.Subnet, error) {
	sn, err := store.Get[model.Subnet](ctx, s.store, model.KindSubnet, id)
	if err != nil {
		return nil, err
	}
	if sn.ProjectID == "" {
		if manage {
			if err := requireSystemAdmin(ctx); err != nil {
				return nil, err
			}
		}
		return sn, nil
	}
	if _, _, err := s.projectFor(ctx, sn.ProjectID); err != nil {
		return nil, errs.NotFound("Subnet", id)
	}
	return sn, nil
}

func (s *networks) CreateRouter(ctx context.Context, req *pb.CreateRouterRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createRouter(ctx, req) })
}

func (s *networks) createRouter(ctx context.Context, req *pb.CreateRouterRequest) (*pb.Task, error) {
	p, t, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	spec := req.GetSpec()
	name := strings.TrimSpace(spec.GetName())
	if name == "" {
		return nil, errs.Invalid("name is required")
	}
	if rt := spec.GetRoutingType(); rt != "" && !strings.EqualFold(rt, routingRouted) {
		return nil, errs.Invalid("routingType %q: a network is a router, so it is %s", rt, routingRouted)
	}
	private := spec.GetPrivateIpCidr()
	if private == "" {
		private = DefaultRouterPrivateCIDR // the SDK's network create names none
	}
	network, err := domain.Network("privateIpCidr", private, domain.MinRouterBits, domain.MaxSubnetBits)
	if err != nil {
		return nil, err
	}
	chain := &events.RouterCreate
	r := &model.Router{ID: newID(), Name: name, TenantID: t.ID, ProjectID: p.ID, PrivateIPCIDR: network,
		Description: spec.GetDescription(), State: model.NetCreating, CreatedAt: s.store.Now()}
	task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: r.ID, Kind: model.KindRouter}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID, r.ActiveTask = t.ID, p.ID, task.ID
	return s.begin(ctx, chain, task, func() error { return s.store.CreateRouter(ctx, r, task) })
}

func (s *networks) ListRouters(ctx context.Context, req *pb.ListRoutersRequest) (*pb.RouterList, error) {
	p, _, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	page, err := s.store.ListRouters(ctx, p.ID, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.RouterList{NextPageLink: pageLink("/v1/projects/"+p.ID+"/routers", req.GetPageSize(), page.Next)}
	for _, r := range page.Items {
		if req.GetName() == "" || r.Name == req.GetName() {
			out.Items = append(out.Items, routerPB(r))
		}
	}
	return out, nil
}

func (s *networks) GetRouter(ctx context.Context, req *pb.IdRequest) (*pb.Router, error) {
	r, err := s.router(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return routerPB(r), nil
}

func (s *networks) UpdateRouter(ctx context.Context, req *pb.UpdateRouterRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		r, err := s.router(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		name := strings.TrimSpace(req.GetSpec().GetName())
		if name == "" {
			return nil, errs.Invalid("name is required")
		}
		task := s.store.NewTask(taskID(ctx), OpUpdateRouter, model.Entity{ID: r.ID, Kind: model.KindRouter}, caller(ctx), nil)
		task.TenantID, task.ProjectID = r.TenantID, r.ProjectID
		if _, err := s.store.RenameRouter(ctx, r.ID, name, task); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

func (s *networks) DeleteRouter(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		r, err := s.router(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		chain := &events.RouterDelete
		task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: r.ID, Kind: model.KindRouter}, caller(ctx), operations(chain))
		task.TenantID, task.ProjectID = r.TenantID, r.ProjectID
		return s.begin(ctx, chain, task, func() error {
			_, err := s.store.StartRouterDelete(ctx, r.ID, task)
			return err
		})
	})
}

func (s *networks) ListRouterTasks(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.TaskList, error) {
	r, err := s.router(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, r.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/routers/"+r.ID+"/tasks")
}

func (s *networks) CreateSubnet(ctx context.Context, req *pb.CreateSubnetRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createSubnet(ctx, req) })
}

func (s *networks) createSubnet(ctx context.Context, req *pb.CreateSubnetRequest) (*pb.Task, error) {
	r, err := s.router(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	spec := req.GetSpec()
	name := strings.TrimSpace(spec.GetName())
	if name == "" {
		return nil, errs.Invalid("name is required")
	}
	network, err := domain.Network("privateIpCidr", spec.GetPrivateIpCidr(), domain.MinSubnetBits, domain.MaxSubnetBits)
	if err != nil {
		return nil, err
	}
	chain := &events.SubnetCreate
	sn := &model.Subnet{ID: newID(), Name: name, Description: spec.GetDescription(), RouterID: r.ID,
		PrivateIPCIDR: network, Type: spec.GetType(), State: model.NetCreating, CreatedAt: s.store.Now()}
	task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: sn.ID, Kind: model.KindSubnet}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID, sn.ActiveTask = r.TenantID, r.ProjectID, task.ID
	return s.begin(ctx, chain, task, func() error { return s.store.CreateSubnet(ctx, sn, task) })
}

func (s *networks) ListRouterSubnets(ctx context.Context, req *pb.ListRouterSubnetsRequest) (*pb.SubnetList, error) {
	r, err := s.router(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	page, err := s.store.ListRouterSubnets(ctx, r.ID, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	return s.subnetList(ctx, page, req.GetName(), "/v1/routers/"+r.ID+"/subnets", req.GetPageSize())
}

func (s *networks) ListProjectSubnets(ctx context.Context, req *pb.ListProjectSubnetsRequest) (*pb.SubnetList, error) {
	p, _, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	page, err := s.store.ListProjectSubnets(ctx, p.ID, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	return s.subnetList(ctx, page, req.GetName(), "/v1/projects/"+p.ID+"/subnets", req.GetPageSize())
}

// ListSubnets lists every subnet the caller may use, as Photon's GET /v1/subnets did:
// the port-group ones and those of the caller's projects (system administrators see
// all). A page of the index of all subnets holds what the caller may see of it.
func (s *networks) ListSubnets(ctx context.Context, req *pb.ListSubnetsRequest) (*pb.SubnetList, error) {
	page, err := s.store.ListSubnets(ctx, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	mine := page.Items[:0]
	for _, sn := range page.Items {
		if sn.ProjectID == "" {
			mine = append(mine, sn)
		} else if _, _, err := s.projectFor(ctx, sn.ProjectID); err == nil {
			mine = append(mine, sn)
		}
	}
	page.Items = mine
	return s.subnetList(ctx, page, req.GetName(), "/v1/subnets", req.GetPageSize())
}

// subnetList is a page of subnets, those named name when it is set, each marked default
// if it is its scope's (system or project) default.
func (s *networks) subnetList(ctx context.Context, page store.Page[model.Subnet], name, path string, size int32) (*pb.SubnetList, error) {
	defaults := map[string]string{}
	out := &pb.SubnetList{NextPageLink: pageLink(path, size, page.Next)}
	for _, sn := range page.Items {
		if name != "" && sn.Name != name {
			continue
		}
		def, ok := defaults[sn.Scope()]
		if !ok {
			var err error
			if def, err = s.store.DefaultSubnet(ctx, sn.Scope()); err != nil {
				return nil, err
			}
			defaults[sn.Scope()] = def
		}
		out.Items = append(out.Items, subnetPB(sn, def))
	}
	return out, nil
}

func (s *networks) CreatePortGroupSubnet(ctx context.Context, req *pb.CreatePortGroupSubnetRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		if err := requireSystemAdmin(ctx); err != nil {
			return nil, err
		}
		spec := req.GetSpec()
		name := strings.TrimSpace(spec.GetName())
		if name == "" {
			return nil, errs.Invalid("name is required")
		}
		var groups []string
		for _, g := range spec.GetPortGroups().GetPortGroups() {
			if g = strings.TrimSpace(g); g != "" {
				groups = append(groups, g)
			}
		}
		if len(groups) == 0 {
			return nil, errs.Invalid("portGroups: at least one port group is required")
		}
		network := ""
		if spec.GetPrivateIpCidr() != "" {
			var err error
			if network, err = domain.Network("privateIpCidr", spec.GetPrivateIpCidr(), domain.MinSubnetBits, domain.MaxSubnetBits); err != nil {
				return nil, err
			}
		}
		sn := &model.Subnet{ID: newID(), Name: name, Description: spec.GetDescription(), PortGroups: groups,
			PrivateIPCIDR: network, State: model.NetReady, CreatedAt: s.store.Now()}
		task := s.store.NewTask(taskID(ctx), string(events.SubnetCreate.Operation), model.Entity{ID: sn.ID, Kind: model.KindSubnet}, caller(ctx), nil)
		if err := s.store.CreatePortGroupSubnet(ctx, sn, task); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

func (s *networks) GetSubnet(ctx context.Context, req *pb.IdRequest) (*pb.Subnet, error) {
	sn, err := s.subnet(ctx, req.GetId(), false)
	if err != nil {
		return nil, err
	}
	def, err := s.store.DefaultSubnet(ctx, sn.Scope())
	if err != nil {
		return nil, err
	}
	return subnetPB(sn, def), nil
}

func (s *networks) UpdateSubnet(ctx context.Context, req *pb.UpdateSubnetRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		sn, err := s.subnet(ctx, req.GetId(), true)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSpace(req.GetSpec().GetName())
		if name == "" {
			return nil, errs.Invalid("name is required")
		}
		task := s.store.NewTask(taskID(ctx), OpUpdateSubnet, model.Entity{ID: sn.ID, Kind: model.KindSubnet}, caller(ctx), nil)
		task.TenantID, task.ProjectID = sn.TenantID, sn.ProjectID
		if _, err := store.Update(ctx, s.store, model.KindSubnet, sn.ID, func(sn *model.Subnet) error {
			sn.Name = name
			return nil
		}); err != nil {
			return nil, err
		}
		if err := s.store.Apply(ctx, s.store.AddTask(new(store.Batch), task)); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

func (s *networks) DeleteSubnet(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		sn, err := s.subnet(ctx, req.GetId(), true)
		if err != nil {
			return nil, err
		}
		chain := &events.SubnetDelete
		task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: sn.ID, Kind: model.KindSubnet}, caller(ctx), operations(chain))
		task.TenantID, task.ProjectID = sn.TenantID, sn.ProjectID
		return s.begin(ctx, chain, task, func() error {
			_, err := s.store.StartSubnetDelete(ctx, sn.ID, task)
			return err
		})
	})
}

func (s *networks) SetDefaultSubnet(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		sn, err := s.subnet(ctx, req.GetId(), true)
		if err != nil {
			return nil, err
		}
		task := s.store.NewTask(taskID(ctx), OpSetDefaultSubnet, model.Entity{ID: sn.ID, Kind: model.KindSubnet}, caller(ctx), nil)
		task.TenantID, task.ProjectID = sn.TenantID, sn.ProjectID
		if err := s.store.SetDefaultSubnet(ctx, sn, task); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

func (s *networks) ListSubnetTasks(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.TaskList, error) {
	sn, err := s.subnet(ctx, req.GetId(), false)
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, sn.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/subnets/"+sn.ID+"/tasks")
}

// NetworkConnection is one of a VM's NICs as Photon 1.2 reported it in a GET_NETWORKS task.
type NetworkConnection struct {
	Network     string `json:"network"`
	MacAddress  string `json:"macAddress"`
	IPAddress   string `json:"ipAddress"`
	Netmask     string `json:"netmask"`
	IsConnected bool   `json:"isConnected"`
}

// GetVmNetworks answers a completed GET_NETWORKS task listing the VM's NICs: their network
// (the subnet id, or the port group of a NIC on no subnet), MAC and IP addresses, and the
// subnet's netmask. A NIC is connected while the VM runs.
func (s *networks) GetVmNetworks(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	vm, err := store.Get[model.VM](ctx, s.store, model.KindVM, req.GetId())
	if err != nil {
		return nil, err
	}
	if _, _, err := s.projectFor(ctx, vm.ProjectID); err != nil {
		return nil, errs.NotFound("Vm", req.GetId())
	}
	conns := make([]NetworkConnection, 0, len(vm.Nics))
	for _, n := range vm.Nics {
		c := NetworkConnection{Network: n.Network, MacAddress: n.MAC, IPAddress: n.IP, IsConnected: vm.State == model.VMStarted}
		if sn, err := store.Get[model.Subnet](ctx, s.store, model.KindSubnet, n.Network); err == nil {
			if p, err := netip.ParsePrefix(sn.PrivateIPCIDR); err == nil {
				c.Netmask = netmask(p.Bits())
			}
		} else if !errors.Is(err, errs.ErrNotFound) {
			return nil, err
		}
		conns = append(conns, c)
	}
	raw, err := json.Marshal(conns)
	if err != nil {
		return nil, err
	}
	task := s.store.NewTask(newID(), OpGetNetworks, model.Entity{ID: vm.ID, Kind: model.KindVM}, caller(ctx), nil)
	task.TenantID, task.ProjectID = vm.TenantID, vm.ProjectID
	task.Properties = map[string]string{"networkConnections": string(raw)}
	if err := s.store.Apply(ctx, s.store.AddTask(new(store.Batch), task)); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

// netmask is the dotted IPv4 netmask of a prefix length.
func netmask(bits int) string {
	m := ^uint32(0) << (32 - bits)
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

func routerPB(r *model.Router) *pb.Router {
	return &pb.Router{Id: r.ID, Kind: model.KindRouter, Name: r.Name, PrivateIpCidr: r.PrivateIPCIDR, State: r.State,
		ProjectId: r.ProjectID, SelfLink: selfLink("router", r.ID), RoutingType: routingRouted, Cidr: r.PrivateIPCIDR,
		Description: r.Description}
}

func subnetPB(sn *model.Subnet, defaultID string) *pb.Subnet {
	return &pb.Subnet{Id: sn.ID, Kind: model.KindSubnet, Name: sn.Name, Description: sn.Description,
		PrivateIpCidr: sn.PrivateIPCIDR, ReservedIps: store.ReservedIPs(sn.PrivateIPCIDR), State: sn.State,
		IsDefault: sn.ID == defaultID, PortGroups: &pb.PortGroups{PortGroups: sn.PortGroups}, Type: sn.Type,
		RouterId: sn.RouterID, ProjectId: sn.ProjectID, SelfLink: selfLink("subnet", sn.ID)}
}
