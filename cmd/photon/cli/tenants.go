package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// entityCmds adds the commands every kind has the same way: delete <id>, tasks <id>.
func (a *app) entityCmds(cmd *cobra.Command, kind, path string, del func(*client.Client, context.Context, string) (*pb.Task, error), after func(id string) error) {
	if del != nil {
		cmd.AddCommand(&cobra.Command{
			Use: "delete <id>", Short: "Delete a " + kind, Args: args(1, kind+" delete <id>"),
			RunE: func(cmd *cobra.Command, as []string) error {
				cl, err := a.client()
				if err != nil {
					return err
				}
				t, err := del(cl, cmd.Context(), as[0])
				if _, err = a.run(cmd.Context(), t, err, nil); err != nil || after == nil {
					return err
				}
				return after(as[0])
			},
		})
	}
	if path == "" {
		return
	}
	var state string
	tasks := &cobra.Command{
		Use: "tasks <id>", Short: "List the tasks of a " + kind, Args: args(1, kind+" tasks <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			ts, err := cl.EntityTasks(cmd.Context(), "/v1/"+path+"/"+as[0]+"/tasks", state)
			if err != nil {
				return err
			}
			return a.taskList(ts)
		},
	}
	tasks.Flags().StringVarP(&state, "state", "s", "", "only tasks in this state")
	cmd.AddCommand(tasks)
}

func (a *app) taskList(ts []*pb.Task) error {
	var rows [][]string
	for _, t := range ts {
		rows = append(rows, []string{t.GetId(), t.GetState(), t.GetOperation(), millis(t.GetStartedTime()), t.GetEntity().GetId()})
	}
	return a.table(ts, []string{"Task", "State", "Operation", "Start Time", "Entity"}, rows)
}

func (a *app) tenantCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tenant", Short: "Tenants: create, list, show, set, quota, iam"}
	var groups string
	create := &cobra.Command{
		Use: "create <name>", Short: "Create a tenant", Args: maxArgs(1, "tenant create <name>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			name := first(as)
			if err := a.ask(&name, "Tenant name", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.CreateTenant(cmd.Context(), &pb.TenantCreateSpec{Name: name, SecurityGroups: splitList(groups)})
			}, func(cl *client.Client) getter { return msg(cl.GetTenant) })
		},
	}
	create.Flags().StringVarP(&groups, "security-groups", "s", "", "comma-separated security groups")
	list := &cobra.Command{
		Use: "list", Short: "List tenants", Args: args(0, "tenant list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			ts, err := cl.ListTenants(cmd.Context(), "")
			if err != nil {
				return err
			}
			var rows [][]string
			for _, t := range ts {
				rows = append(rows, []string{t.GetId(), t.GetName()})
			}
			return a.table(ts, []string{"ID", "Name"}, rows)
		},
	}
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a tenant", Args: args(1, "tenant show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			t, err := cl.GetTenant(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.show(t, "Tenant ID", []kv{{"ID", t.GetId()}, {"Name", t.GetName()}, {"Security groups", securityGroups(t.GetSecurityGroups())}})
		},
	}
	set := &cobra.Command{
		Use: "set <name>", Short: "Choose the tenant later commands use", Args: args(1, "tenant set <name>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			a.cfg.Tenant = nil
			t, err := a.tenant(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			a.cfg.Tenant, a.cfg.Project = t, nil
			if err := a.cfg.save(); err != nil {
				return err
			}
			if !a.g.nonInteractive {
				fmt.Fprintf(a.out, "Tenant set to '%s'\n", t.Name)
			}
			return nil
		},
	}
	get := &cobra.Command{
		Use: "get", Short: "Show the tenant chosen with 'tenant set'", Args: args(0, "tenant get"),
		RunE: func(*cobra.Command, []string) error { return a.current("tenant", a.cfg.Tenant) },
	}
	cmd.AddCommand(create, list, show, set, get)
	a.entityCmds(cmd, "tenant", "tenants", (*client.Client).DeleteTenant, func(id string) error {
		if a.cfg.Tenant != nil && a.cfg.Tenant.ID == id {
			a.cfg.Tenant, a.cfg.Project = nil, nil
			return a.cfg.save()
		}
		return nil
	})
	cmd.AddCommand(a.quotaCmd("tenant", "tenants"), a.iamCmd("tenant", "tenants"))
	cmd.AddCommand(a.securityGroupsCmds("tenant", "tenants")...)
	return cmd
}

