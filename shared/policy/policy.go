// Package policy is Photon's one authorization decision: who may use which tenant and
// project. The authorize function applies it to every chain and the gateway applies it to
// reads, so the two never disagree.
//
// Roles come from security groups, as in Photon: system administrators are the members of
// SystemAdminsGroup and of the system's security groups; a tenant's administrators are
// the members of its groups; a project's users the members of its groups. IAM policies
// on a tenant, a project or an image grant the roles owner, contributor and viewer to
// users and groups besides (see Role). The gateway
// resolves the system's groups once per request (WithSystemGroups), so a caller recorded
// on a task carries the role it had when it asked.
package policy

import (
	"slices"

	"github.com/photon-cloud/photon/shared/model"
)

// SystemAdminsGroup is the security group of system administrators.
const SystemAdminsGroup = "photon\\Administrators"

// IsSystemAdmin reports whether the caller administers the whole system.
func IsSystemAdmin(c model.Caller) bool { return slices.Contains(c.Groups, SystemAdminsGroup) }

// WithSystemGroups returns a caller's groups with SystemAdminsGroup added when one of them
// is among the system's security groups, so that IsSystemAdmin (here and in every
// function of a chain) honours the groups an administrator set. SystemAdminsGroup itself
// always stays a system administrators' group: setting the system's groups never locks
// the built-in administrator out.
func WithSystemGroups(groups, system []string) []string {
	if slices.Contains(groups, SystemAdminsGroup) || !slices.ContainsFunc(groups, func(g string) bool { return slices.Contains(system, g) }) {
		return groups
	}
	return append(slices.Clip(groups), SystemAdminsGroup)
}

// Role is what a caller may do on a tenant, a project or an image, from nothing to
// everything: the IAM roles viewer, contributor and owner (model.RoleViewer, ...).
type Role int

// Roles, in order: each allows what the ones before it allow.
const (
	None        Role = iota // the entity does not exist as far as the caller can tell
	Viewer                  // reads it
	Contributor             // reads and changes what is in it: VMs, disks, networks, images
	Owner                   // administers it: its IAM policy, its projects, its deletion
)

// roleNames maps IAM role names to Roles.
var roleNames = map[string]Role{model.RoleViewer: Viewer, model.RoleContributor: Contributor, model.RoleOwner: Owner}

// String is the IAM name of the role ("" for None).
func (r Role) String() string {
	for n, v := range roleNames {
		if v == r {
			return n
		}
	}
	return ""
}

// granted is the highest role iam grants the caller, as a user (its subject) or as a
// member of a security group.
func granted(c model.Caller, iam []model.PolicyEntry) Role {
	best := None
	for _, e := range iam {
		if e.Principal != c.Subject && !slices.Contains(c.Groups, e.Principal) {
			continue
		}
		for _, n := range e.Roles {
			best = max(best, roleNames[n])
		}
	}
	return best
}

// TenantRole is the caller's role on tenant t: owner for system administrators and the
// members of the tenant's security groups, else what the tenant's IAM policy grants.
func TenantRole(c model.Caller, t *model.Tenant) Role {
	switch {
	case IsSystemAdmin(c):
		return Owner
	case t == nil:
		return None
	case member(c, t.SecurityGroups):
		return Owner
	}
	return granted(c, t.IAM)
}

// ProjectRole is the caller's role on project p of tenant t: their role on the tenant,
// raised to contributor for members of the project's security groups (Photon's project
// users) and to what the project's IAM policy grants.
func ProjectRole(c model.Caller, t *model.Tenant, p *model.Project) Role {
	r := TenantRole(c, t)
	if p == nil {
		return r
	}
	if member(c, p.SecurityGroups) {
		r = max(r, Contributor)
	}
	return max(r, granted(c, p.IAM))
}

// ImageRole is the caller's role on image im, which belongs to project p of tenant t
// (both nil for a public image). Everyone may use a public image and system
// administrators own it; a project's image is the project's (its owners own it, its
// contributors use it, its viewers see it). The image's own IAM policy raises either:
// it shares a project's image beyond its project, or hands one its owner.
func ImageRole(c model.Caller, im *model.Image, t *model.Tenant, p *model.Project) Role {
	r := Contributor
	switch {
	case IsSystemAdmin(c):
		return Owner
	case im.ProjectID != "":
		r = ProjectRole(c, t, p)
	}
	return max(r, granted(c, im.IAM))
}

// ResourceRole is the caller's role on a VM or a disk of project p of tenant t whose own
// IAM policy is iam: their role on the project, raised to what iam grants. A VM's viewer
// reads it, its contributor operates it (power, disks, networks), its owner also changes
// its policy.
func ResourceRole(c model.Caller, t *model.Tenant, p *model.Project, iam []model.PolicyEntry) Role {
	return max(ProjectRole(c, t, p), granted(c, iam))
}

// MayUseImage reports whether the caller may make VMs of image im (of project p of
// tenant t, nil for a public image) in project dest: a public image or one of dest if
// they are a contributor of it; another project's image only if its own IAM policy
// makes them one (shares it with them) — owning every project does not move images
// between them.
func MayUseImage(c model.Caller, im *model.Image, t *model.Tenant, p *model.Project, dest string) bool {
	if im.ProjectID != "" && im.ProjectID != dest {
		return granted(c, im.IAM) >= Contributor
	}
	return ImageRole(c, im, t, p) >= Contributor
}

// IsTenantAdmin reports whether the caller administers tenant t: an owner of it.
func IsTenantAdmin(c model.Caller, t *model.Tenant) bool { return TenantRole(c, t) >= Owner }

// MaySeeTenant reports whether the caller may read tenant t: any role on it.
func MaySeeTenant(c model.Caller, t *model.Tenant) bool { return TenantRole(c, t) >= Viewer }

// MayUseProject reports whether the caller may create and change things in project p of
// tenant t (a contributor).
func MayUseProject(c model.Caller, t *model.Tenant, p *model.Project) bool {
	return ProjectRole(c, t, p) >= Contributor
}

// MaySeeProject reports whether the caller may read project p of tenant t and what is in
// it (a viewer).
func MaySeeProject(c model.Caller, t *model.Tenant, p *model.Project) bool {
	return ProjectRole(c, t, p) >= Viewer
}

// MaySetTenantGroups reports whether the caller may set a tenant's security groups (and
// its quota): system administrators only, since the groups grant the tenant and the
// quota bounds what it may use.
func MaySetTenantGroups(c model.Caller) bool { return IsSystemAdmin(c) }

// MaySetProjectGroups reports whether the caller may set the security groups (and the
// quota) of a project of tenant t: its tenant's administrators.
func MaySetProjectGroups(c model.Caller, t *model.Tenant) bool { return IsTenantAdmin(c, t) }

func member(c model.Caller, groups []string) bool {
	for _, g := range c.Groups {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}
