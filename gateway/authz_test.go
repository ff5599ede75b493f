package gateway_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// The callers of the matrix. Valid ones hold roles on tenant A (projects p1 and p2) and
// tenant B; invalid ones carry no token or a bad one.
const (
	sys     = "system admin"
	adminA  = "tenant admin of A"
	adminB  = "tenant admin of B"
	userA1  = "project user of A/p1"
	userA2  = "project user of A/p2"
	noToken = "no token"
	expired = "expired token"
	foreign = "token signed by another key"
	algNone = "token with alg none"
)

var callers = []string{sys, adminA, adminB, userA1, userA2, noToken, expired, foreign, algNone}

// Who may call: sets of the valid callers.
var (
	onlySys   = []string{sys}
	tenantA   = []string{sys, adminA}
	projectA1 = []string{sys, adminA, userA1}
	tenantAny = []string{sys, adminA, userA1, userA2} // anyone with a role in tenant A
	anyone    = []string{sys, adminA, adminB, userA1, userA2}
)

// world is one set of entities the calls act on, made through the API by a system
// administrator: tenants A and B, projects A/p1, A/p2 and B/pb, and in A/p1 a VM, a
// persistent disk, a router, a subnet and an image; a public image, a host and a zone.
type world struct {
	tenantA, tenantB, p1, p2, pb   string
	vm, disk, router, subnet, task string
	image, publicImage             string
	host, zone, flavor, datastore  string
	rule, subscription, deadLetter string
	user, group                    string // of the directory: the user is a member of the group
	service                        string // a KUBERNETES service of p1, READY
}

// call is one API method called on a world.
type call struct {
	name    string // the method, and a variant after a slash
	method  string // full gRPC method
	allowed []string
	req     func(w *world) proto.Message
}

