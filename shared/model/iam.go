package model

import (
	"slices"
	"strings"

	"github.com/photon-cloud/photon/shared/errs"
)

// Photon's IAM roles, granted to a principal (a user's subject or a security group's
// name) on a tenant, a project, an image, a VM or a disk. shared/policy says what each allows.
const (
	RoleOwner       = "owner"
	RoleContributor = "contributor"
	RoleViewer      = "viewer"
)

// Roles are the IAM roles, from the most to the least privileged.
var Roles = []string{RoleOwner, RoleContributor, RoleViewer}

// PolicyEntry grants roles to one principal: Photon's IAM policy entry.
type PolicyEntry struct {
	Principal string   `json:"principal"`
	Roles     []string `json:"roles"`
}

// Policy delta actions (PATCH .../iam).
const (
	PolicyAdd    = "ADD"
	PolicyRemove = "REMOVE"
)

// CleanPolicy checks and normalises a policy: principals trimmed, roles lower-cased and
// known, one entry per principal (the roles of repeats merged), entries without roles
// dropped, in the given order. An unknown role or an empty principal is InvalidEntity.
func CleanPolicy(in []PolicyEntry) ([]PolicyEntry, error) {
	var out []PolicyEntry
	for _, e := range in {
		p := strings.TrimSpace(e.Principal)
		if p == "" {
			return nil, errs.Invalid("an IAM policy entry needs a principal (a user or a security group)")
		}
		i := slices.IndexFunc(out, func(o PolicyEntry) bool { return o.Principal == p })
		if i < 0 {
			out = append(out, PolicyEntry{Principal: p})
			i = len(out) - 1
		}
		for _, r := range e.Roles {
			r = strings.ToLower(strings.TrimSpace(r))
			if !slices.Contains(Roles, r) {
				return nil, errs.Invalid("unknown IAM role %q: roles are %s", r, strings.Join(Roles, ", "))
			}
			if !slices.Contains(out[i].Roles, r) {
				out[i].Roles = append(out[i].Roles, r)
			}
		}
	}
	return slices.DeleteFunc(out, func(e PolicyEntry) bool { return len(e.Roles) == 0 }), nil
}

// ApplyPolicyDelta returns policy with role added to or removed from principal (action
// PolicyAdd or PolicyRemove). Removing role "*" removes all of the principal's roles.
func ApplyPolicyDelta(policy []PolicyEntry, principal, action, role string) ([]PolicyEntry, error) {
	principal, role = strings.TrimSpace(principal), strings.ToLower(strings.TrimSpace(role))
	out := slices.Clone(policy)
	switch strings.ToUpper(strings.TrimSpace(action)) {
	case PolicyAdd:
		return CleanPolicy(append(out, PolicyEntry{Principal: principal, Roles: []string{role}}))
	case PolicyRemove:
		if principal == "" {
			return nil, errs.Invalid("an IAM policy change needs a principal")
		}
		if role != "*" && !slices.Contains(Roles, role) {
			return nil, errs.Invalid("unknown IAM role %q: roles are %s, or * to remove all", role, strings.Join(Roles, ", "))
		}
		for i, e := range out {
			if e.Principal == principal {
				out[i].Roles = slices.DeleteFunc(slices.Clone(e.Roles), func(r string) bool { return role == "*" || r == role })
			}
		}
		return CleanPolicy(out)
	default:
		return nil, errs.Invalid("IAM policy action must be %s or %s, not %q", PolicyAdd, PolicyRemove, action)
	}
}

// IAMPolicy is the tenant's IAM policy, for store.ChangePolicy.
func (t *Tenant) IAMPolicy() *[]PolicyEntry { return &t.IAM }

// IAMPolicy is the project's IAM policy, for store.ChangePolicy.
func (p *Project) IAMPolicy() *[]PolicyEntry { return &p.IAM }

// IAMPolicy is the image's IAM policy, for store.ChangePolicy.
func (im *Image) IAMPolicy() *[]PolicyEntry { return &im.IAM }

// IAMPolicy is the VM's IAM policy, for store.ChangePolicy.
func (vm *VM) IAMPolicy() *[]PolicyEntry { return &vm.IAM }

// IAMPolicy is the disk's IAM policy, for store.ChangePolicy.
func (d *PersistentDisk) IAMPolicy() *[]PolicyEntry { return &d.IAM }

// PolicyShape is the shape the tenant's policy was last written in.
func (t *Tenant) PolicyShape() *string { return &t.IAMShape }

// PolicyShape is the shape the project's policy was last written in.
func (p *Project) PolicyShape() *string { return &p.IAMShape }

// PolicyShape is the shape the image's policy was last written in.
func (im *Image) PolicyShape() *string { return &im.IAMShape }

// PolicyShape is the shape the VM's policy was last written in.
func (vm *VM) PolicyShape() *string { return &vm.IAMShape }

// PolicyShape is the shape the disk's policy was last written in.
func (d *PersistentDisk) PolicyShape() *string { return &d.IAMShape }
