package gateway

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/gateway/rest"
	"github.com/photon-cloud/photon/shared/cluster"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// ServiceOptions configure the services (Kubernetes, Harbor) the gateway serves.
type ServiceOptions struct {
	// SealKey seals a service's secrets and opens them for its kubeconfig; TokenKey
	// checks its nodes' report tokens. Both are the functions' too (pki.CA.SecretKey with
	// cluster.SealPurpose and cluster.TokenPurpose).
	SealKey, TokenKey []byte
	// ReportEvery is how often a node's guest reports (0: DefaultReportEvery);
	// ReadyTimeout bounds the wait for a node's first report (0: DefaultReadyTimeout).
	ReportEvery, ReadyTimeout time.Duration
}

// The defaults of ServiceOptions.
const (
	DefaultReportEvery  = time.Minute
	DefaultReadyTimeout = 15 * time.Minute
)

// The bounds of a service's spec.
const (
	MaxServiceWorkers = 1000
	maxMasters        = 3
	maxEtcds          = 3
)

type servicesSvc struct {
	pb.UnimplementedServicesServer
	*core
	vms *vms
	o   ServiceOptions
	// report is the base URL and the CA PEM nodes reach the API by.
	report func() (url, caPEM string)
}

// CreateService checks the spec against what exists (an enabled type, its image, the
// flavors, the subnet, the addresses asked for), builds each role's node VM as a VM
// create would, and writes the service (CREATING) with its plan of nodes, its first
// sealed secrets and its task, whose chain does the rest.
func (s *servicesSvc) CreateService(ctx context.Context, req *pb.CreateServiceRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createService(ctx, req) })
}