func calls() []call {
	id := func(f func(w *world) string) func(w *world) proto.Message {
		return func(w *world) proto.Message { return &pb.IdRequest{Id: f(w)} }
	}
	tasksOf := func(f func(w *world) string) func(w *world) proto.Message {
		return func(w *world) proto.Message { return &pb.ListEntityTasksRequest{Id: f(w)} }
	}
	ten := func(w *world) string { return w.tenantA }
	p1 := func(w *world) string { return w.p1 }
	vm := func(w *world) string { return w.vm }
	disk := func(w *world) string { return w.disk }
	router := func(w *world) string { return w.router }
	subnet := func(w *world) string { return w.subnet }
	service := func(w *world) string { return w.service }
	image := func(w *world) string { return w.image }
	public := func(w *world) string { return w.publicImage }
	host := func(w *world) string { return w.host }
	zone := func(w *world) string { return w.zone }
	quota := func(f func(w *world) string) func(w *world) proto.Message {
		return func(w *world) proto.Message {
			return &pb.QuotaRequest{Id: f(w), Items: map[string]*pb.QuotaStatusLineItem{"vm.count": {Unit: "COUNT", Limit: 50}}}
		}
	}
	policy := func(f func(w *world) string) func(w *world) proto.Message {
		return func(w *world) proto.Message {
			return &pb.SetIamRequest{Id: f(w), Items: []*pb.PolicyEntry{{Principal: "acme\\auditors", Roles: []string{"viewer"}}}}
		}
	}
	delta := func(f func(w *world) string) func(w *world) proto.Message {
		return func(w *world) proto.Message {
			body, _ := structpb.NewValue(map[string]any{"principal": "zed", "action": "ADD", "role": "viewer"})
			return &pb.ModifyIamRequest{Id: f(w), Body: body}
		}
	}
	sysReq := func(*world) proto.Message { return &pb.SystemRequest{} }
	m := func(svc, name string) string { return "/photon.v1." + svc + "/" + name }
	return []call{
		// Tenants: system administrators make, delete and bound them; their
		// administrators read them.
		{"CreateTenant", m("Tenants", "CreateTenant"), onlySys, func(*world) proto.Message {
			return &pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "t-" + rand.Text()}}
		}},
		{"ListTenants", m("Tenants", "ListTenants"), anyone, func(*world) proto.Message { return &pb.ListTenantsRequest{} }},
		{"GetTenant", m("Tenants", "GetTenant"), tenantA, id(ten)},
		{"DeleteTenant", m("Tenants", "DeleteTenant"), onlySys, id(ten)},
		{"ListTenantTasks", m("Tenants", "ListTenantTasks"), tenantA, func(w *world) proto.Message { return &pb.ListTenantTasksRequest{Id: w.tenantA} }},
		{"GetTenantQuota", m("Tenants", "GetTenantQuota"), tenantA, id(ten)},
		{"SetTenantQuota", m("Tenants", "SetTenantQuota"), onlySys, quota(ten)},
		{"UpdateTenantQuota", m("Tenants", "UpdateTenantQuota"), onlySys, quota(ten)},
		{"ExcludeTenantQuota", m("Tenants", "ExcludeTenantQuota"), onlySys, quota(ten)},
		{"SetTenantSecurityGroups", m("Tenants", "SetTenantSecurityGroups"), onlySys, func(w *world) proto.Message {
			return &pb.SecurityGroupsRequest{Id: w.tenantA, Items: []string{"acme\\admins"}}
		}},
		{"SetSystemSecurityGroups", m("Tenants", "SetSystemSecurityGroups"), onlySys, func(*world) proto.Message {
			return &pb.SystemSecurityGroupsRequest{Items: []string{"corp\\cloud-ops"}}
		}},

		// Projects: their tenant's administrators make, delete and bound them; their
		// users read them.
		{"CreateProject", m("Projects", "CreateProject"), tenantA, func(w *world) proto.Message {
			return &pb.CreateProjectRequest{TenantId: w.tenantA, Spec: &pb.ProjectCreateSpec{Name: "p-" + rand.Text()}}
		}},
		{"ListProjects", m("Projects", "ListProjects"), tenantAny, func(w *world) proto.Message { return &pb.ListProjectsRequest{TenantId: w.tenantA} }},
		{"GetProject", m("Projects", "GetProject"), projectA1, id(p1)},
		{"DeleteProject", m("Projects", "DeleteProject"), tenantA, id(p1)},
		{"ListProjectTasks", m("Projects", "ListProjectTasks"), projectA1, func(w *world) proto.Message { return &pb.ListProjectTasksRequest{Id: w.p1} }},
		{"GetProjectQuota", m("Projects", "GetProjectQuota"), projectA1, id(p1)},
		{"SetProjectQuota", m("Projects", "SetProjectQuota"), tenantA, quota(p1)},
		{"UpdateProjectQuota", m("Projects", "UpdateProjectQuota"), tenantA, quota(p1)},
		{"ExcludeProjectQuota", m("Projects", "ExcludeProjectQuota"), tenantA, quota(p1)},
		{"SetProjectSecurityGroups", m("Projects", "SetProjectSecurityGroups"), tenantA, func(w *world) proto.Message {
			return &pb.SecurityGroupsRequest{Id: w.p1, Items: []string{"acme\\p1"}}
		}},

		// IAM policies: whoever sees an entity reads its policy, its owners change it.
		{"GetTenantIam", m("Iam", "GetTenantIam"), tenantA, id(ten)},
		{"SetTenantIam", m("Iam", "SetTenantIam"), tenantA, policy(ten)},
		{"ModifyTenantIam", m("Iam", "ModifyTenantIam"), tenantA, delta(ten)},
		{"GetProjectIam", m("Iam", "GetProjectIam"), projectA1, id(p1)},
		{"SetProjectIam", m("Iam", "SetProjectIam"), tenantA, policy(p1)},
		{"ModifyProjectIam", m("Iam", "ModifyProjectIam"), tenantA, delta(p1)},
		{"GetImageIam", m("Iam", "GetImageIam"), projectA1, id(image)},
		{"GetImageIam/public", m("Iam", "GetImageIam"), anyone, id(public)},
		{"SetImageIam", m("Iam", "SetImageIam"), tenantA, policy(image)},
		{"SetImageIam/public", m("Iam", "SetImageIam"), onlySys, policy(public)},
		{"ModifyImageIam", m("Iam", "ModifyImageIam"), tenantA, delta(image)},
		{"ModifyImageIam/public", m("Iam", "ModifyImageIam"), onlySys, delta(public)},

		// The SDK's last line: VM and disk policies (their project's owners change them),
		// a flavor's tasks, and the deployment calls.
		{"GetVmIam", m("Iam", "GetVmIam"), projectA1, func(w *world) proto.Message { return &pb.GetIamRequest{Id: w.vm} }},
		{"SetVmIam", m("Iam", "SetVmIam"), tenantA, policy(vm)},
		{"ModifyVmIam", m("Iam", "ModifyVmIam"), tenantA, delta(vm)},
		{"GetDiskIam", m("Iam", "GetDiskIam"), projectA1, func(w *world) proto.Message { return &pb.GetIamRequest{Id: w.disk} }},
		{"SetDiskIam", m("Iam", "SetDiskIam"), tenantA, policy(disk)},
		{"ModifyDiskIam", m("Iam", "ModifyDiskIam"), tenantA, delta(disk)},
		{"ListFlavorTasks", m("Flavors", "ListFlavorTasks"), anyone, tasksOf(func(w *world) string { return w.flavor })},
		{"GetInfo", m("Deployment", "GetInfo"), anyone, sysReq},
		{"ListSystemVms", m("Deployment", "ListSystemVms"), onlySys, sysReq},
		{"EnableServiceType", m("Deployment", "EnableServiceType"), onlySys, func(w *world) proto.Message {
			return &pb.ServiceTypeRequest{Type: "KUBERNETES", ImageId: w.publicImage}
		}},
		{"DisableServiceType", m("Deployment", "DisableServiceType"), onlySys, func(*world) proto.Message {
			return &pb.ServiceTypeRequest{Type: "HARBOR"}
		}},
		{"ConfigureNsx", m("Deployment", "ConfigureNsx"), onlySys, func(*world) proto.Message { return &pb.NsxConfigurationSpec{} }},
		{"SyncHostsConfig", m("Deployment", "SyncHostsConfig"), onlySys, sysReq},
		{"SetImageDatastores", m("Deployment", "SetImageDatastores"), onlySys, func(*world) proto.Message {
			return &pb.ImageDatastores{Items: []string{"datastore1"}}
		}},
		{"AcquireFloatingIp", m("Vms", "AcquireFloatingIp"), projectA1, func(w *world) proto.Message {
			return &pb.AcquireFloatingIpRequest{Id: w.vm, Spec: &pb.VmFloatingIpSpec{}}
		}},
		{"ReleaseFloatingIp", m("Vms", "ReleaseFloatingIp"), projectA1, id(vm)},
		{"ProvisionHost", m("Deployment", "ProvisionHost"), onlySys, id(host)},

		// Flavors: everyone reads them, system administrators manage them.
		{"CreateFlavor", m("Flavors", "CreateFlavor"), onlySys, func(*world) proto.Message {
			return &pb.CreateFlavorRequest{Spec: &pb.FlavorCreateSpec{Name: "f-" + rand.Text(), Kind: "vm",
				Cost: []*pb.QuotaLineItem{{Key: "vm.cpu", Value: 1, Unit: "COUNT"}, {Key: "vm.memory", Value: 1, Unit: "GB"}}}}
		}},
		{"ListFlavors", m("Flavors", "ListFlavors"), anyone, func(*world) proto.Message { return &pb.ListFlavorsRequest{} }},
		{"GetFlavor", m("Flavors", "GetFlavor"), anyone, id(func(w *world) string { return w.flavor })},
		{"DeleteFlavor", m("Flavors", "DeleteFlavor"), onlySys, func(w *world) proto.Message {
			return &pb.IdRequest{Id: w.flavor}
		}},

		// Images: everyone uses the public ones, a project's are its own; system
		// administrators add public images, owners delete images.
		{"RegisterImage", m("Images", "RegisterImage"), onlySys, func(*world) proto.Message {
			return &pb.RegisterImageRequest{Spec: &pb.ImageRegisterSpec{Name: "i-" + rand.Text(), DiskPath: "images/nowhere.vmdk"}}
		}},
		{"ListImages", m("Images", "ListImages"), anyone, func(*world) proto.Message { return &pb.ListImagesRequest{} }},
		{"GetImage", m("Images", "GetImage"), projectA1, id(image)},
		{"GetImage/public", m("Images", "GetImage"), anyone, id(public)},
		{"DeleteImage", m("Images", "DeleteImage"), tenantA, id(image)},
		{"DeleteImage/public", m("Images", "DeleteImage"), onlySys, id(public)},
		{"ListImageTasks", m("Images", "ListImageTasks"), projectA1, tasksOf(image)},
		{"ListProjectImages", m("Images", "ListProjectImages"), projectA1, func(w *world) proto.Message { return &pb.ListProjectImagesRequest{ProjectId: w.p1} }},
		{"CreateVmImage", m("Images", "CreateVmImage"), projectA1, func(w *world) proto.Message {
			return &pb.CreateVmImageRequest{Id: w.vm, Name: "snap"}
		}},

		// What is in a project: its users and its tenant's administrators.
		{"CreateVm", m("Vms", "CreateVm"), projectA1, func(w *world) proto.Message { return &pb.CreateVmRequest{ProjectId: w.p1, Spec: vmSpec(w)} }},
		{"ListVms", m("Vms", "ListVms"), projectA1, func(w *world) proto.Message { return &pb.ListVmsRequest{ProjectId: w.p1} }},
		{"GetVm", m("Vms", "GetVm"), projectA1, id(vm)},
		{"DeleteVm", m("Vms", "DeleteVm"), projectA1, id(vm)},
		{"ListVmTasks", m("Vms", "ListVmTasks"), projectA1, tasksOf(vm)},
		{"StartVm", m("Vms", "StartVm"), projectA1, id(vm)},
		{"StopVm", m("Vms", "StopVm"), projectA1, id(vm)},
		{"RestartVm", m("Vms", "RestartVm"), projectA1, id(vm)},
		{"SuspendVm", m("Vms", "SuspendVm"), projectA1, id(vm)},
		{"ResumeVm", m("Vms", "ResumeVm"), projectA1, id(vm)},
		{"AttachDisk", m("Vms", "AttachDisk"), projectA1, func(w *world) proto.Message {
			return &pb.VmDiskOperationRequest{Id: w.vm, Operation: &pb.VmDiskOperation{DiskId: w.disk}}
		}},
		{"DetachDisk", m("Vms", "DetachDisk"), projectA1, func(w *world) proto.Message {
			return &pb.VmDiskOperationRequest{Id: w.vm, Operation: &pb.VmDiskOperation{DiskId: w.disk}}
		}},
		{"SetVmMetadata", m("Vms", "SetVmMetadata"), projectA1, func(w *world) proto.Message {
			return &pb.SetVmMetadataRequest{Id: w.vm, Metadata: &pb.VmMetadata{Metadata: map[string]string{"k": "v"}}}
		}},
		{"DetachIso", m("Vms", "DetachIso"), projectA1, id(vm)},
		{"GetMksTicket", m("Vms", "GetMksTicket"), projectA1, id(vm)},
		{"ResizeVm", m("Vms", "ResizeVm"), projectA1, func(w *world) proto.Message {
			return &pb.ResizeVmRequest{Id: w.vm, Spec: &pb.VmResizeSpec{Flavor: "small"}}
		}},
		{"AddVmTag", m("Vms", "AddVmTag"), projectA1, func(w *world) proto.Message {
			return &pb.AddVmTagRequest{Id: w.vm, Tag: &pb.VmTag{Value: "blue"}}
		}},
		// Services: their project's users; the kubeconfig is for those who may change them.
		{"CreateService", m("Services", "CreateService"), projectA1, func(w *world) proto.Message {
			return &pb.CreateServiceRequest{ProjectId: w.p1, Spec: serviceSpec(w, "k-"+rand.Text()[:6])}
		}},
		{"ListServices", m("Services", "ListServices"), projectA1, func(w *world) proto.Message { return &pb.ListServicesRequest{ProjectId: w.p1} }},
		{"GetService", m("Services", "GetService"), projectA1, id(service)},
		{"DeleteService", m("Services", "DeleteService"), projectA1, id(service)},
		{"ListServiceVms", m("Services", "ListServiceVms"), projectA1, tasksOf(service)},
		{"ResizeService", m("Services", "ResizeService"), projectA1, func(w *world) proto.Message {
			return &pb.ResizeServiceRequest{Id: w.service, Spec: &pb.ServiceResizeOperation{NewWorkerCount: 2}}
		}},
		{"TriggerServiceMaintenance", m("Services", "TriggerServiceMaintenance"), projectA1, id(service)},
		{"ChangeServiceVersion", m("Services", "ChangeServiceVersion"), projectA1, func(w *world) proto.Message {
			return &pb.ChangeServiceVersionRequest{Id: w.service, Spec: &pb.ServiceChangeVersionOperation{NewImageId: w.image}}
		}},
		{"ListServiceTasks", m("Services", "ListServiceTasks"), projectA1, tasksOf(service)},
		{"GetServiceKubeconfig", m("Services", "GetServiceKubeconfig"), projectA1, id(service)},
		{"ListServiceTypes", m("Services", "ListServiceTypes"), anyone, func(*world) proto.Message { return &pb.PageRequest{} }},
		{"CreateDisk", m("Disks", "CreateDisk"), projectA1, func(w *world) proto.Message {
			return &pb.CreateDiskRequest{ProjectId: w.p1, Spec: &pb.DiskCreateSpec{Name: "d", Kind: "persistent-disk", Flavor: "pd", CapacityGb: 1}}
		}},
		{"ListDisks", m("Disks", "ListDisks"), projectA1, func(w *world) proto.Message { return &pb.ListDisksRequest{ProjectId: w.p1} }},
		{"GetDisk", m("Disks", "GetDisk"), projectA1, id(disk)},
		{"DeleteDisk", m("Disks", "DeleteDisk"), projectA1, id(disk)},
		{"ListDiskTasks", m("Disks", "ListDiskTasks"), projectA1, tasksOf(disk)},
		{"CreateRouter", m("Networks", "CreateRouter"), projectA1, func(w *world) proto.Message {
			return &pb.CreateRouterRequest{ProjectId: w.p1, Spec: &pb.RouterCreateSpec{Name: "r", PrivateIpCidr: "10.9.0.0/16"}}
		}},
		{"ListRouters", m("Networks", "ListRouters"), projectA1, func(w *world) proto.Message { return &pb.ListRoutersRequest{ProjectId: w.p1} }},
		{"GetRouter", m("Networks", "GetRouter"), projectA1, id(router)},
		{"UpdateRouter", m("Networks", "UpdateRouter"), projectA1, func(w *world) proto.Message {
			return &pb.UpdateRouterRequest{Id: w.router, Spec: &pb.RouterUpdateSpec{Name: "renamed"}}
		}},
		{"DeleteRouter", m("Networks", "DeleteRouter"), projectA1, id(router)},
		{"ListRouterTasks", m("Networks", "ListRouterTasks"), projectA1, tasksOf(router)},
		{"CreateSubnet", m("Networks", "CreateSubnet"), projectA1, func(w *world) proto.Message {
			return &pb.CreateSubnetRequest{Id: w.router, Spec: &pb.SubnetCreateSpec{Name: "s2", PrivateIpCidr: "10.1.2.0/24"}}
		}},
		{"ListRouterSubnets", m("Networks", "ListRouterSubnets"), projectA1, func(w *world) proto.Message { return &pb.ListRouterSubnetsRequest{Id: w.router} }},
		{"ListProjectSubnets", m("Networks", "ListProjectSubnets"), projectA1, func(w *world) proto.Message { return &pb.ListProjectSubnetsRequest{ProjectId: w.p1} }},
		{"GetSubnet", m("Networks", "GetSubnet"), projectA1, id(subnet)},
		{"UpdateSubnet", m("Networks", "UpdateSubnet"), projectA1, func(w *world) proto.Message {
			return &pb.UpdateSubnetRequest{Id: w.subnet, Spec: &pb.SubnetUpdateSpec{Name: "renamed"}}
		}},
		{"DeleteSubnet", m("Networks", "DeleteSubnet"), projectA1, id(subnet)},
		{"SetDefaultSubnet", m("Networks", "SetDefaultSubnet"), projectA1, id(subnet)},
		{"ListSubnetTasks", m("Networks", "ListSubnetTasks"), projectA1, tasksOf(subnet)},
		{"GetVmNetworks", m("Networks", "GetVmNetworks"), projectA1, id(vm)},
		{"CreatePortGroupSubnet", m("Networks", "CreatePortGroupSubnet"), onlySys, func(*world) proto.Message {
			return &pb.CreatePortGroupSubnetRequest{Spec: &pb.PortGroupSubnetCreateSpec{Name: "pg-" + rand.Text(),
				PortGroups: &pb.PortGroups{PortGroups: []string{"VM Network"}}, PrivateIpCidr: "192.168.50.0/24"}}
		}},
		{"ListSubnets", m("Networks", "ListSubnets"), anyone, func(*world) proto.Message { return &pb.ListSubnetsRequest{} }},

		// Tasks: of a project, its users; the caller's own, always.
		{"GetTask", m("Tasks", "GetTask"), projectA1, id(func(w *world) string { return w.task })},
		{"ListTasks", m("Tasks", "ListTasks"), anyone, func(*world) proto.Message { return &pb.ListTasksRequest{} }},
		{"RetryTask", m("Tasks", "RetryTask"), onlySys, id(func(w *world) string { return w.task })},

		// Infrastructure: system administrators.
		{"CreateHost", m("Hosts", "CreateHost"), onlySys, func(*world) proto.Message {
			return &pb.CreateHostRequest{Spec: &pb.HostCreateSpec{Address: nextAddress(), Username: "root", Password: "x"}}
		}},
		{"ListHosts", m("Hosts", "ListHosts"), onlySys, func(*world) proto.Message { return &pb.ListHostsRequest{} }},
		{"GetHost", m("Hosts", "GetHost"), onlySys, id(host)},
		{"DeleteHost", m("Hosts", "DeleteHost"), onlySys, id(host)},
		{"EnterMaintenance", m("Hosts", "EnterMaintenance"), onlySys, id(host)},
		{"ExitMaintenance", m("Hosts", "ExitMaintenance"), onlySys, id(host)},
		{"SuspendHost", m("Hosts", "SuspendHost"), onlySys, id(host)},
		{"ResumeHost", m("Hosts", "ResumeHost"), onlySys, id(host)},
		{"SetHostAvailabilityZone", m("Hosts", "SetHostAvailabilityZone"), onlySys, func(w *world) proto.Message {
			return &pb.SetHostAvailabilityZoneRequest{Id: w.host, AvailabilityZoneId: w.zone}
		}},
		{"ListHostVms", m("Hosts", "ListHostVms"), onlySys, id(host)},
		{"ListHostTasks", m("Hosts", "ListHostTasks"), onlySys, tasksOf(host)},
		{"ListOrphans", m("Hosts", "ListOrphans"), onlySys, func(*world) proto.Message { return &pb.ListOrphansRequest{} }},
		{"ListDatastores", m("Datastores", "ListDatastores"), onlySys, func(*world) proto.Message { return &pb.PageRequest{} }},
		{"GetDatastore", m("Datastores", "GetDatastore"), onlySys, id(func(w *world) string { return w.datastore })},
		{"CreateAvailabilityZone", m("AvailabilityZones", "CreateAvailabilityZone"), onlySys, func(*world) proto.Message {
			return &pb.CreateAvailabilityZoneRequest{Spec: &pb.AvailabilityZoneCreateSpec{Name: "z-" + rand.Text()}}
		}},
		{"ListAvailabilityZones", m("AvailabilityZones", "ListAvailabilityZones"), anyone, func(*world) proto.Message {
			return &pb.ListAvailabilityZonesRequest{}
		}},
		{"GetAvailabilityZone", m("AvailabilityZones", "GetAvailabilityZone"), anyone, id(zone)},
		{"DeleteAvailabilityZone", m("AvailabilityZones", "DeleteAvailabilityZone"), onlySys, id(zone)},
		// Anyone reads a zone; its tasks are listed only to whoever may read them.
		{"ListAvailabilityZoneTasks", m("AvailabilityZones", "ListAvailabilityZoneTasks"), anyone, tasksOf(zone)},
		{"GetSystemInfo", m("System", "GetSystemInfo"), anyone, sysReq},
		{"GetSystemStatus", m("System", "GetSystemStatus"), anyone, sysReq},
		{"GetSystemUsage", m("System", "GetSystemUsage"), onlySys, sysReq},
		{"PauseSystem", m("System", "PauseSystem"), onlySys, sysReq},
		{"PauseBackgroundTasks", m("System", "PauseBackgroundTasks"), onlySys, sysReq},
		{"ResumeSystem", m("System", "ResumeSystem"), onlySys, sysReq},
		{"ListAuditEvents", m("Audit", "ListAuditEvents"), onlySys, func(*world) proto.Message { return &pb.ListAuditEventsRequest{PageSize: 5} }},

		// Inbound events are held to the rights of the calls they stand for.
		{"PublishEvent/vm.create", m("Events", "PublishEvent"), projectA1, func(w *world) proto.Message {
			spec, _ := protojson.Marshal(vmSpec(w))
			return inboundEvent("io.photon.vm.create.requested", w.p1, string(spec))
		}},
		{"PublishEvent/vm.stop", m("Events", "PublishEvent"), projectA1, func(w *world) proto.Message {
			return inboundEvent("io.photon.vm.stop.requested", w.vm, "")
		}},
		{"PublishEvent/disk.delete", m("Events", "PublishEvent"), projectA1, func(w *world) proto.Message {
			return inboundEvent("io.photon.disk.delete.requested", w.disk, "")
		}},

		// Rules: a project's contributors manage its rules, system administrators the
		// system's.
		{"CreateRule", m("Rules", "CreateRule"), projectA1, func(w *world) proto.Message {
			return &pb.CreateRuleRequest{ProjectId: w.p1, Spec: ruleSpec()}
		}},
		{"CreateRule/system", m("Rules", "CreateRule"), onlySys, func(w *world) proto.Message {
			return &pb.CreateRuleRequest{Spec: ruleSpec()}
		}},
		{"ListRules", m("Rules", "ListRules"), projectA1, func(w *world) proto.Message { return &pb.ListRulesRequest{ProjectId: w.p1} }},
		{"ListRules/system", m("Rules", "ListRules"), onlySys, func(w *world) proto.Message { return &pb.ListRulesRequest{} }},
		{"GetRule", m("Rules", "GetRule"), projectA1, id(func(w *world) string { return w.rule })},

		// Subscriptions: a project's contributors, a tenant's administrators, the
		// system's administrators manage theirs.
		{"CreateSubscription", m("Subscriptions", "CreateSubscription"), projectA1, func(w *world) proto.Message {
			return &pb.CreateSubscriptionRequest{ProjectId: w.p1, Spec: &pb.SubscriptionSpec{Sink: "http://127.0.0.1:9/events"}}
		}},
		{"CreateSubscription/tenant", m("Subscriptions", "CreateSubscription"), tenantA, func(w *world) proto.Message {
			return &pb.CreateSubscriptionRequest{TenantId: w.tenantA, Spec: &pb.SubscriptionSpec{Sink: "http://127.0.0.1:9/events"}}
		}},
		{"CreateSubscription/system", m("Subscriptions", "CreateSubscription"), onlySys, func(w *world) proto.Message {
			return &pb.CreateSubscriptionRequest{Spec: &pb.SubscriptionSpec{Sink: "http://127.0.0.1:9/events"}}
		}},
		{"ListSubscriptions", m("Subscriptions", "ListSubscriptions"), projectA1, func(w *world) proto.Message {
			return &pb.ListSubscriptionsRequest{ProjectId: w.p1}
		}},
		{"ListSubscriptions/tenant", m("Subscriptions", "ListSubscriptions"), tenantA, func(w *world) proto.Message {
			return &pb.ListSubscriptionsRequest{TenantId: w.tenantA}
		}},
		{"ListSubscriptions/system", m("Subscriptions", "ListSubscriptions"), onlySys, func(w *world) proto.Message { return &pb.ListSubscriptionsRequest{} }},
		{"GetSubscription", m("Subscriptions", "GetSubscription"), projectA1, id(func(w *world) string { return w.subscription })},
		{"DeleteSubscription", m("Subscriptions", "DeleteSubscription"), projectA1, id(func(w *world) string { return w.subscription })},
		{"ListDeadLetters", m("Subscriptions", "ListDeadLetters"), projectA1, tasksOf(func(w *world) string { return w.subscription })},
		{"ReplayDeadLetter", m("Subscriptions", "ReplayDeadLetter"), projectA1, id(func(w *world) string { return w.deadLetter })},
		{"DeleteRule", m("Rules", "DeleteRule"), projectA1, id(func(w *world) string { return w.rule })},

		// The directory: system administrators manage its users and groups; anyone reads
		// themselves and changes their own password.
		{"CreateUser", m("Users", "CreateUser"), onlySys, func(*world) proto.Message {
			return &pb.CreateUserRequest{Name: "n-" + rand.Text() + "@matrix.test", Password: matrixPassword}
		}},
		{"ListUsers", m("Users", "ListUsers"), onlySys, func(*world) proto.Message { return &pb.PageRequest{} }},
		{"GetUser", m("Users", "GetUser"), onlySys, func(w *world) proto.Message { return &pb.UserRequest{Name: w.user} }},
		{"DeleteUser", m("Users", "DeleteUser"), onlySys, func(w *world) proto.Message { return &pb.UserRequest{Name: w.user} }},
		{"ResetUserPassword", m("Users", "ResetUserPassword"), onlySys, func(w *world) proto.Message {
			return &pb.ResetUserPasswordRequest{Name: w.user, Password: "another password"}
		}},
		{"CreateGroup", m("Users", "CreateGroup"), onlySys, func(*world) proto.Message {
			return &pb.CreateGroupRequest{Name: `matrix.test\n-` + rand.Text(), Description: "made by the matrix"}
		}},
		{"ListGroups", m("Users", "ListGroups"), onlySys, func(*world) proto.Message { return &pb.PageRequest{} }},
		{"GetGroup", m("Users", "GetGroup"), onlySys, func(w *world) proto.Message { return &pb.GroupRequest{Name: w.group} }},
		{"DeleteGroup", m("Users", "DeleteGroup"), onlySys, func(w *world) proto.Message { return &pb.GroupRequest{Name: w.group} }},
		{"AddGroupMember", m("Users", "AddGroupMember"), onlySys, func(w *world) proto.Message {
			return &pb.GroupMemberRequest{Name: w.group, User: w.user}
		}},
		{"RemoveGroupMember", m("Users", "RemoveGroupMember"), onlySys, func(w *world) proto.Message {
			return &pb.GroupMemberRequest{Name: w.group, User: w.user}
		}},
		{"GetCurrentUser", m("Users", "GetCurrentUser"), anyone, func(*world) proto.Message { return &pb.CurrentUserRequest{} }},
		{"ChangeOwnPassword", m("Users", "ChangeOwnPassword"), anyone, func(*world) proto.Message {
			return &pb.ChangeOwnPasswordRequest{CurrentPassword: matrixPassword, NewPassword: matrixPassword}
		}},
	}
}

