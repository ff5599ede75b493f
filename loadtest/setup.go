package loadtest

import (
	"context"
	"fmt"
)

// Fixture is what a run creates VMs in: a tenant and project of its own, a 1-CPU flavor
// and an ephemeral-disk flavor, and an image on the hosts' datastores.
type Fixture struct {
	Name, Tenant, Project, Image string
}

// Prepare creates a run's fixture over REST; name keeps runs apart. diskPath is an image
// disk every host holds (the dev cloud's devcloud.DefaultImage).
func Prepare(ctx context.Context, c *Client, name, diskPath string) (Fixture, error) {
	f := Fixture{Name: name}
	var tk struct {
		Entity struct{ ID string } `json:"entity"`
	}
	steps := []func() error{
		func() error { return c.Do(ctx, "POST", "/v1/tenants", map[string]any{"name": name}, &tk) },
		func() error {
			f.Tenant = tk.Entity.ID
			return c.Do(ctx, "POST", "/v1/tenants/"+f.Tenant+"/projects", map[string]any{"name": name}, &tk)
		},
		func() error {
			f.Project = tk.Entity.ID
			return c.Do(ctx, "POST", "/v1/flavors", map[string]any{"name": name + "-tiny", "kind": "vm", "cost": []map[string]any{
				{"key": "vm.cpu", "value": 1, "unit": "COUNT"}, {"key": "vm.memory", "value": 32, "unit": "MB"}}}, nil)
		},
		func() error {
			return c.Do(ctx, "POST", "/v1/flavors", map[string]any{"name": name + "-disk", "kind": "ephemeral-disk", "cost": []map[string]any{
				{"key": "ephemeral-disk", "value": 1, "unit": "COUNT"}}}, nil)
		},
		func() error {
			return c.Do(ctx, "POST", "/v1/images/register", map[string]any{"name": name, "diskPath": diskPath}, &tk)
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return f, fmt.Errorf("prepare: %w", err)
		}
	}
	f.Image = tk.Entity.ID
	return f, nil
}

// Spec is the create spec of the i-th call: VMs named <name>-i, with f's flavors and
// image, a boot disk and a 1 GB data disk, powered on once made (the figures count the
// whole chain, power on included).
func (f Fixture) Spec(i int) map[string]any {
	return map[string]any{"name": fmt.Sprintf("%s-%d", f.Name, i), "flavor": f.Name + "-tiny", "sourceImageId": f.Image,
		"powerOn": true,
		"attachedDisks": []map[string]any{
			{"name": "boot", "kind": "ephemeral-disk", "flavor": f.Name + "-disk", "bootDisk": true},
			{"name": "data", "kind": "ephemeral-disk", "flavor": f.Name + "-disk", "capacityGb": 1}}}
}
