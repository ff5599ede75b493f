package gateway

import (
	"context"
	"slices"
	"strconv"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// OpSyncHostsConfig is the task of POST /v1/infrastructure/sync-hosts-config.
const OpSyncHostsConfig = "SYNC_HOSTS_CONFIG"

// serviceTypes are the service types Photon 1.2 knew.
var serviceTypes = []string{"KUBERNETES", "HARBOR"}

// deployment serves the Deployment service: what Photon is (GET /v1/info), its own VMs,
// and the deployment settings the SDK can change, which Photon takes from photon up's
// flags and the hosts' hostd instead (see deployment.proto).
type deployment struct {
	pb.UnimplementedDeploymentServer
	*core
	// nsx: networking goes through NSX (the gateway checks an NSX Manager).
	nsx bool
}

func (s *Server) deployment() *deployment {
	_, nsx := s.opts.Checks[ComponentNSX]
	return &deployment{core: s.core, nsx: nsx}
}

func (s *deployment) GetInfo(context.Context, *pb.SystemRequest) (*pb.Info, error) {
	out := &pb.Info{NetworkType: networkType(s.nsx)}
	var commit string
	out.BaseVersion, out.FullVersion, commit = buildVersion()
	out.GitCommitHash = &commit
	return out, nil
}

func (s *deployment) ListSystemVms(ctx context.Context, _ *pb.SystemRequest) (*pb.VmList, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	return &pb.VmList{Items: []*pb.Vm{}}, nil
}

// notImplemented is the answer of a deployment setting Photon takes from elsewhere.
func notImplemented(format string, args ...any) error {
	return errs.New(errs.CodeNotImplemented, format, args...)
}

// serviceType checks a service type spec as Photon did: a system administrator's, a type
// Photon knows, an image they may use (required to enable).
func (s *deployment) serviceType(ctx context.Context, req *pb.ServiceTypeRequest, enable bool) (string, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return "", err
	}
	t := strings.ToUpper(strings.TrimSpace(req.GetType()))
	if !slices.Contains(serviceTypes, t) {
		return "", errs.Invalid("type %q is not a service type: %s", req.GetType(), strings.Join(serviceTypes, ", "))
	}
	if enable && req.GetImageId() == "" {
		return "", errs.Invalid("imageId is required: the image the type's services boot").WithData("field", "imageId")
	}
	if req.GetImageId() != "" {
		if _, err := s.imageAs(ctx, req.GetImageId(), policy.Viewer); err != nil {
			return "", err
		}
	}
	return t, nil
}

// EnableServiceType makes a type usable with its image, at once (a COMPLETED task).
func (s *deployment) EnableServiceType(ctx context.Context, req *pb.ServiceTypeRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		t, err := s.serviceType(ctx, req, true)
		if err != nil {
			return nil, err
		}
		if err := s.store.PutServiceType(ctx, model.ServiceType{Type: t, ImageID: req.GetImageId()}); err != nil {
			return nil, err
		}
		return s.completed(ctx, string(domain.OpEnableServiceType), model.Entity{ID: t, Kind: "serviceConfiguration"},
			map[string]string{"type": t, "imageId": req.GetImageId()})
	})
}

// DisableServiceType stops new services of a type; those that run go on.
func (s *deployment) DisableServiceType(ctx context.Context, req *pb.ServiceTypeRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		t, err := s.serviceType(ctx, req, false)
		if err != nil {
			return nil, err
		}
		if err := s.store.DeleteServiceType(ctx, t); err != nil {
			return nil, err
		}
		return s.completed(ctx, string(domain.OpDisableServiceType), model.Entity{ID: t, Kind: "serviceConfiguration"},
			map[string]string{"type": t})
	})
}

func (s *deployment) ConfigureNsx(ctx context.Context, _ *pb.NsxConfigurationSpec) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	return nil, notImplemented("NSX is configured when Photon starts (photon up --nsx-* flags), not through the API")
}

func (s *deployment) SetImageDatastores(ctx context.Context, _ *pb.ImageDatastores) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	return nil, notImplemented("each host's hostd chooses its image datastore; GET /v1/system/info lists the datastores that hold images")
}

func (s *deployment) SyncHostsConfig(ctx context.Context, _ *pb.SystemRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		if err := requireSystemAdmin(ctx); err != nil {
			return nil, err
		}
		hosts, err := s.store.ListHosts(ctx)
		if err != nil {
			return nil, err
		}
		ready := 0
		for _, h := range hosts {
			if h.State == model.HostReady {
				ready++
			}
		}
		return s.completed(ctx, OpSyncHostsConfig, model.Entity{ID: SystemID, Kind: "deployment"},
			map[string]string{"hosts": strconv.Itoa(len(hosts)), "hostsReady": strconv.Itoa(ready)})
	})
}

func (s *deployment) ProvisionHost(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		if err := requireSystemAdmin(ctx); err != nil {
			return nil, err
		}
		h, err := s.store.GetHost(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		switch h.State {
		case model.HostCreating:
			return nil, errs.New(errs.CodeStateError, "Host #%s is being provisioned by the task that registered it", h.ID).WithData("state", h.State)
		case model.HostError:
			return nil, errs.New(errs.CodeStateError, "Host #%s lost its hostd (%s); Photon keeps no host credentials: "+
				"restart its hostd, or delete the host and register it again", h.ID, h.StateReason).WithData("state", h.State)
		}
		return s.completed(ctx, OpProvisionHost, model.Entity{ID: h.ID, Kind: model.KindHost},
			map[string]string{"state": h.State, "hostd": "registered"})
	})
}

// completed records a task of op on e that is completed at once, with its
// resourceProperties props.
func (s *deployment) completed(ctx context.Context, op string, e model.Entity, props map[string]string) (*pb.Task, error) {
	task := s.store.NewTask(taskID(ctx), op, e, caller(ctx), nil)
	task.Properties = props
	if err := s.store.Apply(ctx, s.store.AddTask(new(store.Batch), task)); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}