func (s *servicesSvc) createService(ctx context.Context, req *pb.CreateServiceRequest) (*pb.Task, error) {
	p, t, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	spec := req.GetSpec()
	if spec == nil {
		return nil, errs.Invalid("a service create spec is required")
	}
	name := strings.TrimSpace(spec.GetName())
	if name == "" {
		return nil, errs.Invalid("name is required").WithData("field", "name")
	}
	if err := domain.CheckName("name", name); err != nil {
		return nil, err
	}
	typ := strings.ToUpper(strings.TrimSpace(spec.GetType()))
	if !slices.Contains(serviceTypes, typ) {
		return nil, errs.Invalid("type %q is not a service type: %s", spec.GetType(), strings.Join(serviceTypes, ", ")).WithData("field", "type")
	}
	st, err := s.store.ServiceType(ctx, typ)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.New(errs.CodeStateError, "service type %s is not enabled: a system administrator enables it with its image "+
			"(POST /v1/system/enable-service-type)", typ).WithData("type", typ)
	}
	if err != nil {
		return nil, err
	}
	image := cmpOr(spec.GetImageId(), st.ImageID)
	subnet := cmpOr(spec.GetVmNetworkId(), spec.GetSubnetId())
	if subnet == "" {
		return nil, errs.Invalid("vmNetworkId is required: the subnet the service's nodes are on").WithData("field", "vmNetworkId")
	}
	if spec.GetVmFlavor() == "" || spec.GetDiskFlavor() == "" {
		return nil, errs.Invalid("vmFlavor and diskFlavor are required")
	}
	ext := spec.GetExtendedProperties()
	plan, err := planNodes(typ, spec.GetWorkerCount(), ext)
	if err != nil {
		return nil, err
	}
	batch := int(spec.GetWorkerBatchExpansionSize())
	if batch < 0 || batch > MaxServiceWorkers {
		return nil, errs.Invalid("workerBatchExpansionSize must be between 1 and %d", MaxServiceWorkers).WithData("field", "workerBatchExpansionSize")
	}
	public, err := publicProperties(typ, ext)
	if err != nil {
		return nil, err
	}
	password := ext["admin_password"]
	if typ == model.ServiceHarbor && password == "" {
		return nil, errs.Invalid("extendedProperties.admin_password is required: Harbor's admin password").WithData("field", "admin_password")
	}
	if typ == model.ServiceKubernetes && public["registry_ca_cert"] == "" {
		// A cluster made in a project that has a Harbor trusts its registry.
		if ca, err := s.harborCA(ctx, p.ID); err != nil {
			return nil, err
		} else if ca != "" {
			public["registry_ca_cert"] = ca
		}
	}
	flavors := map[string]string{model.RoleEtcd: spec.GetVmFlavor(), model.RoleHarbor: spec.GetVmFlavor(),
		model.RoleMaster: cmpOr(spec.GetMasterVmFlavor(), spec.GetVmFlavor()), model.RoleWorker: cmpOr(spec.GetWorkerVmFlavor(), spec.GetVmFlavor())}
	templates := map[string]*model.VM{}
	for _, n := range plan {
		if templates[n.Role] != nil {
			continue
		}
		if templates[n.Role], err = s.template(ctx, p, name, n.Role, flavors[n.Role], image, spec.GetDiskFlavor(), subnet); err != nil {
			return nil, err
		}
	}
	svc := &model.Service{ID: newID(), Name: name, Type: typ, TenantID: t.ID, ProjectID: p.ID, State: model.ServiceCreating,
		ImageID: image, SubnetID: subnet, VMFlavor: spec.GetVmFlavor(), MasterFlavor: spec.GetMasterVmFlavor(),
		WorkerFlavor: spec.GetWorkerVmFlavor(), DiskFlavor: spec.GetDiskFlavor(), Extended: public, Templates: templates,
		ReportEvery: s.reportEvery().Milliseconds(), ReadyTimeout: s.readyTimeout().Milliseconds(), CreatedAt: s.store.Now()}
	svc.ReportURL, svc.ReportCA = s.report()
	for _, n := range plan {
		n.VMID, n.ImageID = newID(), image
		svc.Nodes = append(svc.Nodes, n)
		if n.Role == model.RoleWorker {
			svc.WorkerCount, svc.NextIndex = svc.WorkerCount+1, max(svc.NextIndex, n.Index)
		}
	}
	svc.BatchSize = cmpOr(batch, max(svc.WorkerCount, 1))
	if svc.Cost, err = clusterCost(svc, svc.WorkerCount); err != nil {
		return nil, err
	}
	var sealed []byte
	if password != "" {
		if sealed, err = cluster.SealSecrets(s.o.SealKey, &cluster.Secrets{AdminPassword: password}); err != nil {
			return nil, err
		}
	}
	chain := &events.ServiceCreate
	task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: svc.ID, Kind: model.KindService}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID = t.ID, p.ID
	svc.ActiveTask = task.ID
	return s.begin(ctx, chain, task, func() error { return s.store.CreateService(ctx, svc, sealed, task) })
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

func (s *servicesSvc) reportEvery() time.Duration {
	return cmpOr(s.o.ReportEvery, DefaultReportEvery)
}

func (s *servicesSvc) readyTimeout() time.Duration {
	return cmpOr(s.o.ReadyTimeout, DefaultReadyTimeout)
}

// template is the node VM of role as a VM create of the spec's flavor, image, boot disk
// and subnet would make it: checked by the same rules, with its cost.
func (s *servicesSvc) template(ctx context.Context, p *model.Project, name, role, flavor, image, disk, subnet string) (*model.VM, error) {
	vm, err := s.vms.buildVM(ctx, p, &pb.VmCreateSpec{Name: name + "-" + role, Flavor: flavor, SourceImageId: image,
		Subnets: []string{subnet}, PowerOn: true,
		AttachedDisks: []*pb.AttachedDisk{{Name: "boot", Kind: model.FlavorEphemeralDisk, Flavor: disk, BootDisk: true}}})
	if err != nil {
		return nil, errs.As(err).WithData("role", role)
	}
	return vm, nil
}