// matrixPassword is the password of the directory's users in the matrix: the callers
// (so that they change their own) and each world's user.
const matrixPassword = "matrix password"

var hostAddresses atomic.Int64

// nextAddress is a host address no other host has.
func nextAddress() string {
	n := hostAddresses.Add(1)
	return fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
}

// ruleSpec is a rule that deletes a VM that fails.
func ruleSpec() *pb.RuleSpec {
	return &pb.RuleSpec{Name: "r-" + rand.Text()[:8], Filter: &pb.RuleFilter{Types: []string{"io.photon.vm.error"}},
		Actions: []*pb.RuleAction{{Type: "io.photon.vm.delete.requested", Subject: "{{.Subject}}"}}}
}

// inboundEvent is a new CloudEvent of type t on subject, with JSON data.
func inboundEvent(t, subject, data string) *pb.CloudEvent {
	e := &pb.CloudEvent{Id: rand.Text(), Source: "test/matrix", SpecVersion: "1.0", Type: t, Subject: subject}
	if data != "" {
		e.Data = &pb.CloudEvent_TextData{TextData: data}
	}
	return e
}

func serviceSpec(w *world, name string) *pb.ServiceCreateSpec {
	return &pb.ServiceCreateSpec{Name: name, Type: "KUBERNETES", VmFlavor: "small", DiskFlavor: "disk", VmNetworkId: w.subnet, WorkerCount: 1}
}

