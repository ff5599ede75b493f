package gateway

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// Images: public images (of no project), which every project may use and only system
// administrators make or delete, and project images, which only their project sees.
// Uploads are in imageupload.go.
type images struct {
	pb.UnimplementedImagesServer
	*core
}

// propImageID names the image a VM's create_image makes (functions/images.PropImageID).
const propImageID = "imageId"

// replicationType checks a replication type; empty is ON_DEMAND.
func replicationType(s string) (string, error) {
	switch t := strings.ToUpper(strings.TrimSpace(s)); t {
	case "":
		return model.ReplicationOnDemand, nil
	case model.ReplicationOnDemand, model.ReplicationEager:
		return t, nil
	}
	return "", errs.Invalid("replicationType %q is not EAGER or ON_DEMAND", s).WithData("field", "replicationType")
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
	im := &model.Image{ID: newID(), Name: strings.TrimSpace(spec.GetName()), State: model.ImageReady,
		DiskPath: path.Clean(spec.GetDiskPath()), CreatedAt: s.store.Now()}
	if im.Name == "" || spec.GetDiskPath() == "" {
		return nil, errs.Invalid("name and diskPath are required")
	}
	var err error
	if im.ReplicationType, err = replicationType(spec.GetReplicationType()); err != nil {
		return nil, err
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
	task := s.store.NewTask(taskID(ctx), "CREATE_IMAGE", model.Entity{ID: im.ID, Kind: model.KindImage}, caller(ctx), nil)
	if err := s.store.CreateImage(ctx, im, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

// image reads an image the caller has the role on that the method of ctx needs: a
// viewer reads it, a contributor makes VMs of it (see policy.ImageRole).
func (c *core) image(ctx context.Context, id string) (*model.Image, error) {
	return c.imageAs(ctx, id, need(ctx))
}

// ListImages lists the images the caller may see: every image for a system
// administrator; for anyone else the public ones, those of the projects they see, and
// those shared with them by the images' IAM policies.
func (s *images) ListImages(ctx context.Context, req *pb.ListImagesRequest) (*pb.ImageList, error) {
	page, err := s.store.ListImages(ctx, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.ImageList{NextPageLink: pageLink("/v1/images", req.GetPageSize(), page.Next)}
	who := caller(ctx)
	type scope struct {
		t *model.Tenant
		p *model.Project
	}
	scopes := map[string]scope{} // by project id
	for _, im := range page.Items {
		if req.GetName() != "" && im.Name != req.GetName() {
			continue
		}
		sc, ok := scopes[im.ProjectID]
		if !ok {
			t, p, err := s.imageScope(ctx, im)
			if errors.Is(err, errs.ErrNotFound) {
				continue // its project is being deleted
			}
			if err != nil {
				return nil, err
			}
			sc = scope{t, p}
			scopes[im.ProjectID] = sc
		}
		if policy.ImageRole(who, im, sc.t, sc.p) >= policy.Viewer {
			out.Items = append(out.Items, imagePB(im))
		}
	}
	return out, nil
}

// maxProjectImages bounds a project's image list (its own images, then the public ones).
const maxProjectImages = 1000

// ListProjectImages lists a project's images and the public ones.
func (s *images) ListProjectImages(ctx context.Context, req *pb.ListProjectImagesRequest) (*pb.ImageList, error) {
	p, _, err := s.projectFor(ctx, req.GetProjectId())
	if err != nil {
		return nil, err
	}
	own, err := s.store.ListProjectImages(ctx, p.ID, maxProjectImages, "")
	if err != nil {
		return nil, err
	}
	public, err := s.store.ListPublicImages(ctx, maxProjectImages, "")
	if err != nil {
		return nil, err
	}
	out := &pb.ImageList{}
	for _, im := range append(own.Items, public.Items...) {
		if req.GetName() == "" || im.Name == req.GetName() {
			out.Items = append(out.Items, imagePB(im))
		}
	}
	return out, nil
}

func (s *images) GetImage(ctx context.Context, req *pb.IdRequest) (*pb.Image, error) {
	im, err := s.image(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return imagePB(im), nil
}

func (s *images) ListImageTasks(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.TaskList, error) {
	im, err := s.image(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, im.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/images/"+im.ID+"/tasks")
}

func (s *images) DeleteImage(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.deleteImage(ctx, req) })
}

// deleteImage closes the image to new VMs. Unused, it is deleted from every datastore by
// the image.delete chain; used, it waits PENDING_DELETE for its last VM's delete, which
// deletes it (functions/vmhost), and the task completes at once.
func (s *images) deleteImage(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	im, err := s.imageAs(ctx, req.GetId(), policy.Owner)
	if err != nil {
		return nil, err
	}
	if err := deletable(im); err != nil {
		return nil, err
	}
	users, err := s.store.CloseImage(ctx, im.ID)
	if err != nil {
		return nil, err
	}
	chain := &events.ImageDelete
	var steps []string
	if users == 0 {
		steps = operations(chain)
	}
	task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: im.ID, Kind: model.KindImage}, caller(ctx), steps)
	task.TenantID, task.ProjectID = im.TenantID, im.ProjectID
	if users > 0 {
		task.Properties = map[string]string{"vms": fmt.Sprint(users)}
	}
	if users == 0 {
		if err := s.admit(ctx, im.TenantID, task.ID); err != nil {
			s.reopen(ctx, im)
			return nil, err
		}
	}
	if users == 0 {
		withStart(ctx, chain, im.TenantID, task)
	}
	_, err = store.StartTask(ctx, s.store, model.KindImage, im.ID, task, func(im *model.Image) error {
		if err := deletable(im); err != nil {
			return err
		}
		im.State = model.ImagePendingDelete
		if users == 0 {
			im.ActiveTask = task.ID
		}
		return nil
	})
	if err != nil {
		s.store.Release(context.WithoutCancel(ctx), im.TenantID, task.ID)
		s.reopen(ctx, im)
		return nil, err
	}
	return taskPB(task), nil
}

// deletable: an image is deleted once, when no task holds it.
func deletable(im *model.Image) error {
	switch {
	case im.ActiveTask != "":
		return errs.New(errs.CodeStateError, "image %s is busy with task %s", im.ID, im.ActiveTask).WithData("task", im.ActiveTask)
	case im.State != model.ImageReady && im.State != model.ImageError:
		return errs.New(errs.CodeStateError, "image %s is %s", im.ID, im.State)
	}
	return nil
}

// reopen undoes CloseImage after a delete that did not start.
func (s *images) reopen(ctx context.Context, im *model.Image) {
	if im.State == model.ImageReady {
		if err := s.store.ReopenImage(context.WithoutCancel(ctx), im.ID); err != nil {
			s.log.Error("reopen image", "image", im.ID, "err", err)
		}
	}
}

// CreateVmImage captures a STOPPED VM's boot disk as a new image of its project.
func (s *images) CreateVmImage(ctx context.Context, req *pb.CreateVmImageRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createVmImage(ctx, req) })
}