// planNodes is a service's nodes by the spec: KUBERNETES has number_of_etcds etcd nodes,
// number_of_masters masters (1 each by default) and workers; HARBOR one node. Their
// addresses are the ones the extended properties ask for, if any.
func planNodes(typ string, workers int32, ext map[string]string) ([]model.ServiceNode, error) {
	if typ == model.ServiceHarbor {
		return []model.ServiceNode{{Role: model.RoleHarbor, Index: 1, IP: ext["master_ip"]}}, nil
	}
	if workers < 1 || workers > MaxServiceWorkers {
		return nil, errs.Invalid("workerCount must be between 1 and %d", MaxServiceWorkers).WithData("field", "workerCount")
	}
	count := func(key string, most int) (int, error) {
		v := ext[key]
		if v == "" {
			return 1, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > most {
			return 0, errs.Invalid("extendedProperties.%s must be between 1 and %d", key, most).WithData("field", key)
		}
		return n, nil
	}
	etcds, err := count("number_of_etcds", maxEtcds)
	if err != nil {
		return nil, err
	}
	masters, err := count("number_of_masters", maxMasters)
	if err != nil {
		return nil, err
	}
	var out []model.ServiceNode
	for i := 1; i <= etcds; i++ {
		out = append(out, model.ServiceNode{Role: model.RoleEtcd, Index: i, IP: ext[fmt.Sprintf("etcd_ip%d", i)]})
	}
	for i := 1; i <= masters; i++ {
		key := "master_ip"
		if i > 1 {
			key = fmt.Sprintf("master_ip%d", i)
		}
		out = append(out, model.ServiceNode{Role: model.RoleMaster, Index: i, IP: ext[key]})
	}
	for i := 1; i <= int(workers); i++ {
		out = append(out, model.ServiceNode{Role: model.RoleWorker, Index: i})
	}
	return out, nil
}

// publicProperties checks the extended properties and keeps those a reader of the
// service may see: everything but secrets (admin_password).
func publicProperties(typ string, ext map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range ext {
		switch {
		case k == "admin_password":
			continue
		case k == "master_ips":
			// Photon's list of master addresses; the masters' own are master_ip, master_ip2.
		case strings.Contains(k, "_ip") || k == "dns" || k == "gateway" || k == "netmask":
			if v != "" {
				if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
					return nil, errs.Invalid("extendedProperties.%s: %q is not an IPv4 address", k, v).WithData("field", k)
				}
			}
		case k == "container_network":
			if _, err := netip.ParsePrefix(v); err != nil {
				return nil, errs.Invalid("extendedProperties.container_network: %q is not a CIDR", v).WithData("field", k)
			}
		case k == "registry_ca_cert":
			if b, _ := pem.Decode([]byte(v)); b == nil {
				return nil, errs.Invalid("extendedProperties.registry_ca_cert is not a PEM certificate").WithData("field", k)
			} else if _, err := x509.ParseCertificate(b.Bytes); err != nil {
				return nil, errs.Invalid("extendedProperties.registry_ca_cert: %v", err).WithData("field", k)
			}
		}
		out[k] = v
	}
	return out, nil
}

// harborCA is the CA of a READY HARBOR service of the project, "" if it has none.
func (s *servicesSvc) harborCA(ctx context.Context, projectID string) (string, error) {
	for cursor := ""; ; {
		page, err := s.store.ListServices(ctx, projectID, store.MaxPageSize, cursor)
		if err != nil {
			return "", err
		}
		for _, svc := range page.Items {
			if svc.Type == model.ServiceHarbor && svc.State == model.ServiceReady && svc.Extended["registry_ca_cert"] != "" {
				return svc.Extended["registry_ca_cert"], nil
			}
		}
		if cursor = page.Next; cursor == "" {
			return "", nil
		}
	}
}

// clusterCost is the cost of svc's nodes with workers workers: each node its role's
// template's cost, summed by quota key.
func clusterCost(svc *model.Service, workers int) ([]model.QuotaLineItem, error) {
	var items []model.QuotaLineItem
	for _, n := range svc.Nodes {
		if n.Role != model.RoleWorker {
			items = append(items, svc.Templates[n.Role].Cost...)
		}
	}
	for range workers {
		items = append(items, svc.Templates[model.RoleWorker].Cost...)
	}
	return sumCost(items)
}