func vmSpec(w *world) *pb.VmCreateSpec {
	return &pb.VmCreateSpec{Name: "vm", Flavor: "small", SourceImageId: w.image, AttachedDisks: []*pb.AttachedDisk{
		{Name: "boot", Kind: "ephemeral-disk", Flavor: "disk", BootDisk: true}}}
}

// harness is a gateway on a real Redis, with no functions: chains start and wait.
type harness struct {
	s      *store.Store
	rdb    redis.UniversalClient // the store's client, shared by auth, the broker and the rules
	gw     *gateway.Server
	cc     *grpc.ClientConn
	tokens map[string]string // by caller; "" for noToken
}

func newHarness(t testing.TB, tweaks ...func(*gateway.Options)) *harness {
	ctx := t.Context()
	s, rdb := storetest.NewWithClient(t)
	key, err := auth.LoadOrCreateKey(ctx, rdb, s.Prefix())
	if err != nil {
		t.Fatal(err)
	}
	iss := auth.NewIssuer(key, "photon", time.Hour)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := gateway.Options{Store: s, Broker: events.NewRedisBroker(rdb, s.Prefix(), log),
		Issuer: iss, Users: auth.NewUsers(rdb, s.Prefix()).WithCost(bcrypt.MinCost), Logger: log, Sinks: &egress.Policy{Allow: egress.Loopback}}
	for _, tweak := range tweaks {
		tweak(&o)
	}
	gw, err := gateway.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close(context.WithoutCancel(ctx)) })
	cc, err := grpc.NewClient(gw.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	h := &harness{s: s, rdb: rdb, gw: gw, cc: cc, tokens: map[string]string{noToken: ""}}
	sign := func(i *auth.Issuer, subject string, groups ...string) string {
		tok, _, err := i.Sign(auth.Principal{Subject: subject, Groups: groups})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	h.tokens[sys] = sign(iss, "root", policy.SystemAdminsGroup)
	h.tokens[adminA] = sign(iss, "alice", "acme\\admins")
	h.tokens[adminB] = sign(iss, "bert", "beta\\admins")
	h.tokens[userA1] = sign(iss, "pat", "acme\\p1")
	h.tokens[userA2] = sign(iss, "quinn", "acme\\p2")
	h.tokens[expired] = sign(auth.NewIssuer(key, "photon", -time.Minute), "root", policy.SystemAdminsGroup)
	_, other, _ := ed25519.GenerateKey(nil)
	h.tokens[foreign] = sign(auth.NewIssuer(other, "photon", time.Hour), "root", policy.SystemAdminsGroup)
	// The valid callers are users of the directory too, so that they change their own
	// passwords.
	for _, sub := range []string{"root", "alice", "bert", "pat", "quinn"} {
		if err := o.Users.Put(ctx, sub, matrixPassword, nil); err != nil {
			t.Fatal(err)
		}
	}
	h.tokens[algNone] = unsigned(`{"alg":"none","typ":"JWT"}`, fmt.Sprintf(`{"iss":"photon","sub":"root","groups":[%q],"exp":%d}`,
		policy.SystemAdminsGroup, time.Now().Add(time.Hour).Unix()))

	// Flavors are global: made once.
	h.must(t, m("Flavors", "CreateFlavor"), &pb.CreateFlavorRequest{Spec: &pb.FlavorCreateSpec{Name: "small", Kind: "vm",
		Cost: []*pb.QuotaLineItem{{Key: "vm.cpu", Value: 1, Unit: "COUNT"}, {Key: "vm.memory", Value: 1, Unit: "GB"}}}})
	h.must(t, m("Flavors", "CreateFlavor"), &pb.CreateFlavorRequest{Spec: &pb.FlavorCreateSpec{Name: "disk", Kind: "ephemeral-disk",
		Cost: []*pb.QuotaLineItem{{Key: "ephemeral-disk", Value: 1, Unit: "COUNT"}}}})
	h.must(t, m("Flavors", "CreateFlavor"), &pb.CreateFlavorRequest{Spec: &pb.FlavorCreateSpec{Name: "pd", Kind: "persistent-disk",
		Cost: []*pb.QuotaLineItem{{Key: "persistent-disk", Value: 1, Unit: "COUNT"}}}})
	return h
}

func m(svc, name string) string { return "/photon.v1." + svc + "/" + name }

func unsigned(header, claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(claims)) + "."
}

