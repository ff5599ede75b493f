package client

import (
	"context"

	"google.golang.org/protobuf/types/known/emptypb"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// Services: Photon 1.2's Kubernetes and Harbor clusters, each a set of node VMs in a
// project. Every change is a task; the service's own state (CREATING, READY, RESIZING,
// MAINTENANCE, ERROR) says where it stands between tasks.

// CreateService starts a service in a project (POST /v1/projects/{id}/services). Its
// type must have been enabled (EnableServiceType) first.
func (c *Client) CreateService(ctx context.Context, projectID string, s *pb.ServiceCreateSpec) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/projects/"+esc(projectID)+"/services", s)
}

// ListServices lists a project's services (all pages).
func (c *Client) ListServices(ctx context.Context, projectID string) ([]*pb.Service, error) {
	return listAll(ctx, c, "/v1/projects/"+esc(projectID)+"/services", nil, func(l *pb.ServiceList) ([]*pb.Service, string) { return l.GetItems(), l.GetNextPageLink() })
}
func (c *Client) GetService(ctx context.Context, id string) (*pb.Service, error) {
	return get[pb.Service](ctx, c, "/v1/services/"+esc(id))
}

// DeleteService deletes the service's node VMs, then the service.
func (c *Client) DeleteService(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "DELETE", "/v1/services/"+esc(id), nil)
}

// ListServiceVms lists the service's node VMs (all pages).
func (c *Client) ListServiceVms(ctx context.Context, id string) ([]*pb.Vm, error) {
	return listAll(ctx, c, "/v1/services/"+esc(id)+"/vms", nil, func(l *pb.VmList) ([]*pb.Vm, string) { return l.GetItems(), l.GetNextPageLink() })
}

// ResizeService sets the service's worker count: workers are added in batches, or the
// newest removed.
func (c *Client) ResizeService(ctx context.Context, id string, workers int32) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/services/"+esc(id)+"/resize", &pb.ServiceResizeOperation{NewWorkerCount: workers})
}

// TriggerServiceMaintenance replaces the service's failed or silent nodes. The route
// takes a body, so an empty JSON object is sent.
func (c *Client) TriggerServiceMaintenance(ctx context.Context, id string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/services/"+esc(id)+"/trigger_maintenance", &emptypb.Empty{})
}

// ChangeServiceVersion rolls every node of the service to another image, one at a time.
func (c *Client) ChangeServiceVersion(ctx context.Context, id, imageID string) (*pb.Task, error) {
	return c.task(ctx, "POST", "/v1/services/"+esc(id)+"/change_version", &pb.ServiceChangeVersionOperation{NewImageId: imageID})
}

// ListServiceTasks lists the service's tasks (all pages); state "" is every state.
func (c *Client) ListServiceTasks(ctx context.Context, id, state string) ([]*pb.Task, error) {
	return c.EntityTasks(ctx, "/v1/services/"+esc(id)+"/tasks", state)
}

// GetServiceKubeconfig answers a KUBERNETES service's admin kubeconfig (YAML). It holds
// the admin's private key: keep it as private as a password.
func (c *Client) GetServiceKubeconfig(ctx context.Context, id string) ([]byte, error) {
	k, err := get[pb.ServiceKubeconfig](ctx, c, "/v1/services/"+esc(id)+"/kubeconfig")
	if err != nil {
		return nil, err
	}
	return []byte(k.GetKubeconfig()), nil
}

// ListServiceTypes lists the enabled service types with their images (all pages).
func (c *Client) ListServiceTypes(ctx context.Context) ([]*pb.ServiceType, error) {
	return listAll(ctx, c, "/v1/system/service-types", nil, func(l *pb.ServiceTypeList) ([]*pb.ServiceType, string) { return l.GetItems(), l.GetNextPageLink() })
}
