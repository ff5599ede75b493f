package cli

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// The flag value grammars of Photon's CLI: lists split at commas, fields at spaces or
// colons.

var commas = regexp.MustCompile(`\s*,\s*`)

func splitList(s string) []string {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil
	}
	return commas.Split(s, -1)
}

// parseLimits reads "key value unit, key value unit" (quota limits, flavor costs).
func parseLimits(s string) ([]*pb.QuotaLineItem, error) {
	var out []*pb.QuotaLineItem
	for _, item := range splitList(s) {
		f := strings.Fields(item)
		if len(f) != 3 {
			return nil, usagef("limits: %q should be <key> <value> <unit>, <key> <value> <unit>...", item)
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, usagef("limits: %q: the value must be a number", item)
		}
		out = append(out, &pb.QuotaLineItem{Key: f[0], Value: v, Unit: f[2]})
	}
	return out, nil
}

// parseDisks reads "name flavor boot=true, name flavor capacityGB" (vm create -d).
func parseDisks(s string) ([]*pb.AttachedDisk, error) {
	var out []*pb.AttachedDisk
	for _, item := range splitList(s) {
		f := strings.Fields(item)
		if len(f) != 3 {
			return nil, usagef("disks: %q should be <name> <flavor> <boot=true|capacity in GB>", item)
		}
		d := &pb.AttachedDisk{Name: f[0], Flavor: f[1], Kind: "ephemeral-disk"}
		if f[2] == "boot=true" {
			d.BootDisk = true
		} else {
			gb, err := strconv.Atoi(f[2])
			if err != nil {
				return nil, usagef("disks: %q: the third field is boot=true or a capacity in GB", item)
			}
			d.CapacityGb = int32(gb)
		}
		out = append(out, d)
	}
	return out, nil
}

// parseAffinities reads "kind:id, kind:id".
func parseAffinities(s string) ([]*pb.LocalitySpec, error) {
	var out []*pb.LocalitySpec
	for _, item := range splitList(s) {
		k, id, ok := strings.Cut(item, ":")
		if !ok {
			return nil, usagef("affinities: %q should be <kind>:<id>, <kind>:<id>...", item)
		}
		out = append(out, &pb.LocalitySpec{Kind: strings.TrimSpace(k), Id: strings.TrimSpace(id)})
	}
	return out, nil
}

// parseMap reads "key:value, key:value" (vm create -e, set-metadata -m).
func parseMap(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range splitList(s) {
		k, v, ok := strings.Cut(item, ":")
		if !ok {
			return nil, usagef("%q should be <key>:<value>, <key>:<value>...", item)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// quotaMap is limits as a quota's items.
func quotaMap(limits []*pb.QuotaLineItem) map[string]*pb.QuotaStatusLineItem {
	m := map[string]*pb.QuotaStatusLineItem{}
	for _, l := range limits {
		m[l.GetKey()] = &pb.QuotaStatusLineItem{Unit: l.GetUnit(), Limit: l.GetValue()}
	}
	return m
}

// tenant is the tenant named by -t, else the one `tenant set` chose.
func (a *app) tenant(ctx context.Context, name string) (*Named, error) {
	if name == "" {
		if a.cfg.Tenant == nil {
			return nil, usagef("set a tenant first with 'tenant set <name>' or the '-t <name>' option")
		}
		return a.cfg.Tenant, nil
	}
	cl, err := a.client()
	if err != nil {
		return nil, err
	}
	ts, err := cl.ListTenants(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if t.GetName() == name {
			return &Named{Name: name, ID: t.GetId()}, nil
		}
	}
	return nil, usagef("tenant name '%s' not found", name)
}

// project is the project named by -p in the tenant of -t, else the one `project set`
// chose.
func (a *app) project(ctx context.Context, tenantName, name string) (*Named, error) {
	if name == "" && tenantName == "" {
		if a.cfg.Project == nil {
			return nil, usagef("set a project first with 'project set <name>' or the '-p <name>' option")
		}
		return a.cfg.Project, nil
	}
	if name == "" {
		return nil, usagef("-t needs -p <project name>")
	}
	t, err := a.tenant(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	cl, err := a.client()
	if err != nil {
		return nil, err
	}
	ps, err := cl.ListProjects(ctx, t.ID, name)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.GetName() == name {
			return &Named{Name: name, ID: p.GetId()}, nil
		}
	}
	return nil, usagef("project name '%s' not found in tenant '%s'", name, t.Name)
}

// projectList is `<kind> list [-t tenant -p project] [-n name]`: one of a project's
// lists, as a table (header, row) or the API's objects; -n when the list is named.
func projectList[T any](a *app, kind string, named bool, list func(*client.Client, context.Context, string, string) ([]T, error), header []string, row func(T) []string) *cobra.Command {
	var tenantName, projectName, name string
	cmd := &cobra.Command{
		Use: "list", Short: "List the " + kind + "s of a project", Args: args(0, kind+" list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project(cmd.Context(), tenantName, projectName)
			if err != nil {
				return err
			}
			return listOf(a, func(cl *client.Client) ([]T, error) { return list(cl, cmd.Context(), p.ID, name) }, header, row)
		},
	}
	cmd.Flags().StringVarP(&tenantName, "tenant", "t", "", "tenant name")
	cmd.Flags().StringVarP(&projectName, "project", "p", "", "project name")
	if named {
		cmd.Flags().StringVarP(&name, "name", "n", "", "only "+kind+"s of this name")
	}
	return cmd
}

// unnamed adapts a list without a name filter to projectList's (named false).
func unnamed[T any](list func(*client.Client, context.Context, string) ([]T, error)) func(*client.Client, context.Context, string, string) ([]T, error) {
	return func(c *client.Client, ctx context.Context, project, _ string) ([]T, error) {
		return list(c, ctx, project)
	}
}
