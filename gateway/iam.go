package gateway

import (
	"context"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// iam serves the IAM policies of tenants, projects and images. Anyone who sees the
// entity reads its policy; its owners change it (policy.TenantRole, ProjectRole,
// ImageRole). A change is one atomic write with its completed task.
type iam struct {
	pb.UnimplementedIamServer
	*core
}

func policyPB(entries []model.PolicyEntry) *pb.Policy {
	out := &pb.Policy{Items: make([]*pb.PolicyEntry, len(entries))}
	for i, e := range entries {
		out.Items[i] = &pb.PolicyEntry{Principal: e.Principal, Roles: e.Roles}
	}
	return out
}

func policyOf(items []*pb.PolicyEntry) []model.PolicyEntry {
	out := make([]model.PolicyEntry, len(items))
	for i, e := range items {
		out[i] = model.PolicyEntry{Principal: e.GetPrincipal(), Roles: e.GetRoles()}
	}
	return out
}

// replace is a change that sets the whole policy; delta one that applies a PolicyDelta.
func replace(items []*pb.PolicyEntry) func([]model.PolicyEntry) ([]model.PolicyEntry, error) {
	return func([]model.PolicyEntry) ([]model.PolicyEntry, error) { return model.CleanPolicy(policyOf(items)) }
}

func delta(d *pb.PolicyDelta) func([]model.PolicyEntry) ([]model.PolicyEntry, error) {
	return func(p []model.PolicyEntry) ([]model.PolicyEntry, error) {
		return model.ApplyPolicyDelta(p, d.GetPrincipal(), d.GetAction(), d.GetRole())
	}
}

// changePolicy changes the policy of kind/id (a T) with change, if role (read again in
// the transaction) makes the caller its owner, and returns the completed task.
func changePolicy[T any, PT interface {
	*T
	IAMPolicy() *[]model.PolicyEntry
}](ctx context.Context, c *core, kind, label, id, tenantID, projectID string, role func(*T) policy.Role,
	change func([]model.PolicyEntry) ([]model.PolicyEntry, error), op string) (*pb.Task, error) {
	return c.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		task := c.store.NewTask(taskID(ctx), op, model.Entity{ID: id, Kind: kind}, caller(ctx), nil)
		task.TenantID, task.ProjectID = tenantID, projectID
		_, err := store.ChangePolicy[T, PT](ctx, c.store, kind, id, task,
			func(v *T) error { return allowAs(ctx, role(v), policy.Owner, label, id) }, change)
		if err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

// Task operations of policy changes.
const (
	opSetIAM    = "SET_IAM_POLICY"
	opModifyIAM = "MODIFY_IAM_POLICY"
)

func (s *iam) tenantChange(ctx context.Context, id string, change func([]model.PolicyEntry) ([]model.PolicyEntry, error), op string) (*pb.Task, error) {
	t, err := s.tenant(ctx, id)
	if err != nil {
		return nil, err
	}
	who := caller(ctx)
	return changePolicy[model.Tenant](ctx, s.core, model.KindTenant, "Tenant", t.ID, t.ID, "",
		func(t *model.Tenant) policy.Role { return policy.TenantRole(who, t) }, change, op)
}

func (s *iam) projectChange(ctx context.Context, id string, change func([]model.PolicyEntry) ([]model.PolicyEntry, error), op string) (*pb.Task, error) {
	p, t, err := s.projectAs(ctx, id, policy.Viewer)
	if err != nil {
		return nil, err
	}
	who := caller(ctx)
	return changePolicy[model.Project](ctx, s.core, model.KindProject, "Project", p.ID, t.ID, p.ID,
		func(p *model.Project) policy.Role { return policy.ProjectRole(who, t, p) }, change, op)
}

func (s *iam) imageChange(ctx context.Context, id string, change func([]model.PolicyEntry) ([]model.PolicyEntry, error), op string) (*pb.Task, error) {
	im, t, p, err := s.imageIn(ctx, id, policy.Viewer)
	if err != nil {
		return nil, err
	}
	who := caller(ctx)
	return changePolicy[model.Image](ctx, s.core, model.KindImage, "Image", im.ID, im.TenantID, im.ProjectID,
		func(im *model.Image) policy.Role { return policy.ImageRole(who, im, t, p) }, change, op)
}

func (s *iam) GetTenantIam(ctx context.Context, req *pb.IdRequest) (*pb.Policy, error) {
	t, err := s.tenant(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return policyPB(t.IAM), nil
}

func (s *iam) SetTenantIam(ctx context.Context, req *pb.SetIamRequest) (*pb.Task, error) {
	return s.tenantChange(ctx, req.GetId(), replace(req.GetItems()), opSetIAM)
}

func (s *iam) ModifyTenantIam(ctx context.Context, req *pb.ModifyIamRequest) (*pb.Task, error) {
	if req.GetDelta() == nil {
		return nil, errs.Invalid("a policy change {principal, action, role} is required")
	}
	return s.tenantChange(ctx, req.GetId(), delta(req.GetDelta()), opModifyIAM)
}

func (s *iam) GetProjectIam(ctx context.Context, req *pb.IdRequest) (*pb.Policy, error) {
	p, _, err := s.projectFor(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return policyPB(p.IAM), nil
}

func (s *iam) SetProjectIam(ctx context.Context, req *pb.SetIamRequest) (*pb.Task, error) {
	return s.projectChange(ctx, req.GetId(), replace(req.GetItems()), opSetIAM)
}

func (s *iam) ModifyProjectIam(ctx context.Context, req *pb.ModifyIamRequest) (*pb.Task, error) {
	if req.GetDelta() == nil {
		return nil, errs.Invalid("a policy change {principal, action, role} is required")
	}
	return s.projectChange(ctx, req.GetId(), delta(req.GetDelta()), opModifyIAM)
}

func (s *iam) GetImageIam(ctx context.Context, req *pb.IdRequest) (*pb.Policy, error) {
	im, err := s.image(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return policyPB(im.IAM), nil
}

func (s *iam) SetImageIam(ctx context.Context, req *pb.SetIamRequest) (*pb.Task, error) {
	return s.imageChange(ctx, req.GetId(), replace(req.GetItems()), opSetIAM)
}

func (s *iam) ModifyImageIam(ctx context.Context, req *pb.ModifyIamRequest) (*pb.Task, error) {
	if req.GetDelta() == nil {
		return nil, errs.Invalid("a policy change {principal, action, role} is required")
	}
	return s.imageChange(ctx, req.GetId(), delta(req.GetDelta()), opModifyIAM)
}