// sumCost adds line items of the same key, in the unit quota counts it in.
func sumCost(items []model.QuotaLineItem) ([]model.QuotaLineItem, error) {
	var out []model.QuotaLineItem
	at := map[string]int{}
	for _, it := range items {
		v, unit, err := domain.Canonical(it.Value, it.Unit)
		if err != nil {
			return nil, err
		}
		if i, ok := at[it.Key]; ok {
			out[i].Value += v
			continue
		}
		at[it.Key] = len(out)
		out = append(out, model.QuotaLineItem{Key: it.Key, Value: v, Unit: unit})
	}
	return out, nil
}

func (s *servicesSvc) ListServices(ctx context.Context, req *pb.ListServicesRequest) (*pb.ServiceList, error) {
	p, _, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	page, err := s.store.ListServices(ctx, p.ID, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.ServiceList{NextPageLink: page.Next}
	for _, svc := range page.Items {
		pbs, err := s.servicePB(ctx, svc, false)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, pbs)
	}
	return out, nil
}

func (s *servicesSvc) GetService(ctx context.Context, req *pb.IdRequest) (*pb.Service, error) {
	svc, err := s.service(ctx, req.GetId(), need(ctx))
	if err != nil {
		return nil, err
	}
	return s.servicePB(ctx, svc, true)
}

// service reads a service if the caller has role want in its project; otherwise it does
// not exist as far as the caller can tell.
func (s *servicesSvc) service(ctx context.Context, id string, want policy.Role) (*model.Service, error) {
	svc, err := store.Get[model.Service](ctx, s.store, model.KindService, id)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.projectAs(ctx, svc.ProjectID, want); err != nil {
		if errors.Is(err, errs.ErrNotFound) {
			return nil, errs.NotFound("Service", id)
		}
		return nil, err
	}
	return svc, nil
}

// servicePB is the service as the API shows it; with nodes, each node's health too.
func (s *servicesSvc) servicePB(ctx context.Context, svc *model.Service, nodes bool) (*pb.Service, error) {
	out := &pb.Service{Kind: "service", Id: svc.ID, Name: svc.Name, State: svc.State, Type: svc.Type, ProjectId: svc.ProjectID,
		WorkerCount: int32(svc.WorkerCount), SelfLink: selfLink("service", svc.ID), ErrorReason: svc.ErrorReason,
		ExtendedProperties: svc.Extended, ImageId: svc.ImageID, VmFlavor: svc.VMFlavor, MasterVmFlavor: svc.MasterFlavor,
		WorkerVmFlavor: svc.WorkerFlavor, DiskFlavor: svc.DiskFlavor, VmNetworkId: svc.SubnetID,
		WorkerBatchExpansionSize: int32(svc.BatchSize)}
	if u := svc.UpgradeStatus; u != nil {
		out.UpgradeStatus = &pb.ServiceUpgradeStatus{NewImageId: u.NewImageID, UpgradeMessage: u.Message, TotalNodes: int32(u.Total),
			NumNodesUpgraded: int32(u.Upgraded), UpgradeResultMessage: u.Result}
	}
	if !nodes {
		return out, nil
	}
	reports, err := s.store.NodeReports(ctx, svc.ID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for _, n := range svc.Nodes {
		state := ""
		vm, err := store.Get[model.VM](ctx, s.store, model.KindVM, n.VMID)
		switch {
		case err == nil:
			state = vm.State
		case !errors.Is(err, errs.ErrNotFound):
			return nil, err
		}
		health := domain.NodeHealth(state, reports[n.VMID], now, time.Duration(svc.ReportEvery)*time.Millisecond)
		if state == "" && svc.State == model.ServiceCreating {
			health = domain.NodePending // not made yet
		}
		out.Nodes = append(out.Nodes, &pb.ServiceNode{VmId: n.VMID, Role: n.Role, State: health, Ip: n.IP, ImageId: n.ImageID,
			LastReport: reports[n.VMID]})
	}
	return out, nil
}

// DeleteService starts the delete chain: the nodes' VMs, the PKI, the addresses, the
// quota, then the record. A service another task holds is ConcurrentTask.
func (s *servicesSvc) DeleteService(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		return s.startOnService(ctx, req.GetId(), &events.ServiceDelete, nil, nil)
	})
}

