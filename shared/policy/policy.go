// Package policy is Photon's one authorization decision: who may use which tenant and
// project. The authorize function applies it to every chain and the gateway applies it to
// reads, so the two never disagree.
//
// Roles come from security groups, as in Photon: system administrators are the members of
// SystemAdminsGroup and of the system's security groups; a tenant's administrators are
// the members of its groups; a project's users the members of its groups. The gateway
// resolves the system's groups once per request (WithSystemGroups), so a caller recorded
// on a task carries the role it had when it asked.
package policy

import (
	"slices"

	"github.com/photon-cloud/photon/shared/store"
)

// SystemAdminsGroup is the security group of system administrators.
const SystemAdminsGroup = "photon\\Administrators"

// IsSystemAdmin reports whether the caller administers the whole system.
func IsSystemAdmin(c store.Caller) bool { return slices.Contains(c.Groups, SystemAdminsGroup) }

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

// MaySetTenantGroups reports whether the caller may set a tenant's security groups (and
// its quota): system administrators only, since the groups grant the tenant.
func MaySetTenantGroups(c store.Caller) bool { return IsSystemAdmin(c) }

// MaySetProjectGroups reports whether the caller may set the security groups (and the
// quota) of a project of tenant t: its tenant's administrators.
func MaySetProjectGroups(c store.Caller, t *store.Tenant) bool { return IsTenantAdmin(c, t) }

func member(c store.Caller, groups []string) bool {
	for _, g := range c.Groups {
		if slices.Contains(groups, g) {
			return true
		}
	}
	return false
}

// IsTenantAdmin reports whether the caller administers tenant t: a system admin or a
// member of one of the tenant's security groups.
func IsTenantAdmin(c store.Caller, t *store.Tenant) bool {
	return IsSystemAdmin(c) || (t != nil && member(c, t.SecurityGroups))
}

// MayUseProject reports whether the caller may read and create in project p of tenant t:
// its tenant's administrators and the members of the project's security groups.
func MayUseProject(c store.Caller, t *store.Tenant, p *store.Project) bool {
	return IsTenantAdmin(c, t) || (p != nil && member(c, p.SecurityGroups))
}
