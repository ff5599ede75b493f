package gateway

import (
	"context"
	"path"
	"slices"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

type images struct {
	pb.UnimplementedImagesServer
	*core
}

// RegisterImage records an image whose disk a registered host already holds.
func (s *images) RegisterImage(ctx context.Context, req *pb.RegisterImageRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.registerImage(ctx, req) })
}

func (s *images) registerImage(ctx context.Context, req *pb.RegisterImageRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	spec := req.GetSpec()
	im := &store.Image{ID: newID(), Name: strings.TrimSpace(spec.GetName()), State: "READY",
		ReplicationType: strings.ToUpper(spec.GetReplicationType()), DiskPath: path.Clean(spec.GetDiskPath()), CreatedAt: s.store.Now()}
	if im.Name == "" || spec.GetDiskPath() == "" {
		return nil, errs.Invalid("name and diskPath are required")
	}
	switch im.ReplicationType {
	case "":
		im.ReplicationType = "ON_DEMAND"
	case "ON_DEMAND", "EAGER":
	default:
		return nil, errs.Invalid("replicationType %q is not EAGER or ON_DEMAND", spec.GetReplicationType())
	}
	hosts, err := s.store.ListHosts(ctx)
	if err != nil {
		return nil, err
	}
	found := false
	for _, h := range hosts {
		for _, d := range h.Datastores {
			found = found || slices.Contains(d.Images, im.DiskPath)
		}
	}
	if !found {
		return nil, errs.Invalid("no host has an image disk at %q", im.DiskPath)
	}
	task := s.store.NewTask(taskID(ctx), "CREATE_IMAGE", store.Entity{ID: im.ID, Kind: store.KindImage}, caller(ctx), nil)
	if err := s.store.CreateImage(ctx, im, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *images) ListImages(ctx context.Context, req *pb.ListImagesRequest) (*pb.ImageList, error) {
	page, err := s.store.ListImages(ctx, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.ImageList{NextPageLink: pageLink("/v1/images", req.GetPageSize(), page.Next)}
	for _, im := range page.Items {
		if req.GetName() == "" || im.Name == req.GetName() {
			out.Items = append(out.Items, imagePB(im))
		}
	}
	return out, nil
}

func (s *images) GetImage(ctx context.Context, req *pb.IdRequest) (*pb.Image, error) {
	im, err := store.Get[store.Image](ctx, s.store, store.KindImage, req.GetId())
	if err != nil {
		return nil, err
	}
	return imagePB(im), nil
}

func (s *images) DeleteImage(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.deleteImage(ctx, req) })
}

func (s *images) deleteImage(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	im, err := store.Get[store.Image](ctx, s.store, store.KindImage, req.GetId())
	if err != nil {
		return nil, err
	}
	task := s.store.NewTask(taskID(ctx), "DELETE_IMAGE", store.Entity{ID: im.ID, Kind: store.KindImage}, caller(ctx), nil)
	if err := s.store.DeleteImage(ctx, im, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}