// invoke calls method with req as caller over gRPC.
func (h *harness) invoke(t testing.TB, caller, method string, req proto.Message) (proto.Message, error) {
	ctx := t.Context()
	if tok := h.tokens[caller]; tok != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	out := outputOf(method)
	return out, h.cc.Invoke(ctx, method, req, out)
}

func outputOf(method string) proto.Message {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", ".")))
	if err != nil {
		panic(err) // the method names come from the descriptors
	}
	mt, err := protoregistry.GlobalTypes.FindMessageByName(d.(protoreflect.MethodDescriptor).Output().FullName())
	if err != nil {
		panic(err) // the method names come from the descriptors
	}
	return mt.New().Interface()
}

// must calls method as the system administrator and returns the entity id its task (or
// answer) names.
func (h *harness) must(t testing.TB, method string, req proto.Message) string {
	t.Helper()
	out, err := h.invoke(t, sys, method, req)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	if tk, ok := out.(*pb.Task); ok {
		return tk.GetEntity().GetId()
	}
	return ""
}

// world makes a new world; n keeps its names apart from the other worlds'.
func (h *harness) world(t testing.TB) *world {
	t.Helper()
	ctx := t.Context()
	n := rand.Text()[:8]
	w := &world{flavor: h.must(t, m("Flavors", "CreateFlavor"), &pb.CreateFlavorRequest{Spec: &pb.FlavorCreateSpec{Name: "f" + n, Kind: "vm",
		Cost: []*pb.QuotaLineItem{{Key: "vm.cpu", Value: 1, Unit: "COUNT"}, {Key: "vm.memory", Value: 1, Unit: "GB"}}}})}
	w.tenantA = h.must(t, m("Tenants", "CreateTenant"), &pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "a" + n, SecurityGroups: []string{"acme\\admins"}}})
	w.tenantB = h.must(t, m("Tenants", "CreateTenant"), &pb.CreateTenantRequest{Spec: &pb.TenantCreateSpec{Name: "b" + n, SecurityGroups: []string{"beta\\admins"}}})
	project := func(tenant, name, group string) string {
		return h.must(t, m("Projects", "CreateProject"), &pb.CreateProjectRequest{TenantId: tenant, Spec: &pb.ProjectCreateSpec{Name: name,
			SecurityGroups: []string{group}, ResourceTicket: &pb.ResourceTicketReservation{Name: "t",
				Limits: []*pb.QuotaLineItem{{Key: "vm.count", Value: 100, Unit: "COUNT"}}}}})
	}
	w.p1, w.p2, w.pb = project(w.tenantA, "p1", "acme\\p1"), project(w.tenantA, "p2", "acme\\p2"), project(w.tenantB, "pb", "beta\\pb")
	images := []*model.Image{{Name: "public"}, {Name: "own", ProjectID: w.p1, TenantID: w.tenantA}}
	for _, im := range images {
		im.ID, im.State, im.ReplicationType, im.DiskPath, im.CreatedAt = "im-"+rand.Text(), model.ImageReady, model.ReplicationOnDemand, "images/x.vmdk", h.s.Now()
		if err := h.s.CreateImage(ctx, im, h.s.NewTask("", "CREATE_IMAGE", model.Entity{ID: im.ID, Kind: model.KindImage}, model.Caller{Subject: "root"}, nil)); err != nil {
			t.Fatal(err)
		}
	}
	w.publicImage, w.image = images[0].ID, images[1].ID
	out, err := h.invoke(t, sys, m("Vms", "CreateVm"), &pb.CreateVmRequest{ProjectId: w.p1, Spec: vmSpec(w)})
	if err != nil {
		t.Fatalf("create VM: %v", err)
	}
	w.vm, w.task = out.(*pb.Task).GetEntity().GetId(), out.(*pb.Task).GetId()
	w.disk = h.must(t, m("Disks", "CreateDisk"), &pb.CreateDiskRequest{ProjectId: w.p1, Spec: &pb.DiskCreateSpec{Name: "d", Kind: "persistent-disk", Flavor: "pd", CapacityGb: 1}})
	w.router = h.must(t, m("Networks", "CreateRouter"), &pb.CreateRouterRequest{ProjectId: w.p1, Spec: &pb.RouterCreateSpec{Name: "r", PrivateIpCidr: "10.1.0.0/16"}})
	// The router's chain does not run here: mark it made, as logicalrouter would.
	if _, err := store.Update(ctx, h.s, model.KindRouter, w.router, func(r *model.Router) error { r.State = model.NetReady; return nil }); err != nil {
		t.Fatal(err)
	}
	w.subnet = h.must(t, m("Networks", "CreateSubnet"), &pb.CreateSubnetRequest{Id: w.router, Spec: &pb.SubnetCreateSpec{Name: "s", PrivateIpCidr: "10.1.1.0/24"}})
	if _, err := store.Update(ctx, h.s, model.KindSubnet, w.subnet, func(sn *model.Subnet) error { sn.State = model.NetReady; return nil }); err != nil {
		t.Fatal(err)
	}
	h.must(t, m("Deployment", "EnableServiceType"), &pb.ServiceTypeRequest{Type: "KUBERNETES", ImageId: w.publicImage})
	w.service = h.must(t, m("Services", "CreateService"), &pb.CreateServiceRequest{ProjectId: w.p1, Spec: serviceSpec(w, "k")})
	// The service's chain does not run here: mark it made.
	if _, err := store.Update(ctx, h.s, model.KindService, w.service, func(s *model.Service) error {
		s.State, s.ActiveTask = model.ServiceReady, ""
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	w.zone = h.must(t, m("AvailabilityZones", "CreateAvailabilityZone"), &pb.CreateAvailabilityZoneRequest{Spec: &pb.AvailabilityZoneCreateSpec{Name: "z" + n}})
	w.rule = h.must(t, m("Rules", "CreateRule"), &pb.CreateRuleRequest{ProjectId: w.p1, Spec: ruleSpec()})
	w.subscription = h.must(t, m("Subscriptions", "CreateSubscription"), &pb.CreateSubscriptionRequest{ProjectId: w.p1,
		Spec: &pb.SubscriptionSpec{Sink: "http://127.0.0.1:9/events", Types: []string{"io.photon.vm.*"}}})
	dl := &store.DeadLetter{SubscriptionID: w.subscription, Event: []byte(`{"specversion":"1.0","id":"x","source":"s","type":"io.photon.vm.started"}`), Attempts: 3}
	if err := h.s.AddDeadLetter(ctx, dl); err != nil {
		t.Fatal(err)
	}
	w.deadLetter = dl.ID
	w.user, w.group = "u-"+n+"@matrix.test", `matrix.test\g-`+n
	h.must(t, m("Users", "CreateGroup"), &pb.CreateGroupRequest{Name: w.group})
	h.must(t, m("Users", "CreateUser"), &pb.CreateUserRequest{Name: w.user, Password: matrixPassword, Groups: []string{w.group}})
	addr := nextAddress()
	w.host = h.must(t, m("Hosts", "CreateHost"), &pb.CreateHostRequest{Spec: &pb.HostCreateSpec{Address: addr, Username: "root", Password: "x"}})
	// Its hostd registers it, with a datastore.
	w.datastore = "ds-" + n
	if err := h.s.RegisterHost(ctx, model.Host{ID: w.host, Address: addr + ":1", State: model.HostReady, CPUCores: 4, MemoryMB: 8192,
		Datastores: []model.Datastore{{ID: w.datastore, Name: w.datastore, Type: "VMFS", CapacityBytes: 1 << 40, FreeBytes: 1 << 40}}}); err != nil {
		t.Fatal(err)
	}
	return w
}

// hidden are the ids of w that caller must never see in an answer.
func (w *world) hidden(caller string) []string {
	a1 := []string{w.p1, w.vm, w.disk, w.router, w.subnet, w.image, w.task, w.rule, w.subscription, w.deadLetter, w.service}
	b := []string{w.tenantB, w.pb}
	switch caller {
	case adminA:
		return b
	case adminB:
		return append([]string{w.tenantA, w.p2}, a1...)
	case userA1:
		return append([]string{w.p2}, b...)
	case userA2:
		return append(slices.Clone(a1), b...)
	}
	return nil
}

// denied tells a refusal for lack of rights (or of a valid token) from any other answer.
func denied(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied, codes.NotFound:
		return true
	}
	return false
}

