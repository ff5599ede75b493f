package client

import (
	"context"
	"encoding/json"
	"net/url"

	"google.golang.org/protobuf/proto"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// The typed calls below are thin: one REST call each, named after the API method. Calls
// that start work answer the *pb.Task (Run or Wait it); lists read every page.

func (c *Client) task(ctx context.Context, method, path string, in proto.Message) (*pb.Task, error) {
	t := &pb.Task{}
	return t, c.call(ctx, method, path, nil, in, t)
}

func get[T any, PT interface {
	*T
	proto.Message
}](ctx context.Context, c *Client, path string) (PT, error) {
	var v PT = new(T)
	return v, c.call(ctx, "GET", path, nil, nil, v)
}

func named(name string) url.Values {
	if name == "" {
		return nil
	}
	return url.Values{"name": {name}}
}

func esc(id string) string { return url.PathEscape(id) }

// Info is the unauthenticated GET /v1/system/auth: where tokens come from.
func (c *Client) AuthInfo(ctx context.Context) (map[string]any, error) {
	var m map[string]any
	return m, c.send(ctx, request{method: "GET", path: "/v1/system/auth", anon: true}, &m)
}

// SystemInfo reads /v1/system/info.
func (c *Client) SystemInfo(ctx context.Context) (*pb.SystemInfo, error) {
	return get[pb.SystemInfo](ctx, c, "/v1/system/info")
}

// SystemStatus reads /v1/system/status.
func (c *Client) SystemStatus(ctx context.Context) (*pb.SystemStatus, error) {
	return get[pb.SystemStatus](ctx, c, "/v1/system/status")
}

// SystemUsage reads /v1/system/usage.
func (c *Client) SystemUsage(ctx context.Context) (*pb.SystemUsage, error) {
	return get[pb.SystemUsage](ctx, c, "/v1/system/usage")
}

// SystemAction posts to /v1/system/{action}: pause, pause-background-tasks, resume.
func (c *Client) SystemAction(ctx context.Context, action string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/system/"+action, nil)
}

// Tenants

func (c *Client) CreateTenant(ctx context.Context, s *pb.TenantCreateSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/tenants", s)
}
func (c *Client) ListTenants(ctx context.Context, name string) ([]*pb.Tenant, error) {
	return listAll(ctx, c, "/v1/tenants", named(name), func(l *pb.TenantList) ([]*pb.Tenant, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetTenant(ctx context.Context, id string) (*pb.Tenant, error) {
	return get[pb.Tenant](ctx, c, "/v1/tenants/"+esc(id))
}
func (c *Client) DeleteTenant(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/tenants/"+esc(id), nil)
}

// Projects

func (c *Client) CreateProject(ctx context.Context, tenantID string, s *pb.ProjectCreateSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/tenants/"+esc(tenantID)+"/projects", s)
}
func (c *Client) ListProjects(ctx context.Context, tenantID, name string) ([]*pb.Project, error) {
	return listAll(ctx, c, "/v1/tenants/"+esc(tenantID)+"/projects", named(name), func(l *pb.ProjectList) ([]*pb.Project, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetProject(ctx context.Context, id string) (*pb.Project, error) {
	return get[pb.Project](ctx, c, "/v1/projects/"+esc(id))
}
func (c *Client) DeleteProject(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/projects/"+esc(id), nil)
}

// Quotas: kind is "tenants" or "projects"; method PUT sets the whole quota, PATCH
// updates the items given, DELETE excludes them.

func (c *Client) GetQuota(ctx context.Context, kind, id string) (*pb.Quota, error) {
	return get[pb.Quota](ctx, c, "/v1/"+kind+"/"+esc(id)+"/quota")
}
func (c *Client) ChangeQuota(ctx context.Context, method, kind, id string, items map[string]*pb.QuotaStatusLineItem) (*pb.Task, error) {
	raw, err := quotaBody(items)
	if err != nil {
		return nil, err
	}
	t := &pb.Task{}
	return t, c.send(ctx, request{method: method, path: "/v1/" + kind + "/" + esc(id) + "/quota", body: raw, contentType: "application/json"}, t)
}

func quotaBody(items map[string]*pb.QuotaStatusLineItem) ([]byte, error) {
	m := &pb.QuotaRequest{Items: items}
	raw, err := marshal(m)
	if err != nil {
		return nil, err
	}
	var wrap struct {
		Items json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &wrap); err != nil {
		return nil, err
	}
	if wrap.Items == nil {
		return []byte("{}"), nil
	}
	return wrap.Items, nil
}

// IAM: kind is "tenants", "projects", "images" (and "vms", "disks" where served). The
// policy is returned as the API wrote it, whichever of its shapes that is.

func (c *Client) GetIam(ctx context.Context, kind, id string) (json.RawMessage, error) {
	var raw json.RawMessage
	return raw, c.call(ctx, "GET", "/v1/"+kind+"/"+esc(id)+"/iam", nil, nil, &raw)
}
func (c *Client) ModifyIam(ctx context.Context, kind, id string, d *pb.PolicyDelta) (*pb.Task, error) {
	return c.task(ctx, "PATCH", "/v1/"+kind+"/"+esc(id)+"/iam", d)
}

// Flavors

func (c *Client) CreateFlavor(ctx context.Context, s *pb.FlavorCreateSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/flavors", s)
}
func (c *Client) ListFlavors(ctx context.Context, name, kind string) ([]*pb.Flavor, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	if kind != "" {
		q.Set("kind", kind)
	}
	return listAll(ctx, c, "/v1/flavors", q, func(l *pb.FlavorList) ([]*pb.Flavor, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetFlavor(ctx context.Context, id string) (*pb.Flavor, error) {
	return get[pb.Flavor](ctx, c, "/v1/flavors/"+esc(id))
}
func (c *Client) DeleteFlavor(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/flavors/"+esc(id), nil)
}

// Images

func (c *Client) ListImages(ctx context.Context, name string) ([]*pb.Image, error) {
	return listAll(ctx, c, "/v1/images", named(name), func(l *pb.ImageList) ([]*pb.Image, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetImage(ctx context.Context, id string) (*pb.Image, error) {
	return get[pb.Image](ctx, c, "/v1/images/"+esc(id))
}
func (c *Client) DeleteImage(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/images/"+esc(id), nil)
}
func (c *Client) RegisterImage(ctx context.Context, s *pb.ImageRegisterSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/images/register", s)
}
func (c *Client) CreateVmImage(ctx context.Context, vmID, name, replication string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/vms/"+esc(vmID)+"/create_image", &pb.CreateVmImageRequest{Name: name, ReplicationType: replication})
}

// VMs

func (c *Client) CreateVm(ctx context.Context, projectID string, s *pb.VmCreateSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/projects/"+esc(projectID)+"/vms", s)
}
func (c *Client) ListVms(ctx context.Context, projectID, name string) ([]*pb.Vm, error) {
	return listAll(ctx, c, "/v1/projects/"+esc(projectID)+"/vms", named(name), func(l *pb.VmList) ([]*pb.Vm, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetVm(ctx context.Context, id string) (*pb.Vm, error) {
	return get[pb.Vm](ctx, c, "/v1/vms/"+esc(id))
}
func (c *Client) DeleteVm(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/vms/"+esc(id), nil)
}

// VmOperation posts one of the VM's operations that take no body: start, stop,
// restart, suspend, resume, detach_iso.
func (c *Client) VmOperation(ctx context.Context, id, op string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/vms/"+esc(id)+"/"+op, nil)
}
func (c *Client) AttachDisk(ctx context.Context, vmID, diskID string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/vms/"+esc(vmID)+"/attach_disk", &pb.VmDiskOperation{DiskId: diskID})
}
func (c *Client) DetachDisk(ctx context.Context, vmID, diskID string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/vms/"+esc(vmID)+"/detach_disk", &pb.VmDiskOperation{DiskId: diskID})
}
func (c *Client) SetVmMetadata(ctx context.Context, id string, md map[string]string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/vms/"+esc(id)+"/set_metadata", &pb.VmMetadata{Metadata: md})
}
func (c *Client) AddVmTag(ctx context.Context, id, tag string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/vms/"+esc(id)+"/tags", &pb.VmTag{Value: tag})
}
func (c *Client) ResizeVm(ctx context.Context, id, flavor string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/vms/"+esc(id)+"/resize", &pb.VmResizeSpec{Flavor: flavor})
}

// VmNetworks starts the GET_NETWORKS task of a VM; its resourceProperties hold the
// connections when it completes.
func (c *Client) VmNetworks(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "GET", "/v1/vms/"+esc(id)+"/subnets", nil)
}

// MksTicket starts the task whose resourceProperties hold a VM's console ticket.
func (c *Client) MksTicket(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "GET", "/v1/vms/"+esc(id)+"/mks_ticket", nil)
}

// Disks

func (c *Client) CreateDisk(ctx context.Context, projectID string, s *pb.DiskCreateSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/projects/"+esc(projectID)+"/disks", s)
}
func (c *Client) ListDisks(ctx context.Context, projectID, name string) ([]*pb.PersistentDisk, error) {
	return listAll(ctx, c, "/v1/projects/"+esc(projectID)+"/disks", named(name), func(l *pb.DiskList) ([]*pb.PersistentDisk, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetDisk(ctx context.Context, id string) (*pb.PersistentDisk, error) {
	return get[pb.PersistentDisk](ctx, c, "/v1/disks/"+esc(id))
}
func (c *Client) DeleteDisk(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/disks/"+esc(id), nil)
}

// Routers and subnets

func (c *Client) CreateRouter(ctx context.Context, projectID string, s *pb.RouterCreateSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/projects/"+esc(projectID)+"/routers", s)
}
func (c *Client) ListRouters(ctx context.Context, projectID, name string) ([]*pb.Router, error) {
	return listAll(ctx, c, "/v1/projects/"+esc(projectID)+"/routers", named(name), func(l *pb.RouterList) ([]*pb.Router, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetRouter(ctx context.Context, id string) (*pb.Router, error) {
	return get[pb.Router](ctx, c, "/v1/routers/"+esc(id))
}
func (c *Client) UpdateRouter(ctx context.Context, id, name string) (*pb.Task, error) {
	return c.task(ctx, "PUT", "/v1/routers/"+esc(id), &pb.RouterUpdateSpec{Name: name})
}
func (c *Client) DeleteRouter(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/routers/"+esc(id), nil)
}
func (c *Client) CreateSubnet(ctx context.Context, routerID string, s *pb.SubnetCreateSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/routers/"+esc(routerID)+"/subnets", s)
}
func (c *Client) ListRouterSubnets(ctx context.Context, routerID, name string) ([]*pb.Subnet, error) {
	return listAll(ctx, c, "/v1/routers/"+esc(routerID)+"/subnets", named(name), func(l *pb.SubnetList) ([]*pb.Subnet, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) ListProjectSubnets(ctx context.Context, projectID, name string) ([]*pb.Subnet, error) {
	return listAll(ctx, c, "/v1/projects/"+esc(projectID)+"/subnets", named(name), func(l *pb.SubnetList) ([]*pb.Subnet, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetSubnet(ctx context.Context, id string) (*pb.Subnet, error) {
	return get[pb.Subnet](ctx, c, "/v1/subnets/"+esc(id))
}
func (c *Client) UpdateSubnet(ctx context.Context, id, name string) (*pb.Task, error) {
	return c.task(ctx, "PUT", "/v1/subnets/"+esc(id), &pb.SubnetUpdateSpec{Name: name})
}
func (c *Client) DeleteSubnet(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/subnets/"+esc(id), nil)
}
func (c *Client) SetDefaultSubnet(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/subnets/"+esc(id)+"/set_default", nil)
}

// Hosts, zones, datastores

func (c *Client) CreateHost(ctx context.Context, s *pb.HostCreateSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/infrastructure/hosts", s)
}
func (c *Client) ListHosts(ctx context.Context) ([]*pb.Host, error) {
	return listAll(ctx, c, "/v1/infrastructure/hosts", nil, func(l *pb.HostList) ([]*pb.Host, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetHost(ctx context.Context, id string) (*pb.Host, error) {
	return get[pb.Host](ctx, c, "/v1/infrastructure/hosts/"+esc(id))
}
func (c *Client) DeleteHost(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/infrastructure/hosts/"+esc(id), nil)
}

// HostOperation posts one of a host's operations: enter_maintenance,
// exit_maintenance, suspend, resume, provision.
func (c *Client) HostOperation(ctx context.Context, id, op string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/infrastructure/hosts/"+esc(id)+"/"+op, nil)
}
func (c *Client) SetHostZone(ctx context.Context, id, zoneID string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/infrastructure/hosts/"+esc(id)+"/set_availability_zone", &pb.SetHostAvailabilityZoneRequest{AvailabilityZoneId: zoneID})
}
func (c *Client) ListHostVms(ctx context.Context, id string) ([]*pb.Vm, error) {
	return listAll(ctx, c, "/v1/infrastructure/hosts/"+esc(id)+"/vms", nil, func(l *pb.VmList) ([]*pb.Vm, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) CreateZone(ctx context.Context, name string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/zones", &pb.AvailabilityZoneCreateSpec{Name: name})
}
func (c *Client) ListZones(ctx context.Context) ([]*pb.AvailabilityZone, error) {
	return listAll(ctx, c, "/v1/zones", nil, func(l *pb.AvailabilityZoneList) ([]*pb.AvailabilityZone, string) {
		return l.GetItems(), l.GetNextPageLink()
	})
}
func (c *Client) GetZone(ctx context.Context, id string) (*pb.AvailabilityZone, error) {
	return get[pb.AvailabilityZone](ctx, c, "/v1/zones/"+esc(id))
}
func (c *Client) DeleteZone(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/zones/"+esc(id), nil)
}
func (c *Client) ListDatastores(ctx context.Context) ([]*pb.Datastore, error) {
	return listAll(ctx, c, "/v1/infrastructure/datastores", nil, func(l *pb.DatastoreList) ([]*pb.Datastore, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetDatastore(ctx context.Context, id string) (*pb.Datastore, error) {
	return get[pb.Datastore](ctx, c, "/v1/infrastructure/datastores/"+esc(id))
}

// Events: subscriptions, rules, audit

func (c *Client) CreateSubscription(ctx context.Context, projectID string, s *pb.SubscriptionSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/projects/"+esc(projectID)+"/subscriptions", s)
}
func (c *Client) ListSubscriptions(ctx context.Context, projectID string) ([]*pb.Subscription, error) {
	return listAll(ctx, c, "/v1/projects/"+esc(projectID)+"/subscriptions", nil, func(l *pb.SubscriptionList) ([]*pb.Subscription, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetSubscription(ctx context.Context, id string) (*pb.Subscription, error) {
	return get[pb.Subscription](ctx, c, "/v1/subscriptions/"+esc(id))
}
func (c *Client) DeleteSubscription(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/subscriptions/"+esc(id), nil)
}
func (c *Client) CreateRule(ctx context.Context, projectID string, s *pb.RuleSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/projects/"+esc(projectID)+"/rules", s)
}
func (c *Client) ListRules(ctx context.Context, projectID string) ([]*pb.Rule, error) {
	return listAll(ctx, c, "/v1/projects/"+esc(projectID)+"/rules", nil, func(l *pb.RuleList) ([]*pb.Rule, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetRule(ctx context.Context, id string) (*pb.Rule, error) {
	return get[pb.Rule](ctx, c, "/v1/rules/"+esc(id))
}
func (c *Client) DeleteRule(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/rules/"+esc(id), nil)
}

// AuditOptions filter the audit log.
type AuditOptions struct {
	Subject, Outcome, TenantID string
	PageSize                   int
}

// ListAudit reads the audit log, newest first, one page (PageSize entries, default the
// server's).
func (c *Client) ListAudit(ctx context.Context, o AuditOptions) ([]*pb.AuditEvent, error) {
	q := url.Values{}
	for k, v := range map[string]string{"subject": o.Subject, "outcome": o.Outcome, "tenantId": o.TenantID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.PageSize > 0 {
		q.Set("pageSize", itoa(o.PageSize))
	}
	l := &pb.AuditEventList{}
	return l.GetItems(), c.call(ctx, "GET", "/v1/system/audit", q, nil, l)
}

// Floating IPs

// AcquireFloatingIp starts a VM's ACQUIRE_FLOATING_IP; networkID "" is the VM's first
// NIC with an address.
func (c *Client) AcquireFloatingIp(ctx context.Context, vmID, networkID string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/vms/"+esc(vmID)+"/acquire_floating_ip", &pb.VmFloatingIpSpec{NetworkId: networkID})
}
func (c *Client) ReleaseFloatingIp(ctx context.Context, vmID string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/vms/"+esc(vmID)+"/release_floating_ip", nil)
}

// Deployment: what the system is and how it is configured

// Info reads GET /v1/info: the version and network type.
func (c *Client) Info(ctx context.Context) (*pb.Info, error) {
	return get[pb.Info](ctx, c, "/v1/info")
}

// ListSystemVms lists the VMs the system runs for itself (GET /v1/system/vms).
func (c *Client) ListSystemVms(ctx context.Context) ([]*pb.Vm, error) {
	return listAll(ctx, c, "/v1/system/vms", nil, func(l *pb.VmList) ([]*pb.Vm, string) { return l.GetItems(), l.GetNextPageLink() })
}

// EnableServiceType and DisableServiceType post a service type (KUBERNETES or HARBOR)
// and, to enable it, its image.
func (c *Client) EnableServiceType(ctx context.Context, typ, imageID string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/system/enable-service-type", &pb.ServiceTypeRequest{Type: typ, ImageId: imageID})
}
func (c *Client) DisableServiceType(ctx context.Context, typ string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/system/disable-service-type", &pb.ServiceTypeRequest{Type: typ})
}
func (c *Client) ConfigureNsx(ctx context.Context, s *pb.NsxConfigurationSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/system/configure-nsx", s)
}

// SetImageDatastores posts the names of the datastores that may hold images.
func (c *Client) SetImageDatastores(ctx context.Context, names []string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/infrastructure/image-datastores", &pb.ImageDatastores{Items: names})
}
func (c *Client) SyncHostsConfig(ctx context.Context) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/infrastructure/sync-hosts-config", nil)
}
func (c *Client) ListOrphans(ctx context.Context) ([]*pb.Orphan, error) {
	l := &pb.OrphanList{}
	return l.GetItems(), c.call(ctx, "GET", "/v1/infrastructure/orphans", nil, nil, l)
}
