package gateway

import (
	"context"
	"errors"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/domain/vmrules"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

type flavors struct {
	pb.UnimplementedFlavorsServer
	*core
}

// canonical expresses quota items in the units quota is counted in: COUNT for counts and
// GB for sizes, so a flavor's "2048 MB" and a project's "64 GB" limit compare correctly.
func canonical(items []model.QuotaLineItem) ([]model.QuotaLineItem, error) {
	out := make([]model.QuotaLineItem, len(items))
	for i, it := range items {
		v, unit, err := domain.Canonical(it.Value, it.Unit)
		if err != nil {
			return nil, err
		}
		out[i] = model.QuotaLineItem{Key: it.Key, Value: v, Unit: unit}
	}
	return out, nil
}

func (s *flavors) CreateFlavor(ctx context.Context, req *pb.CreateFlavorRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.createFlavor(ctx, req) })
}

func (s *flavors) createFlavor(ctx context.Context, req *pb.CreateFlavorRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	spec := req.GetSpec()
	f := &model.Flavor{ID: newID(), Name: strings.TrimSpace(spec.GetName()), Kind: spec.GetKind(),
		Cost: fromQuotaItems(spec.GetCost()), State: "READY", CreatedAt: s.store.Now()}
	if f.Name == "" {
		return nil, errs.Invalid("name is required")
	}
	switch f.Kind {
	case model.FlavorVM, model.FlavorEphemeralDisk, model.FlavorPersistentDisk:
	case "ephemeral", "persistent":
		f.Kind += "-disk"
	default:
		return nil, errs.Invalid("kind %q is not one of vm, ephemeral-disk, persistent-disk", f.Kind)
	}
	if len(f.Cost) == 0 {
		return nil, errs.Invalid("a flavor needs a cost")
	}
	for _, c := range f.Cost {
		if c.Key == "" || c.Value < 0 {
			return nil, errs.Invalid("cost items need a key and a value of 0 or more")
		}
		if _, err := domain.UnitFactor(c.Unit); err != nil {
			return nil, err
		}
	}
	if f.Kind == model.FlavorVM {
		if _, _, err := vmrules.Size(f); err != nil {
			return nil, err
		}
	}
	policy, err := placementPolicy(spec.GetPlacementPolicy())
	if err != nil {
		return nil, err
	}
	if policy != "" && f.Kind != model.FlavorVM {
		return nil, errs.Invalid("only vm flavors have a placementPolicy")
	}
	f.PlacementPolicy = policy
	task := s.store.NewTask(taskID(ctx), "CREATE_FLAVOR", model.Entity{ID: f.ID, Kind: model.KindFlavor}, caller(ctx), nil)
	if err := s.store.CreateFlavor(ctx, f, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

func (s *flavors) ListFlavors(ctx context.Context, req *pb.ListFlavorsRequest) (*pb.FlavorList, error) {
	if req.GetName() != "" && req.GetKind() != "" {
		out := &pb.FlavorList{}
		f, err := s.store.FlavorByName(ctx, req.GetKind(), req.GetName())
		if errors.Is(err, errs.ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, flavorPB(f))
		return out, nil
	}
	page, err := s.store.ListFlavors(ctx, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.FlavorList{NextPageLink: pageLink("/v1/flavors", req.GetPageSize(), page.Next)}
	for _, f := range page.Items {
		if (req.GetName() == "" || f.Name == req.GetName()) && (req.GetKind() == "" || f.Kind == req.GetKind()) {
			out.Items = append(out.Items, flavorPB(f))
		}
	}
	return out, nil
}

func (s *flavors) GetFlavor(ctx context.Context, req *pb.IdRequest) (*pb.Flavor, error) {
	f, err := store.Get[model.Flavor](ctx, s.store, model.KindFlavor, req.GetId())
	if err != nil {
		return nil, err
	}
	return flavorPB(f), nil
}

func (s *flavors) DeleteFlavor(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) { return s.deleteFlavor(ctx, req) })
}

func (s *flavors) deleteFlavor(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	f, err := store.Get[model.Flavor](ctx, s.store, model.KindFlavor, req.GetId())
	if err != nil {
		return nil, err
	}
	task := s.store.NewTask(taskID(ctx), "DELETE_FLAVOR", model.Entity{ID: f.ID, Kind: model.KindFlavor}, caller(ctx), nil)
	if err := s.store.DeleteFlavor(ctx, f, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

// ListFlavorTasks lists the tasks of a flavor; like a zone's, they are listed only to
// whoever may read them (a flavor's are the system's: its administrators).
func (s *flavors) ListFlavorTasks(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.TaskList, error) {
	f, err := store.Get[model.Flavor](ctx, s.store, model.KindFlavor, req.GetId())
	if err != nil {
		return nil, err
	}
	return listTasks(ctx, s.core, f.ID, req.GetState(), req.GetPageSize(), req.GetPageLink(), "/v1/flavors/"+f.ID+"/tasks")
}