// TestAuthorizationMatrix calls every API method, over gRPC and over REST, as each kind
// of caller, on entities of tenant A, and checks who is let through: zero unexpected
// allows, zero unexpected denials, and no answer that names an entity its caller may not
// see. A method missing from the table fails the test.
func TestAuthorizationMatrix(t *testing.T) {
	h := newHarness(t)
	cs := calls()
	covered := map[string]bool{}
	for _, c := range cs {
		covered[c.method] = true
	}
	for _, method := range apiMethods() {
		if !covered[method] {
			t.Errorf("%s is not in the authorization matrix", method)
		}
	}
	shared := h.world(t)
	rest := newRESTClient(h)
	for _, c := range cs {
		t.Run(c.name, func(t *testing.T) {
			for _, who := range callers {
				allowed := slices.Contains(c.allowed, who)
				for _, proto := range []string{"grpc", "rest"} {
					w := shared
					if allowed && !readOnly(c.method) {
						// Each allowed call that changes something gets a world of its own: it
						// may delete what it acts on. Reads share one.
						w = h.world(t)
					}
					var out []byte
					var err error
					if proto == "grpc" {
						var msg any
						msg, err = h.invoke(t, who, c.method, c.req(w))
						out, _ = json.Marshal(msg)
					} else {
						out, err = rest.call(t, who, c.method, c.req(w))
					}
					switch {
					case allowed && denied(err):
						t.Errorf("%s: %s was refused: %v", proto, who, err)
					case !allowed && !denied(err):
						t.Errorf("%s: UNEXPECTED ALLOW: %s got %v (%.200s)", proto, who, err, out)
					case err == nil:
						for _, id := range w.hidden(who) {
							if bytes.Contains(out, []byte(id)) {
								t.Errorf("%s: %s sees %s in %.300s", proto, who, id, out)
							}
						}
					}
					if paused, _ := h.paused(t); paused {
						h.must(t, m("System", "ResumeSystem"), &pb.SystemRequest{})
					}
					if who == sys && strings.Contains(c.name, "SystemSecurityGroups") {
						h.must(t, m("Tenants", "SetSystemSecurityGroups"), &pb.SystemSecurityGroupsRequest{})
					}
				}
			}
		})
	}
}

