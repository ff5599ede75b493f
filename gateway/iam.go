package gateway

import (
	"context"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// iam serves the IAM policies of tenants, projects, images, VMs and disks. Anyone who
// sees the entity reads its policy; its owners change it (policy.TenantRole, ProjectRole,
// ImageRole, ResourceRole). A change is one atomic write with its completed task.
type iam struct {
	pb.UnimplementedIamServer
	*core
}

// The shapes a policy is read in (GetIamRequest.shape): Photon 1.2's entries
// {principal, roles}, or the SDK's role bindings {role, subjects}.
const (
	shapeEntries  = "entries"
	shapeBindings = "bindings"
)

// policyPB is a policy in the shape asked for, else in def.
func policyPB(entries []model.PolicyEntry, asked, def string) (*pb.Policy, error) {
	shape := strings.ToLower(strings.TrimSpace(asked))
	switch shape {
	case "":
		shape = def
	case shapeEntries, shapeBindings:
	default:
		return nil, errs.Invalid("shape must be %s or %s, not %q", shapeEntries, shapeBindings, asked)
	}
	out := &pb.Policy{Items: []*pb.PolicyEntry{}}
	if shape == shapeEntries {
		for _, e := range entries {
			out.Items = append(out.Items, &pb.PolicyEntry{Principal: e.Principal, Roles: e.Roles})
		}
		return out, nil
	}
	byRole := map[string]*pb.PolicyEntry{}
	for _, r := range model.Roles {
		for _, e := range entries {
			for _, er := range e.Roles {
				if er != r {
					continue
				}
				b := byRole[r]
				if b == nil {
					b = &pb.PolicyEntry{Role: r}
					byRole[r] = b
					out.Items = append(out.Items, b)
				}
				b.Subjects = append(b.Subjects, e.Principal)
			}
		}
	}
	return out, nil
}

// policyOf reads a policy given in either shape; an entry is one or the other.
func policyOf(items []*pb.PolicyEntry) ([]model.PolicyEntry, error) {
	var out []model.PolicyEntry
	for _, e := range items {
		entry, binding := e.GetPrincipal() != "" || len(e.GetRoles()) > 0, e.GetRole() != "" || len(e.GetSubjects()) > 0
		switch {
		case entry && binding:
			return nil, errs.Invalid("an IAM policy entry is {principal, roles} or {role, subjects}, not both")
		case binding:
			if strings.TrimSpace(e.GetRole()) == "" {
				return nil, errs.Invalid("an IAM role binding needs a role")
			}
			for _, sub := range e.GetSubjects() {
				out = append(out, model.PolicyEntry{Principal: sub, Roles: []string{e.GetRole()}})
			}
		default:
			out = append(out, model.PolicyEntry{Principal: e.GetPrincipal(), Roles: e.GetRoles()})
		}
	}
	return out, nil
}

// itemsShape is the shape a policy is given in: bindings if any item is one.
func itemsShape(items []*pb.PolicyEntry) string {
	for _, e := range items {
		if e.GetRole() != "" || len(e.GetSubjects()) > 0 {
			return shapeBindings
		}
	}
	return shapeEntries
}

// deltasShape is the shape a change is given in: the SDK's array of {action, role,
// subject}, or Photon 1.2's one {principal, action, role}.
func deltasShape(req *pb.ModifyIamRequest) string {
	if req.GetBody().GetListValue() != nil || len(req.GetDeltas()) > 0 || req.GetDelta().GetSubject() != "" {
		return shapeBindings
	}
	if f := req.GetBody().GetStructValue().GetFields(); f["subject"] != nil {
		return shapeBindings
	}
	return shapeEntries
}

// policyChange is a change of a policy: it returns the new policy from the old one.
type policyChange func([]model.PolicyEntry) ([]model.PolicyEntry, error)

// replace is a change that sets the whole policy.
func replace(items []*pb.PolicyEntry) policyChange {
	return func([]model.PolicyEntry) ([]model.PolicyEntry, error) {
		p, err := policyOf(items)
		if err != nil {
			return nil, err
		}
		return model.CleanPolicy(p)
	}
}

// deltasOf reads the deltas of a ModifyIamRequest: over REST its body, one delta object
// or an array of them; over gRPC delta and deltas.
func deltasOf(req *pb.ModifyIamRequest) ([]*pb.PolicyDelta, error) {
	out := req.GetDeltas()
	if req.GetDelta() != nil {
		out = append([]*pb.PolicyDelta{req.GetDelta()}, out...)
	}
	var values []*structpb.Value
	switch b := req.GetBody().GetKind().(type) {
	case nil, *structpb.Value_NullValue:
	case *structpb.Value_StructValue:
		values = []*structpb.Value{req.GetBody()}
	case *structpb.Value_ListValue:
		values = b.ListValue.GetValues()
	default:
		return nil, errs.New(errs.CodeInvalidJSON, "an IAM policy change is an object {principal, action, role} or an array of {action, role, subject}")
	}
	for _, v := range values {
		raw, err := protojson.Marshal(v)
		if err != nil {
			return nil, err
		}
		d := &pb.PolicyDelta{}
		if err := protojson.Unmarshal(raw, d); err != nil {
			return nil, errs.New(errs.CodeInvalidJSON, "an IAM policy change: %v", err)
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errs.Invalid("a policy change {principal, action, role} (or [{action, role, subject}]) is required")
	}
	return out, nil
}

// delta is a change that applies deltas in order.
func delta(req *pb.ModifyIamRequest) (policyChange, error) {
	ds, err := deltasOf(req)
	if err != nil {
		return nil, err
	}
	return func(p []model.PolicyEntry) ([]model.PolicyEntry, error) {
		for _, d := range ds {
			who := d.GetPrincipal()
			if who == "" {
				who = d.GetSubject()
			} else if d.GetSubject() != "" && d.GetSubject() != who {
				return nil, errs.Invalid("an IAM policy change names its principal once (principal or subject)")
			}
			var err error
			if p, err = model.ApplyPolicyDelta(p, who, d.GetAction(), d.GetRole()); err != nil {
				return nil, err
			}
		}
		return p, nil
	}, nil
}

// changePolicy changes the policy of kind/id (a T) with change, if role (read again in
// the transaction) makes the caller its owner, and returns the completed task.
func changePolicy[T any, PT iamEntity[T]](ctx context.Context, c *core, kind, label, id, tenantID, projectID string, role func(*T) policy.Role,
	change policyChange, shape, op string) (*pb.Task, error) {
	return c.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		task := c.store.NewTask(taskID(ctx), op, model.Entity{ID: id, Kind: kind}, caller(ctx), nil)
		task.TenantID, task.ProjectID = tenantID, projectID
		_, err := store.ChangePolicy[T, PT](ctx, c.store, kind, id, task,
			func(v *T) error {
				if err := allowAs(ctx, role(v), policy.Owner, label, id); err != nil {
					return err
				}
				*PT(v).PolicyShape() = shape
				return nil
			}, change)
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

// A target is the entity of an IAM call: it reads the entity and changes its policy.
type target struct {
	// read answers the policy and the shape it was last written in ("" if never).
	read   func(ctx context.Context, id string) ([]model.PolicyEntry, string, error)
	change func(ctx context.Context, id string, change policyChange, shape, op string) (*pb.Task, error)
	// shape is the shape a policy never written is read in by default.
	shape string
}

func (s *iam) get(ctx context.Context, t target, req *pb.GetIamRequest) (*pb.Policy, error) {
	p, written, err := t.read(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return policyPB(p, req.GetShape(), orDefault(written, t.shape))
}

func (s *iam) set(ctx context.Context, t target, req *pb.SetIamRequest) (*pb.Task, error) {
	return t.change(ctx, req.GetId(), replace(req.GetItems()), itemsShape(req.GetItems()), opSetIAM)
}

func (s *iam) modify(ctx context.Context, t target, req *pb.ModifyIamRequest) (*pb.Task, error) {
	change, err := delta(req)
	if err != nil {
		return nil, err
	}
	return t.change(ctx, req.GetId(), change, deltasShape(req), opModifyIAM)
}

func (s *iam) tenants() target {
	return target{shape: shapeEntries,
		read: func(ctx context.Context, id string) ([]model.PolicyEntry, string, error) {
			t, err := s.tenant(ctx, id)
			if err != nil {
				return nil, "", err
			}
			return t.IAM, t.IAMShape, nil
		},
		change: func(ctx context.Context, id string, change policyChange, shape, op string) (*pb.Task, error) {
			t, err := s.tenant(ctx, id)
			if err != nil {
				return nil, err
			}
			who := caller(ctx)
			return changePolicy[model.Tenant](ctx, s.core, model.KindTenant, "Tenant", t.ID, t.ID, "",
				func(t *model.Tenant) policy.Role { return policy.TenantRole(who, t) }, change, shape, op)
		}}
}

func (s *iam) projects() target {
	return target{shape: shapeEntries,
		read: func(ctx context.Context, id string) ([]model.PolicyEntry, string, error) {
			p, _, err := s.projectFor(ctx, id)
			if err != nil {
				return nil, "", err
			}
			return p.IAM, p.IAMShape, nil
		},
		change: func(ctx context.Context, id string, change policyChange, shape, op string) (*pb.Task, error) {
			p, t, err := s.projectAs(ctx, id, policy.Viewer)
			if err != nil {
				return nil, err
			}
			who := caller(ctx)
			return changePolicy[model.Project](ctx, s.core, model.KindProject, "Project", p.ID, t.ID, p.ID,
				func(p *model.Project) policy.Role { return policy.ProjectRole(who, t, p) }, change, shape, op)
		}}
}

func (s *iam) images() target {
	return target{shape: shapeEntries,
		read: func(ctx context.Context, id string) ([]model.PolicyEntry, string, error) {
			im, err := s.image(ctx, id)
			if err != nil {
				return nil, "", err
			}
			return im.IAM, im.IAMShape, nil
		},
		change: func(ctx context.Context, id string, change policyChange, shape, op string) (*pb.Task, error) {
			im, t, p, err := s.imageIn(ctx, id, policy.Viewer)
			if err != nil {
				return nil, err
			}
			who := caller(ctx)
			return changePolicy[model.Image](ctx, s.core, model.KindImage, "Image", im.ID, im.TenantID, im.ProjectID,
				func(im *model.Image) policy.Role { return policy.ImageRole(who, im, t, p) }, change, shape, op)
		}}
}

// resources is the target of the VMs (kind KindVM) or the disks of projects: T is
// model.VM or model.PersistentDisk.
func resources[T any, PT iamEntity[T]](c *core, kind, label string, project func(*T) string) target {
	return target{shape: shapeBindings,
		read: func(ctx context.Context, id string) ([]model.PolicyEntry, string, error) {
			v, _, _, err := inProjectAs[T, PT](ctx, c, kind, label, id, project, policy.Viewer)
			if err != nil {
				return nil, "", err
			}
			return *PT(v).IAMPolicy(), *PT(v).PolicyShape(), nil
		},
		change: func(ctx context.Context, id string, change policyChange, shape, op string) (*pb.Task, error) {
			_, t, p, err := inProjectAs[T, PT](ctx, c, kind, label, id, project, policy.Viewer)
			if err != nil {
				return nil, err
			}
			who := caller(ctx)
			return changePolicy[T, PT](ctx, c, kind, label, id, t.ID, p.ID,
				func(v *T) policy.Role { return policy.ResourceRole(who, t, p, *PT(v).IAMPolicy()) }, change, shape, op)
		}}
}

func (s *iam) vms() target {
	return resources[model.VM](s.core, model.KindVM, "Vm", func(v *model.VM) string { return v.ProjectID })
}

func (s *iam) disks() target {
	return resources[model.PersistentDisk](s.core, model.KindDisk, "PersistentDisk", func(d *model.PersistentDisk) string { return d.ProjectID })
}

func (s *iam) GetTenantIam(ctx context.Context, req *pb.GetIamRequest) (*pb.Policy, error) {
	return s.get(ctx, s.tenants(), req)
}

func (s *iam) SetTenantIam(ctx context.Context, req *pb.SetIamRequest) (*pb.Task, error) {
	return s.set(ctx, s.tenants(), req)
}

func (s *iam) ModifyTenantIam(ctx context.Context, req *pb.ModifyIamRequest) (*pb.Task, error) {
	return s.modify(ctx, s.tenants(), req)
}

func (s *iam) GetProjectIam(ctx context.Context, req *pb.GetIamRequest) (*pb.Policy, error) {
	return s.get(ctx, s.projects(), req)
}

func (s *iam) SetProjectIam(ctx context.Context, req *pb.SetIamRequest) (*pb.Task, error) {
	return s.set(ctx, s.projects(), req)
}

func (s *iam) ModifyProjectIam(ctx context.Context, req *pb.ModifyIamRequest) (*pb.Task, error) {
	return s.modify(ctx, s.projects(), req)
}

func (s *iam) GetImageIam(ctx context.Context, req *pb.GetIamRequest) (*pb.Policy, error) {
	return s.get(ctx, s.images(), req)
}

func (s *iam) SetImageIam(ctx context.Context, req *pb.SetIamRequest) (*pb.Task, error) {
	return s.set(ctx, s.images(), req)
}

func (s *iam) ModifyImageIam(ctx context.Context, req *pb.ModifyIamRequest) (*pb.Task, error) {
	return s.modify(ctx, s.images(), req)
}

func (s *iam) GetVmIam(ctx context.Context, req *pb.GetIamRequest) (*pb.Policy, error) {
	return s.get(ctx, s.vms(), req)
}

func (s *iam) SetVmIam(ctx context.Context, req *pb.SetIamRequest) (*pb.Task, error) {
	return s.set(ctx, s.vms(), req)
}

func (s *iam) ModifyVmIam(ctx context.Context, req *pb.ModifyIamRequest) (*pb.Task, error) {
	return s.modify(ctx, s.vms(), req)
}

func (s *iam) GetDiskIam(ctx context.Context, req *pb.GetIamRequest) (*pb.Policy, error) {
	return s.get(ctx, s.disks(), req)
}

func (s *iam) SetDiskIam(ctx context.Context, req *pb.SetIamRequest) (*pb.Task, error) {
	return s.set(ctx, s.disks(), req)
}

func (s *iam) ModifyDiskIam(ctx context.Context, req *pb.ModifyIamRequest) (*pb.Task, error) {
	return s.modify(ctx, s.disks(), req)
}
