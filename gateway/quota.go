package gateway

import (
	"context"
	"maps"
	"slices"
	"strings"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Quotas of tenants and projects in Photon 1.2's shape, Quota{quotaItems: {key: {unit,
// limit, usage}}}, and the three changes of its API: set (replace every limit), update (add
// or change the given ones) and exclude (remove the given keys). The store decides and
// writes each change with its task atomically; the gateway checks who asks and what.

// quotaOps names the task of each change, as Photon named them.
var quotaOps = map[store.QuotaChange]string{
	store.QuotaSet:     "SET_QUOTA",
	store.QuotaUpdate:  "UPDATE_QUOTA",
	store.QuotaExclude: "DELETE_QUOTA",
}

// quotaPB is a quota as the API shows it.
func quotaPB(q map[string]store.QuotaStatus) *pb.Quota {
	out := &pb.Quota{QuotaItems: make(map[string]*pb.QuotaStatusLineItem, len(q))}
	for k, s := range q {
		out.QuotaItems[k] = &pb.QuotaStatusLineItem{Unit: s.Unit, Limit: s.Limit, Usage: s.Usage}
	}
	return out
}

// quotaSpec reads a QuotaSpec's limits, sorted by key, in canonical units (COUNT or GB).
// A key needs a name and a limit of 0 or more; usage is ignored. For an exclude only the
// keys matter.
func quotaSpec(spec map[string]*pb.QuotaStatusLineItem, change store.QuotaChange) ([]model.QuotaLineItem, error) {
	items := make([]model.QuotaLineItem, 0, len(spec))
	for _, k := range slices.Sorted(maps.Keys(spec)) {
		it := spec[k]
		if strings.TrimSpace(k) == "" {
			return nil, errs.Invalid("a quota line item needs a key")
		}
		if change == store.QuotaExclude {
			items = append(items, model.QuotaLineItem{Key: k})
			continue
		}
		if it.GetLimit() < 0 {
			return nil, errs.Invalid("quota limit of %s is %v: it must be 0 or more", k, it.GetLimit())
		}
		items = append(items, model.QuotaLineItem{Key: k, Value: it.GetLimit(), Unit: it.GetUnit()})
	}
	if change == store.QuotaExclude {
		return items, nil
	}
	return canonical(items)
}

// mergeLimits is base with the items of over replacing those of the same key.
func mergeLimits(base, over []model.QuotaLineItem) []model.QuotaLineItem {
	out := slices.Clone(base)
	for _, it := range over {
		if i := slices.IndexFunc(out, func(b model.QuotaLineItem) bool { return b.Key == it.Key }); i >= 0 {
			out[i] = it
		} else {
			out = append(out, it)
		}
	}
	return out
}

// changeQuota applies change to the quota of entity (a tenant or a project of tenant)
// and answers with its task, completed at once.
func (c *core) changeQuota(ctx context.Context, entity model.Entity, tenantID string, change store.QuotaChange,
	spec map[string]*pb.QuotaStatusLineItem) (*pb.Task, error) {
	items, err := quotaSpec(spec, change)
	if err != nil {
		return nil, err
	}
	task := c.store.NewTask(taskID(ctx), quotaOps[change], entity, caller(ctx), nil)
	task.TenantID = tenantID
	if entity.Kind == model.KindProject {
		task.ProjectID = entity.ID
	}
	if _, err := c.store.ChangeQuota(ctx, entity.Kind, entity.ID, change, items, task); err != nil {
		return nil, err
	}
	return taskPB(task), nil
}

// securityGroupsPB lists an entity's security groups as Photon showed them: first those
// it inherits (the system's, and for a project its tenant's), then its own that it does
// not inherit already.
func securityGroupsPB(inherited, own []string) []*pb.SecurityGroup {
	out := make([]*pb.SecurityGroup, 0, len(inherited)+len(own))
	seen := make(map[string]bool, len(inherited)+len(own))
	for _, g := range inherited {
		if !seen[g] {
			seen[g] = true
			out = append(out, &pb.SecurityGroup{Name: g, Inherited: true})
		}
	}
	for _, g := range own {
		if !seen[g] {
			seen[g] = true
			out = append(out, &pb.SecurityGroup{Name: g})
		}
	}
	return out
}