// projectByNameOrID finds a project by name in the tenant `tenant set` chose, else by
// id: a project user who cannot list the tenant's projects chooses theirs by id (and the
// tenant with it).
func (a *app) projectByNameOrID(ctx context.Context, arg string) (*Named, error) {
	if a.cfg.Tenant != nil {
		p, err := a.project(ctx, a.cfg.Tenant.Name, arg)
		if err == nil {
			return p, nil
		}
	}
	cl, err := a.client()
	if err != nil {
		return nil, err
	}
	p, err := cl.GetProject(ctx, arg)
	if err != nil {
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Status == 404 && a.cfg.Tenant == nil {
			return nil, usagef("no project with id %s; to choose one by name, set a tenant first with 'tenant set <name>'", arg)
		}
		return nil, err
	}
	if a.cfg.Tenant == nil || a.cfg.Tenant.ID != p.GetTenantId() {
		a.cfg.Tenant = &Named{ID: p.GetTenantId(), Name: p.GetTenantId()}
		if t, err := cl.GetTenant(ctx, p.GetTenantId()); err == nil {
			a.cfg.Tenant.Name = t.GetName()
		}
	}
	return &Named{Name: p.GetName(), ID: p.GetId()}, nil
}

func (a *app) current(kind string, n *Named) error {
	switch {
	case n == nil:
		return usagef("no %s selected: run 'photon %s set <name>'", kind, kind)
	case a.json():
		return a.emitJSON(map[string]string{"id": n.ID, "name": n.Name})
	case a.g.nonInteractive:
		fmt.Fprintf(a.out, "%s\t%s\n", n.ID, n.Name)
	default:
		fmt.Fprintf(a.out, "Current %s is '%s' with ID %s\n", kind, n.Name, n.ID)
	}
	return nil
}

func (a *app) projectCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "project", Short: "Projects: create, list, show, set, quota, iam"}
	var name, limits, tenantName, ticket, groups, policy string
	create := &cobra.Command{
		Use: "create", Short: "Create a project in a tenant, with a quota", Args: args(0, "project create [<options>]"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := a.tenant(cmd.Context(), tenantName)
			if err != nil {
				return err
			}
			if err := a.ask(&name, "Project name", true); err != nil {
				return err
			}
			if err := a.ask(&limits, "Limits (e.g. 'vm.count 10 COUNT, vm.memory 64 GB')", false); err != nil {
				return err
			}
			ls, err := parseLimits(limits)
			if err != nil {
				return err
			}
			spec := &pb.ProjectCreateSpec{Name: name, SecurityGroups: splitList(groups), PlacementPolicy: policy}
			if len(ls) > 0 || ticket != "" {
				spec.ResourceTicket = &pb.ResourceTicketReservation{Name: ticket, Limits: ls}
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			task, err := cl.CreateProject(cmd.Context(), t.ID, spec)
			_, err = a.run(cmd.Context(), task, err, msg(cl.GetProject))
			return err
		},
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "project name")
	f.StringVarP(&limits, "limits", "l", "", "quota limits: 'key value unit, key value unit'")
	f.StringVarP(&tenantName, "tenant", "t", "", "tenant name (default: the one 'tenant set' chose)")
	f.StringVarP(&ticket, "resource-ticket", "r", "", "resource ticket name (Photon 1.x; optional)")
	f.StringVarP(&groups, "security-groups", "g", "", "comma-separated security groups")
	f.StringVar(&policy, "placement-policy", "", "SPREAD (default) or PACK")

	var listTenant string
	list := &cobra.Command{
		Use: "list", Short: "List the projects of a tenant", Args: args(0, "project list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := a.tenant(cmd.Context(), listTenant)
			if err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			ps, err := cl.ListProjects(cmd.Context(), t.ID, "")
			if err != nil {
				return err
			}
			var rows [][]string
			for _, p := range ps {
				rows = append(rows, []string{p.GetId(), p.GetName(), quotaItems(p.GetResourceTicket().GetLimits()), quotaItems(p.GetResourceTicket().GetUsage())})
			}
			return a.table(ps, []string{"ID", "Name", "Limit", "Usage"}, rows)
		},
	}
	list.Flags().StringVarP(&listTenant, "tenant", "t", "", "tenant name")
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a project", Args: args(1, "project show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			p, err := cl.GetProject(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			rt := p.GetResourceTicket()
			return a.show(p, "Project ID", []kv{{"ID", p.GetId()}, {"Name", p.GetName()}, {"TenantTicketID", rt.GetTenantTicketId()},
				{"TenantTicketName", rt.GetTenantTicketName()}, {"Limits", quotaItems(rt.GetLimits())}, {"Usage", quotaItems(rt.GetUsage())},
				{"SecurityGroups", securityGroups(p.GetSecurityGroups())}})
		},
	}
	set := &cobra.Command{
		Use: "set <name|id>", Short: "Choose the project later commands use (by name in the tenant set, or by id)", Args: args(1, "project set <name>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			p, err := a.projectByNameOrID(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			a.cfg.Project = p
			if err := a.cfg.save(); err != nil {
				return err
			}
			if !a.g.nonInteractive {
				fmt.Fprintf(a.out, "Project set to '%s'\n", p.Name)
			}
			return nil
		},
	}
	get := &cobra.Command{
		Use: "get", Short: "Show the project chosen with 'project set'", Args: args(0, "project get"),
		RunE: func(*cobra.Command, []string) error { return a.current("project", a.cfg.Project) },
	}
	cmd.AddCommand(create, list, show, set, get)
	a.entityCmds(cmd, "project", "projects", (*client.Client).DeleteProject, func(id string) error {
		if a.cfg.Project != nil && a.cfg.Project.ID == id {
			a.cfg.Project = nil
			return a.cfg.save()
		}
		return nil
	})
	cmd.AddCommand(a.quotaCmd("project", "projects"), a.iamCmd("project", "projects"))
	cmd.AddCommand(a.securityGroupsCmds("project", "projects")...)
	return cmd
}

