package gateway

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/egress"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// subscriptionsSvc serves the subscriptions of outbound events (shared/notify delivers
// them) and their dead letters.
type subscriptionsSvc struct {
	pb.UnimplementedSubscriptionsServer
	*core
	sinks *egress.Policy // where sinks may be (Options.Sinks)
}

// scope checks that the caller may manage (or, in a read, see) the subscriptions of a
// project, of a tenant, or of the system (both ids empty), and returns the scope's ids.
// A project's need the role the method needs on it; a tenant's need its administrators
// to change them (anyone with a role on it reads them); the system's are system
// administrators'.
func (s *subscriptionsSvc) scope(ctx context.Context, projectID, tenantID string) (string, string, error) {
	switch {
	case projectID != "":
		p, t, err := s.projectFor(ctx, projectID)
		if err != nil {
			return "", "", err
		}
		return t.ID, p.ID, nil
	case tenantID != "":
		t, err := s.tenant(ctx, tenantID)
		if err != nil {
			return "", "", err
		}
		if need(ctx) > policy.Viewer {
			if err := allowAs(ctx, policy.TenantRole(caller(ctx), t), policy.Owner, "Tenant", t.ID); err != nil {
				return "", "", err
			}
		}
		return t.ID, "", nil
	}
	return "", "", requireSystemAdmin(ctx)
}

// subscription reads a subscription whose scope the caller may see (or change).
func (s *subscriptionsSvc) subscription(ctx context.Context, id string) (*store.Subscription, error) {
	sub, err := s.store.GetSubscription(ctx, id)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.scope(ctx, sub.ProjectID, sub.TenantID); err != nil {
		if errs.As(err).Code == errs.CodeAccessForbidden && sub.TenantID == "" {
			return nil, errs.NotFound("Subscription", id) // the system's are not there for others
		}
		return nil, err
	}
	return sub, nil
}

func (s *subscriptionsSvc) CreateSubscription(ctx context.Context, req *pb.CreateSubscriptionRequest) (*pb.Task, error) {
	var secret string
	tk, err := s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		tenantID, projectID, err := s.scope(ctx, req.GetProjectId(), req.GetTenantId())
		if err != nil {
			return nil, err
		}
		spec := req.GetSpec()
		// Checked after the caller's rights, so that only who may subscribe learns what a
		// name resolves to; the notifier checks the address again at each connection.
		if err := s.sinks.CheckURL(ctx, spec.GetSink()); err != nil {
			return nil, err
		}
		sub := &store.Subscription{ID: newID(), TenantID: tenantID, ProjectID: projectID, Owner: caller(ctx), Sink: spec.GetSink(),
			Types: spec.GetTypes(), SubjectPrefix: spec.GetSubjectPrefix()}
		task := s.store.NewTask(taskID(ctx), "CREATE_SUBSCRIPTION", model.Entity{ID: sub.ID, Kind: store.KindSubscription}, caller(ctx), nil)
		task.TenantID, task.ProjectID = tenantID, projectID
		if err := s.store.CreateSubscription(ctx, sub, task); err != nil {
			return nil, err
		}
		secret = sub.Secret
		return taskPB(task), nil
	})
	if err == nil && secret != "" {
		// The secret is in this answer only: the stored task does not hold it.
		tk = proto.Clone(tk).(*pb.Task)
		if tk.ResourceProperties == nil {
			tk.ResourceProperties = &structpb.Struct{Fields: map[string]*structpb.Value{}}
		}
		tk.ResourceProperties.Fields["secret"] = structpb.NewStringValue(secret)
	}
	return tk, err
}