// startOnService starts chain on the service id with task properties props, once check
// (if any) allows the service as it is.
func (s *servicesSvc) startOnService(ctx context.Context, id string, chain *events.Chain, props map[string]string,
	check func(*model.Service) error) (*pb.Task, error) {
	svc, err := s.service(ctx, id, need(ctx))
	if err != nil {
		return nil, err
	}
	return startOn(ctx, s.core, chain, model.KindService, svc.ID, svc.TenantID, svc.ProjectID, props, func(v *model.Service, task *model.Task) error {
		if v.ActiveTask != "" {
			return errs.New(errs.CodeConcurrentTask, "Service #%s is busy with task %s", v.ID, v.ActiveTask).WithData("task", v.ActiveTask)
		}
		if check != nil {
			if err := check(v); err != nil {
				return err
			}
		}
		v.ActiveTask, v.State, v.ErrorReason = task.ID, domain.ServiceBusy(chain.Name), ""
		return nil
	})
}

// ready refuses a service that is not READY (or ERROR, for the operations that repair).
func ready(orError bool) func(*model.Service) error {
	return func(v *model.Service) error {
		if v.State == model.ServiceReady || (orError && v.State == model.ServiceError) {
			return nil
		}
		want := model.ServiceReady
		if orError {
			want += " or " + model.ServiceError
		}
		return errs.New(errs.CodeStateError, "Service #%s is %s: this needs it %s", v.ID, v.State, want).WithData("state", v.State)
	}
}

func (s *servicesSvc) ListServiceVms(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.VmList, error) {
	svc, err := s.service(ctx, req.GetId(), need(ctx))
	if err != nil {
		return nil, err
	}
	out := &pb.VmList{}
	for _, n := range svc.Nodes {
		vm, err := store.Get[model.VM](ctx, s.store, model.KindVM, n.VMID)
		if errors.Is(err, errs.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, vmPB(vm))
	}
	return out, nil
}

// ResizeService moves a READY KUBERNETES service to a new worker count: its quota to the
// new cost first, then workers added in batches or the newest deleted.
func (s *servicesSvc) ResizeService(ctx context.Context, req *pb.ResizeServiceRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		n := int(req.GetSpec().GetNewWorkerCount())
		if n < 1 || n > MaxServiceWorkers {
			return nil, errs.Invalid("newWorkerCount must be between 1 and %d", MaxServiceWorkers).WithData("field", "newWorkerCount")
		}
		svc, err := s.service(ctx, req.GetId(), need(ctx))
		if err != nil {
			return nil, err
		}
		if svc.Type != model.ServiceKubernetes {
			return nil, errs.Invalid("only a KUBERNETES service has workers to resize")
		}
		cost, err := clusterCost(svc, n)
		if err != nil {
			return nil, err
		}
		props := (&store.Resize{Cost: cost}).Props()
		props = map[string]string{model.PropWorkerCount: strconv.Itoa(n), model.PropCost: props[model.PropCost]}
		return s.startOnService(ctx, svc.ID, &events.ServiceResize, props, ready(false))
	})
}

// TriggerServiceMaintenance replaces the nodes that are in ERROR, gone or silent.
func (s *servicesSvc) TriggerServiceMaintenance(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		return s.startOnService(ctx, req.GetId(), &events.ServiceMaintain, nil, ready(true))
	})
}