// quotaCmd is `<kind> quota show|set|update|exclude <id> [-l limits]`.
func (a *app) quotaCmd(kind, path string) *cobra.Command {
	cmd := &cobra.Command{Use: "quota", Short: "Show and change a " + kind + "'s quota"}
	show := &cobra.Command{
		Use: "show <" + kind + "-id>", Short: "Show the quota", Args: args(1, kind+" quota show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error { return a.showQuota(cmd.Context(), path, as[0]) },
	}
	cmd.AddCommand(show)
	for _, op := range []struct{ use, method, short string }{
		{"set", "PUT", "Replace the whole quota with the limits given"},
		{"update", "PATCH", "Change the limits given, keep the others"},
		{"exclude", "DELETE", "Remove the limits given"},
	} {
		var limits string
		c := &cobra.Command{
			Use: op.use + " <" + kind + "-id>", Short: op.short, Args: args(1, kind+" quota "+op.use+" <id> -l <limits>"),
			RunE: func(cmd *cobra.Command, as []string) error {
				if err := a.ask(&limits, "Limits (e.g. 'vm.count 10 COUNT, vm.memory 64 GB')", true); err != nil {
					return err
				}
				ls, err := parseLimits(limits)
				if err != nil {
					return err
				}
				cl, err := a.client()
				if err != nil {
					return err
				}
				t, err := cl.ChangeQuota(cmd.Context(), op.method, path, as[0], quotaMap(ls))
				if err != nil {
					return err
				}
				if _, err := a.wait(cmd.Context(), t); err != nil {
					return err
				}
				return a.showQuota(cmd.Context(), path, as[0])
			},
		}
		c.Flags().StringVarP(&limits, "limits", "l", "", "limits: 'key value unit, key value unit'")
		cmd.AddCommand(c)
	}
	return cmd
}

func (a *app) showQuota(ctx context.Context, path, id string) error {
	cl, err := a.client()
	if err != nil {
		return err
	}
	q, err := cl.GetQuota(ctx, path, id)
	if err != nil {
		return err
	}
	keys := make([]string, 0, len(q.GetQuotaItems()))
	for k := range q.GetQuotaItems() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var rows [][]string
	for _, k := range keys {
		it := q.GetQuotaItems()[k]
		rows = append(rows, []string{k, fmt.Sprintf("%g", it.GetLimit()), fmt.Sprintf("%g", it.GetUsage()), it.GetUnit()})
	}
	return a.table(q, []string{"Key", "Limit", "Usage", "Unit"}, rows)
}

// iamCmd is `<kind> iam show|add|remove <id> [-p principal -r role]`.
func (a *app) iamCmd(kind, path string) *cobra.Command {
	cmd := &cobra.Command{Use: "iam", Short: "Show and change who may do what on a " + kind}
	show := &cobra.Command{
		Use: "show <" + kind + "-id>", Short: "Show the IAM policy", Args: args(1, kind+" iam show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error { return a.showIam(cmd.Context(), path, as[0]) },
	}
	cmd.AddCommand(show)
	for _, op := range []struct{ use, action, short string }{
		{"add", "ADD", "Grant a role to a user or group"},
		{"remove", "REMOVE", "Remove a role from a user or group ('*' removes them all)"},
	} {
		var principal, role string
		c := &cobra.Command{
			Use: op.use + " <" + kind + "-id>", Short: op.short, Args: args(1, kind+" iam "+op.use+" <id> -p <principal> -r <role>"),
			RunE: func(cmd *cobra.Command, as []string) error {
				if err := a.ask(&principal, "Principal", true); err != nil {
					return err
				}
				if err := a.ask(&role, "Role (owner, contributor, viewer)", true); err != nil {
					return err
				}
				cl, err := a.client()
				if err != nil {
					return err
				}
				t, err := cl.ModifyIam(cmd.Context(), path, as[0], &pb.PolicyDelta{Principal: principal, Action: op.action, Role: role})
				if err != nil {
					return err
				}
				if _, err := a.wait(cmd.Context(), t); err != nil {
					return err
				}
				return a.showIam(cmd.Context(), path, as[0])
			},
		}
		c.Flags().StringVarP(&principal, "principal", "p", "", "user or group, e.g. alice@photon.local")
		c.Flags().StringVarP(&role, "role", "r", "", "owner, contributor or viewer")
		cmd.AddCommand(c)
	}
	return cmd
}

// showIam prints a policy in either of the API's shapes: [{principal, roles}] or
// [{role, subjects}].
func (a *app) showIam(ctx context.Context, path, id string) error {
	cl, err := a.client()
	if err != nil {
		return err
	}
	raw, err := cl.GetIam(ctx, path, id)
	if err != nil {
		return err
	}
	if a.json() {
		_, err := fmt.Fprintf(a.out, "%s\n", raw)
		return err
	}
	var entries []struct {
		Principal string   `json:"principal"`
		Roles     []string `json:"roles"`
		Role      string   `json:"role"`
		Subjects  []string `json:"subjects"`
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		var wrapped struct {
			Items json.RawMessage `json:"items"`
		}
		if json.Unmarshal(raw, &wrapped) != nil || json.Unmarshal(wrapped.Items, &entries) != nil {
			return fmt.Errorf("read the IAM policy: %w", err)
		}
	}
	var rows [][]string
	for _, e := range entries {
		if e.Principal != "" {
			rows = append(rows, []string{e.Principal, strings.Join(e.Roles, ",")})
		}
		for _, s := range e.Subjects {
			rows = append(rows, []string{s, e.Role})
		}
	}
	return a.table(nil, []string{"Principal", "Roles"}, rows)
}

func securityGroups(gs []*pb.SecurityGroup) string {
	var out []string
	for _, g := range gs {
		out = append(out, fmt.Sprintf("%s:%t", g.GetName(), g.GetInherited()))
	}
	return strings.Join(out, ",")
}

func first(as []string) string {
	if len(as) == 0 {
		return ""
	}
	return as[0]
}

// msg adapts a typed getter to run's.
func msg[T proto.Message](get func(context.Context, string) (T, error)) getter {
	return func(ctx context.Context, id string) (proto.Message, error) { return get(ctx, id) }
}

// securityGroupsCmds are `<kind> set-security-groups <id> <groups>` and Photon's older
// spelling set_security_groups, hidden.
func (a *app) securityGroupsCmds(kind, path string) []*cobra.Command {
	var cmds []*cobra.Command
	for _, use := range []string{"set-security-groups", "set_security_groups"} {
		cmds = append(cmds, &cobra.Command{
			Use: use + " <id> <groups>", Short: "Set the security groups of a " + kind + " (comma-separated)", Hidden: use == "set_security_groups",
			Args: args(2, kind+" "+use+" <id> <comma-separated groups>"),
			RunE: func(cmd *cobra.Command, as []string) error {
				return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
					t := &pb.Task{}
					return t, cl.Do(cmd.Context(), "POST", "/v1/"+path+"/"+as[0]+"/set_security_groups", map[string][]string{"items": splitList(as[1])}, t)
				}, nil)
			},
		})
	}
	return cmds
}