func (s *subscriptionsSvc) ListSubscriptions(ctx context.Context, req *pb.ListSubscriptionsRequest) (*pb.SubscriptionList, error) {
	tenantID, projectID, err := s.scope(ctx, req.GetProjectId(), req.GetTenantId())
	if err != nil {
		return nil, err
	}
	var page store.Page[store.Subscription]
	path := "/v1/subscriptions"
	switch {
	case projectID != "":
		page, err = s.store.ListProjectSubscriptions(ctx, projectID, int(req.GetPageSize()), req.GetPageLink())
		path = "/v1/projects/" + projectID + "/subscriptions"
	case tenantID != "":
		page, err = s.store.ListTenantSubscriptions(ctx, tenantID, int(req.GetPageSize()), req.GetPageLink())
		path = "/v1/tenants/" + tenantID + "/subscriptions"
	default:
		page, err = s.store.ListSubscriptions(ctx, int(req.GetPageSize()), req.GetPageLink())
	}
	if err != nil {
		return nil, err
	}
	out := &pb.SubscriptionList{NextPageLink: pageLink(path, req.GetPageSize(), page.Next)}
	for _, sub := range page.Items {
		out.Items = append(out.Items, subscriptionPB(sub))
	}
	return out, nil
}

func (s *subscriptionsSvc) GetSubscription(ctx context.Context, req *pb.IdRequest) (*pb.Subscription, error) {
	sub, err := s.subscription(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return subscriptionPB(sub), nil
}

func (s *subscriptionsSvc) DeleteSubscription(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		sub, err := s.subscription(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		task := s.store.NewTask(taskID(ctx), "DELETE_SUBSCRIPTION", model.Entity{ID: sub.ID, Kind: store.KindSubscription}, caller(ctx), nil)
		task.TenantID, task.ProjectID = sub.TenantID, sub.ProjectID
		if err := s.store.DeleteSubscription(ctx, sub.ID, task); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

func (s *subscriptionsSvc) ListDeadLetters(ctx context.Context, req *pb.ListEntityTasksRequest) (*pb.DeadLetterList, error) {
	sub, err := s.subscription(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	page, err := s.store.ListDeadLetters(ctx, sub.ID, int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	out := &pb.DeadLetterList{NextPageLink: pageLink("/v1/subscriptions/"+sub.ID+"/deadletters", req.GetPageSize(), page.Next)}
	for _, dl := range page.Items {
		out.Items = append(out.Items, &pb.DeadLetter{Id: dl.ID, SubscriptionId: dl.SubscriptionID, Event: string(dl.Event),
			Attempts: int32(dl.Attempts), LastError: dl.LastError, LastStatus: int32(dl.LastStatus), Time: dl.At})
	}
	return out, nil
}

func (s *subscriptionsSvc) ReplayDeadLetter(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		dl, err := s.store.GetDeadLetter(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		sub, err := s.subscription(ctx, dl.SubscriptionID)
		if err != nil {
			return nil, cmpNotFound(err, "DeadLetter", dl.ID)
		}
		task := s.store.NewTask(taskID(ctx), "REPLAY_DEAD_LETTER", model.Entity{ID: sub.ID, Kind: store.KindSubscription}, caller(ctx), nil)
		task.TenantID, task.ProjectID = sub.TenantID, sub.ProjectID
		if err := s.store.ReplayDeadLetter(ctx, dl.ID); err != nil {
			return nil, err
		}
		if err := s.store.Apply(ctx, s.store.AddTask(new(store.Batch), task)); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

// cmpNotFound turns a NotFound of what holds an entity into the entity's own NotFound.
func cmpNotFound(err error, kind, id string) error {
	if errs.As(err).Code == errs.CodeNotFound {
		return errs.NotFound(kind, id)
	}
	return err
}

func subscriptionPB(sub *store.Subscription) *pb.Subscription {
	return &pb.Subscription{Id: sub.ID, Kind: store.KindSubscription, TenantId: sub.TenantID, ProjectId: sub.ProjectID,
		Owner: sub.Owner.Subject, Sink: sub.Sink, Types: sub.Types, SubjectPrefix: sub.SubjectPrefix, State: sub.State,
		CreatedTime: sub.CreatedAt, SelfLink: "/v1/subscriptions/" + sub.ID}
}
