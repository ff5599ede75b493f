package gateway

import (
	"context"
	"errors"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
)

// method is the full gRPC name of the API method ctx serves ("/photon.v1.Vms/GetVm"),
// over gRPC and over REST alike (grpc-gateway names it in the context of the requests it
// serves in process); "" for the handlers outside the gRPC API (uploads). grpc-gateway
// also puts a transport stream without a method name in the context of a REST request,
// so an empty name from grpc.Method is no answer.
func method(ctx context.Context) string {
	if m, ok := grpc.Method(ctx); ok && m != "" {
		return m
	}
	m, _ := runtime.RPCMethod(ctx)
	return m
}

// need is the role the method of ctx needs (see apiMethod.Need): contributor for
// anything not known as a read.
func need(ctx context.Context) policy.Role { return methodOf(method(ctx)).Need }

// allowAs turns the caller's role on an entity into a decision: no role hides the
// entity (NotFound: an id from another tenant never tells that it exists); a role below
// want is AccessForbidden.
func allowAs(ctx context.Context, have, want policy.Role, kind, id string) error {
	switch {
	case have >= want:
		return nil
	case have == policy.None:
		return errs.NotFound(kind, id)
	}
	return errs.New(errs.CodeAccessForbidden, "%s is a %s of %s %s; this needs %s",
		orAnonymous(caller(ctx).Subject), have, strings.ToLower(kind), id, want).WithData("role", want.String())
}

func orAnonymous(s string) string {
	if s == "" {
		return "an anonymous caller"
	}
	return s
}

// imageAs reads an image the caller has role want on (see policy.ImageRole); an image
// they may not even see is NotFound.
func (c *core) imageAs(ctx context.Context, id string, want policy.Role) (*model.Image, error) {
	im, _, _, err := c.imageIn(ctx, id, want)
	return im, err
}

// imageIn is imageAs that also returns the tenant and project the image belongs to (nil
// for a public image), for the decisions that follow.
func (c *core) imageIn(ctx context.Context, id string, want policy.Role) (*model.Image, *model.Tenant, *model.Project, error) {
	im, err := store.Get[model.Image](ctx, c.store, model.KindImage, id)
	if err != nil {
		return nil, nil, nil, err
	}
	t, p, err := c.imageScope(ctx, im)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := allowAs(ctx, policy.ImageRole(caller(ctx), im, t, p), want, "Image", id); err != nil {
		return nil, nil, nil, err
	}
	return im, t, p, nil
}

// imageScope reads the tenant and project of a project's image (nil, nil for a public
// image). An image whose project is gone is NotFound.
func (c *core) imageScope(ctx context.Context, im *model.Image) (*model.Tenant, *model.Project, error) {
	t, p, err := c.store.ProjectScope(ctx, im.ProjectID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil, nil, errs.NotFound("Image", im.ID)
	}
	return t, p, err
}

// madeBy is the IAM policy of an image the caller makes: they own it, so a project's
// contributor may delete (or share) the images they uploaded or captured.
func madeBy(ctx context.Context) []model.PolicyEntry {
	if sub := caller(ctx).Subject; sub != "" {
		return []model.PolicyEntry{{Principal: sub, Roles: []string{model.RoleOwner}}}
	}
	return nil
}
