package gateway

import (
	"context"
	"errors"

	"google.golang.org/protobuf/types/known/emptypb"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/errs"
)

// usersSvc serves the embedded issuer's directory (auth.Users): users and groups, for
// system administrators; the caller's own record and password, for anyone with a token.
// The directory holds the rules (names, passwords, membership); this is the API's face
// of it. Mutations are audited, and every call rate limited, as all calls are.
type usersSvc struct {
	pb.UnimplementedUsersServer
	dir *auth.Users
}

// usersService is the Users service of s; it holds no state of its own.
func (s *Server) usersService() *usersSvc { return &usersSvc{dir: s.opts.Users} }

// Paths and kinds of the directory's entities in the REST API.
const (
	usersPath  = "/v1/system/users"
	groupsPath = "/v1/system/groups"
	kindUser   = "user"
	kindGroup  = "group"
)

func userPB(u auth.User) *pb.User {
	return &pb.User{Name: u.Name, Groups: u.Groups, Kind: kindUser}
}

func groupPB(g auth.Group) *pb.Group {
	return &pb.Group{Name: g.Name, Description: g.Description, Members: g.Members, Kind: kindGroup}
}

// asAdmin runs f for a system administrator, and refuses anyone else.
func asAdmin[T any](ctx context.Context, f func() (T, error)) (T, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		var zero T
		return zero, err
	}
	return f()
}

func (s *usersSvc) CreateUser(ctx context.Context, req *pb.CreateUserRequest) (*pb.User, error) {
	return asAdmin(ctx, func() (*pb.User, error) {
		u, err := s.dir.Create(ctx, req.GetName(), req.GetPassword(), req.GetGroups())
		return userPB(u), err
	})
}

func (s *usersSvc) ListUsers(ctx context.Context, req *pb.PageRequest) (*pb.UserList, error) {
	return asAdmin(ctx, func() (*pb.UserList, error) {
		users, next, err := s.dir.List(ctx, int(req.GetPageSize()), req.GetPageLink())
		if err != nil {
			return nil, err
		}
		out := &pb.UserList{Items: make([]*pb.User, len(users)), NextPageLink: pageLink(usersPath, req.GetPageSize(), next)}
		for i, u := range users {
			out.Items[i] = userPB(u)
		}
		return out, nil
	})
}

func (s *usersSvc) GetUser(ctx context.Context, req *pb.UserRequest) (*pb.User, error) {
	return asAdmin(ctx, func() (*pb.User, error) {
		u, err := s.dir.Get(ctx, req.GetName())
		return userPB(u), err
	})
}

func (s *usersSvc) DeleteUser(ctx context.Context, req *pb.UserRequest) (*emptypb.Empty, error) {
	return asAdmin(ctx, func() (*emptypb.Empty, error) {
		return &emptypb.Empty{}, s.dir.Delete(ctx, req.GetName())
	})
}

func (s *usersSvc) ResetUserPassword(ctx context.Context, req *pb.ResetUserPasswordRequest) (*emptypb.Empty, error) {
	return asAdmin(ctx, func() (*emptypb.Empty, error) {
		return &emptypb.Empty{}, s.dir.ResetPassword(ctx, req.GetName(), req.GetPassword())
	})
}

func (s *usersSvc) CreateGroup(ctx context.Context, req *pb.CreateGroupRequest) (*pb.Group, error) {
	return asAdmin(ctx, func() (*pb.Group, error) {
		g, err := s.dir.CreateGroup(ctx, req.GetName(), req.GetDescription())
		return groupPB(g), err
	})
}

func (s *usersSvc) ListGroups(ctx context.Context, req *pb.PageRequest) (*pb.GroupList, error) {
	return asAdmin(ctx, func() (*pb.GroupList, error) {
		groups, next, err := s.dir.ListGroups(ctx, int(req.GetPageSize()), req.GetPageLink())
		if err != nil {
			return nil, err
		}
		out := &pb.GroupList{Items: make([]*pb.Group, len(groups)), NextPageLink: pageLink(groupsPath, req.GetPageSize(), next)}
		for i, g := range groups {
			out.Items[i] = groupPB(g)
		}
		return out, nil
	})
}

func (s *usersSvc) GetGroup(ctx context.Context, req *pb.GroupRequest) (*pb.Group, error) {
	return asAdmin(ctx, func() (*pb.Group, error) {
		g, err := s.dir.GetGroup(ctx, req.GetName())
		return groupPB(g), err
	})
}

func (s *usersSvc) DeleteGroup(ctx context.Context, req *pb.GroupRequest) (*emptypb.Empty, error) {
	return asAdmin(ctx, func() (*emptypb.Empty, error) {
		return &emptypb.Empty{}, s.dir.DeleteGroup(ctx, req.GetName())
	})
}

func (s *usersSvc) AddGroupMember(ctx context.Context, req *pb.GroupMemberRequest) (*pb.Group, error) {
	return asAdmin(ctx, func() (*pb.Group, error) {
		g, err := s.dir.AddMember(ctx, req.GetName(), req.GetUser())
		return groupPB(g), err
	})
}

func (s *usersSvc) RemoveGroupMember(ctx context.Context, req *pb.GroupMemberRequest) (*pb.Group, error) {
	return asAdmin(ctx, func() (*pb.Group, error) {
		g, err := s.dir.RemoveMember(ctx, req.GetName(), req.GetUser())
		return groupPB(g), err
	})
}

// GetCurrentUser answers the caller as its token names it, with the groups the gateway
// resolved (photon\Administrators added for the system's security groups): a user of
// an external identity provider has no record in the directory, and gets its answer too.
func (s *usersSvc) GetCurrentUser(ctx context.Context, _ *pb.CurrentUserRequest) (*pb.User, error) {
	c := caller(ctx)
	return &pb.User{Name: c.Subject, Groups: c.Groups, Kind: kindUser}, nil
}

// ChangeOwnPassword changes the caller's password. A wrong current password is
// AccessForbidden, which the audit log records as DENIED, as it does a failed login; it
// counts against the user's bound on wrong passwords (auth.LoginLimit) as a login does.
func (s *usersSvc) ChangeOwnPassword(ctx context.Context, req *pb.ChangeOwnPasswordRequest) (*emptypb.Empty, error) {
	err := s.dir.ChangePassword(ctx, caller(ctx).Subject, req.GetCurrentPassword(), req.GetNewPassword())
	if errors.Is(err, auth.ErrBadCredentials) {
		err = errs.New(errs.CodeAccessForbidden, "the current password is wrong")
	}
	return &emptypb.Empty{}, err
}