// readOnly reports whether a method only reads, by its name (Get..., List...).
func readOnly(method string) bool {
	name := method[strings.LastIndex(method, "/")+1:]
	return strings.HasPrefix(name, "Get") || strings.HasPrefix(name, "List")
}

func (h *harness) paused(t testing.TB) (bool, error) {
	st, err := h.s.SystemState(t.Context())
	return st != store.SystemReady, err
}

// apiMethods are the full names of every method of the photon.v1 services.
func apiMethods() []string {
	var out []string
	protoregistry.GlobalFiles.RangeFilesByPackage("photon.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				out = append(out, "/"+string(s.FullName())+"/"+string(s.Methods().Get(j).Name()))
			}
		}
		return true
	})
	return out
}

// restClient calls methods through their REST mapping (google.api.http), built from the
// method's annotation and the request message.
type restClient struct {
	h    *harness
	base string
}

func newRESTClient(h *harness) *restClient {
	return &restClient{h: h, base: "http://" + h.gw.HTTPAddr()}
}

var pathParam = regexp.MustCompile(`\{([a-z_.]+)(=[^}]*)?\}`)

func (c *restClient) call(t testing.TB, caller, method string, req proto.Message) ([]byte, error) {
	d, _ := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.ReplaceAll(strings.TrimPrefix(method, "/"), "/", ".")))
	if ce, ok := req.(*pb.CloudEvent); ok {
		return c.send(t, caller, "POST", "/v1/events", "application/cloudevents+json", structured(ce))
	}
	rule := proto.GetExtension(d.(protoreflect.MethodDescriptor).Options(), annotations.E_Http).(*annotations.HttpRule)
	fields := req.ProtoReflect().Descriptor().Fields()
	// The first binding whose path parameters the request fills.
	for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		p := b.GetGet() + b.GetPost() + b.GetPut() + b.GetPatch() + b.GetDelete()
		if !slices.ContainsFunc(pathParam.FindAllStringSubmatch(p, -1), func(m []string) bool {
			return req.ProtoReflect().Get(fields.ByName(protoreflect.Name(m[1]))).String() == ""
		}) {
			rule = b
			break
		}
	}
	verb, pattern := "GET", rule.GetGet()
	switch {
	case rule.GetPost() != "":
		verb, pattern = "POST", rule.GetPost()
	case rule.GetPut() != "":
		verb, pattern = "PUT", rule.GetPut()
	case rule.GetPatch() != "":
		verb, pattern = "PATCH", rule.GetPatch()
	case rule.GetDelete() != "":
		verb, pattern = "DELETE", rule.GetDelete()
	}
	path := pathParam.ReplaceAllStringFunc(pattern, func(p string) string {
		name := pathParam.FindStringSubmatch(p)[1]
		return req.ProtoReflect().Get(fields.ByName(protoreflect.Name(name))).String()
	})
	var body []byte
	if b := rule.GetBody(); b != "" {
		all, err := protojson.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if b != "*" {
			var obj map[string]json.RawMessage
			json.Unmarshal(all, &obj)
			all = obj[fields.ByName(protoreflect.Name(b)).JSONName()]
			if all == nil {
				all = []byte("{}")
			}
		}
		body = all
	}
	return c.send(t, caller, verb, path, "application/json", body)
}