// ChangeServiceVersion rolls a READY service's nodes to an image the caller may use.
func (s *servicesSvc) ChangeServiceVersion(ctx context.Context, req *pb.ChangeServiceVersionRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		image := req.GetSpec().GetNewImageId()
		if image == "" {
			return nil, errs.Invalid("newImageId is required").WithData("field", "newImageId")
		}
		svc, err := s.service(ctx, req.GetId(), need(ctx))
		if err != nil {
			return nil, err
		}
		p, _, err := s.projectFor(ctx, svc.ProjectID)
		if err != nil {
			return nil, err
		}
		// The new image must make a node as the old one did.
		role := model.RoleWorker
		if svc.Type == model.ServiceHarbor {
			role = model.RoleHarbor
		}
		if tmpl := svc.Templates[role]; tmpl != nil {
			if _, err := s.template(ctx, p, svc.Name, role, tmpl.Flavor, image, svc.DiskFlavor, svc.SubnetID); err != nil {
				return nil, err
			}
		}
		if _, err := s.imageAs(ctx, image, policy.Viewer); err != nil {
			return nil, err
		}
		return s.startOnService(ctx, svc.ID, &events.ServiceChangeVersion, map[string]string{model.PropImageID: image}, ready(false))
	})
}

func (s *servicesSvc) ListServiceTasks(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.TaskList, error) {
	svc, err := s.service(ctx, req.GetId(), need(ctx))
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, svc.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/services/"+svc.ID+"/tasks")
}

// GetServiceKubeconfig is a KUBERNETES service's admin kubeconfig: admin rights on the
// cluster, so only for those who may change the service.
func (s *servicesSvc) GetServiceKubeconfig(ctx context.Context, req *pb.IdRequest) (*pb.ServiceKubeconfig, error) {
	svc, err := s.service(ctx, req.GetId(), policy.Contributor)
	if err != nil {
		return nil, err
	}
	if svc.Type != model.ServiceKubernetes {
		return nil, errs.Invalid("Service #%s is a %s service: only KUBERNETES has a kubeconfig", svc.ID, svc.Type)
	}
	sealed, err := s.store.ServiceSecrets(ctx, svc.ID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, errs.New(errs.CodeStateError, "Service #%s has no PKI yet", svc.ID)
	}
	if err != nil {
		return nil, err
	}
	kc, err := cluster.KubeconfigOf(svc, s.o.SealKey, sealed)
	if err != nil {
		return nil, err
	}
	return &pb.ServiceKubeconfig{Kubeconfig: string(kc)}, nil
}

func (s *servicesSvc) ListServiceTypes(ctx context.Context, _ *pb.PageRequest) (*pb.ServiceTypeList, error) {
	types, err := s.store.ServiceTypes(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(types, func(a, b model.ServiceType) int { return strings.Compare(a.Type, b.Type) })
	out := &pb.ServiceTypeList{}
	for _, t := range types {
		out.Items = append(out.Items, &pb.ServiceType{Kind: "serviceConfiguration", Type: t.Type, ImageId: t.ImageID})
	}
	return out, nil
}

// nodeReport takes a node's report (cloud-init's phone_home, then its photon-report
// timer): POST /v1/services/{id}/nodes/{vm}/report?token=..., authenticated by the node's
// token alone. A node's first report wakes the task that awaits it.
func (s *servicesSvc) nodeReport(w http.ResponseWriter, r *http.Request) {
	id, vm := r.PathValue("id"), r.PathValue("vm")
	if !cluster.ValidNodeToken(s.o.TokenKey, id, vm, r.URL.Query().Get("token")) {
		rest.ErrorHandler(r.Context(), nil, &rest.Marshaler{}, w, r, errs.New(errs.CodeAccessForbidden, "not a report token of this node"))
		return
	}
	ctx := r.Context()
	svc, err := store.Get[model.Service](ctx, s.store, model.KindService, id)
	if err != nil {
		rest.ErrorHandler(r.Context(), nil, &rest.Marshaler{}, w, r, err)
		return
	}
	if !slices.ContainsFunc(svc.Nodes, func(n model.ServiceNode) bool { return n.VMID == vm }) {
		rest.ErrorHandler(r.Context(), nil, &rest.Marshaler{}, w, r, errs.NotFound("node of service "+id, vm))
		return
	}
	first, err := s.store.ReportNode(ctx, id, vm, s.store.Now())
	if err == nil && first && svc.ActiveTask != "" {
		_, err = s.store.Wake(ctx, svc.ActiveTask)
	}
	if err != nil {
		rest.ErrorHandler(r.Context(), nil, &rest.Marshaler{}, w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