func (s *images) createVmImage(ctx context.Context, req *pb.CreateVmImageRequest) (*pb.Task, error) {
	vm, err := store.Get[model.VM](ctx, s.store, model.KindVM, req.GetId())
	if err != nil {
		return nil, err
	}
	if _, _, err := s.projectFor(ctx, vm.ProjectID); err != nil {
		return nil, errs.NotFound("Vm", vm.ID)
	}
	name := strings.TrimSpace(req.GetName())
	if name == "" {
		return nil, errs.Invalid("name is required").WithData("field", "name")
	}
	rt, err := replicationType(req.GetReplicationType())
	if err != nil {
		return nil, err
	}
	if err := capturable(vm); err != nil {
		return nil, err
	}
	chain := &events.VMCreateImage
	im := &model.Image{ID: newID(), Name: name, State: model.ImageCreating, ReplicationType: rt,
		ProjectID: vm.ProjectID, TenantID: vm.TenantID, SourceVMID: vm.ID, CreatedAt: s.store.Now(), IAM: madeBy(ctx)}
	im.DiskPath = "images/" + im.ID + ".vmdk"
	task := s.store.NewTask(taskID(ctx), string(chain.Operation), model.Entity{ID: vm.ID, Kind: model.KindVM}, caller(ctx), operations(chain))
	task.TenantID, task.ProjectID = vm.TenantID, vm.ProjectID
	task.Properties = map[string]string{propImageID: im.ID}
	im.ActiveTask = task.ID
	if err := s.admit(ctx, vm.TenantID, task.ID); err != nil {
		return nil, err
	}
	if err := s.store.CreateImage(ctx, im, nil); err != nil {
		s.store.Release(context.WithoutCancel(ctx), vm.TenantID, task.ID)
		return nil, err
	}
	withStart(ctx, chain, vm.TenantID, task)
	_, err = store.StartTask(ctx, s.store, model.KindVM, vm.ID, task, func(vm *model.VM) error {
		if err := capturable(vm); err != nil {
			return err
		}
		vm.ActiveTask = task.ID
		return nil
	})
	if err != nil {
		s.store.Release(context.WithoutCancel(ctx), vm.TenantID, task.ID)
		if rmErr := s.store.RemoveImage(context.WithoutCancel(ctx), im); rmErr != nil {
			s.log.Error("remove image of a refused capture", "image", im.ID, "err", rmErr)
		}
		return nil, err
	}
	return taskPB(task), nil
}

// capturable: an image is made of a VM no other task holds (a StateError here, as Photon
// answered) in a state the VM's state machine lets a capture start from.
func capturable(vm *model.VM) error {
	if vm.ActiveTask != "" {
		return errs.New(errs.CodeStateError, "VM %s is busy with task %s", vm.ID, vm.ActiveTask).WithData("task", vm.ActiveTask)
	}
	return domain.VMMayStart(vm.ID, vm.State, "", events.VMCreateImage.Name, events.VMCreateImage.Operation)
}

// progress is a share as Photon showed it, e.g. "75%".
func progress(done, of int) string {
	if of <= 0 {
		return "100%"
	}
	return fmt.Sprintf("%d%%", min(done, of)*100/of)
}

func imagePB(im *model.Image) *pb.Image {
	out := &pb.Image{Id: im.ID, Kind: "image", Name: im.Name, State: im.State, Size: im.Size, Tags: im.Tags,
		ReplicationType: im.ReplicationType, DiskPath: im.DiskPath, SelfLink: selfLink("image", im.ID),
		ReplicationProgress: progress(len(im.Datastores), im.ReplicationTargets), SeedingProgress: progress(im.Seeded, im.SeedTargets)}
	if im.State == model.ImageCreating {
		if im.ReplicationTargets == 0 {
			out.ReplicationProgress = "0%"
		}
		if im.SeedTargets == 0 {
			out.SeedingProgress = "0%"
		}
	}
	for _, st := range im.Settings {
		out.Settings = append(out.Settings, &pb.ImageSetting{Name: st.Name, DefaultValue: st.DefaultValue})
	}
	return out
}