// structured is e in the CloudEvents structured JSON format.
func structured(e *pb.CloudEvent) []byte {
	m := map[string]any{"specversion": e.GetSpecVersion(), "id": e.GetId(), "source": e.GetSource(), "type": e.GetType(),
		"subject": e.GetSubject(), "datacontenttype": "application/json"}
	if d := e.GetTextData(); d != "" {
		m["data"] = json.RawMessage(d)
	}
	b, _ := json.Marshal(m)
	return b
}

// send sends body to path as caller and turns the answer into an error as gRPC would.
func (c *restClient) send(t testing.TB, caller, verb, path, contentType string, body []byte) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, _ := http.NewRequestWithContext(t.Context(), verb, c.base+path, rd)
	if tok := c.h.tokens[caller]; tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	r.Header.Set("Content-Type", contentType)
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	switch res.StatusCode {
	case http.StatusUnauthorized:
		return out, status.Error(codes.Unauthenticated, string(out))
	case http.StatusForbidden:
		return out, status.Error(codes.PermissionDenied, string(out))
	case http.StatusNotFound:
		return out, status.Error(codes.NotFound, string(out))
	}
	if res.StatusCode >= 300 {
		return out, status.Errorf(codes.Unknown, "%d %s", res.StatusCode, out)
	}
	return out, nil
}
