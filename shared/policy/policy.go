// Package policy is Photon's one authorization decision: who may use which tenant and
// project. The authorize function applies it to every chain and the gateway applies it to
// reads, so the two never disagree.
package policy

import (
	"slices"

	"github.com/photon-cloud/photon/shared/store"
)

// SystemAdminsGroup is the security group of system administrators.
const SystemAdminsGroup = "photon\\Administrators"

// IsSystemAdmin reports whether the caller administers the whole system.
func IsSystemAdmin(c store.Caller) bool { return slices.Contains(c.Groups, SystemAdminsGroup) }

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
