package cli

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

func (a *app) userCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Users of the built-in directory (system administrators), and your own password"}
	var pass, groups string
	create := &cobra.Command{
		Use: "create <name>", Short: "Create a user (name@domain)", Args: maxArgs(1, "user create <name> -p <password> [-g groups]"),
		RunE: func(cmd *cobra.Command, as []string) error {
			name := first(as)
			if err := a.ask(&name, "User name (user@domain)", true); err != nil {
				return err
			}
			if err := a.askSecret(&pass, "Password"); err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			u, err := cl.CreateUser(cmd.Context(), name, pass, splitList(groups))
			if err != nil {
				return err
			}
			return a.showUser(u)
		},
	}
	create.Flags().StringVarP(&pass, "password", "p", "", "password (at least 8 characters)")
	create.Flags().StringVarP(&groups, "groups", "g", "", "comma-separated groups")
	list := &cobra.Command{
		Use: "list", Short: "List users", Args: args(0, "user list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			us, err := cl.ListUsers(cmd.Context())
			if err != nil {
				return err
			}
			var rows [][]string
			for _, u := range us {
				rows = append(rows, []string{u.Name, join(u.Groups)})
			}
			return a.table(us, []string{"Name", "Groups"}, rows)
		},
	}
	show := &cobra.Command{
		Use: "show [<name>]", Short: "Show a user (yourself without a name)", Args: maxArgs(1, "user show [<name>]"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			var u *client.User
			if len(as) == 0 {
				u, err = cl.Me(cmd.Context())
			} else {
				u, err = cl.GetUser(cmd.Context(), as[0])
			}
			if err != nil {
				return err
			}
			return a.showUser(u)
		},
	}
	del := &cobra.Command{
		Use: "delete <name>", Short: "Delete a user", Args: args(1, "user delete <name>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := cl.DeleteUser(cmd.Context(), as[0]); err != nil {
				return err
			}
			return a.done("Deleted user " + as[0])
		},
	}
	var newPass string
	reset := &cobra.Command{
		Use: "set-password <name>", Short: "Set a user's password (system administrators)", Args: args(1, "user set-password <name> -p <password>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if err := a.askSecret(&newPass, "New password"); err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := cl.ResetPassword(cmd.Context(), as[0], newPass); err != nil {
				return err
			}
			return a.done("Password of " + as[0] + " set")
		},
	}
	reset.Flags().StringVarP(&newPass, "password", "p", "", "new password")
	var cur, next string
	passwd := &cobra.Command{
		Use: "passwd", Short: "Change your own password", Args: args(0, "user passwd"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.askSecret(&cur, "Current password"); err != nil {
				return err
			}
			if err := a.askSecret(&next, "New password"); err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := cl.ChangePassword(cmd.Context(), cur, next); err != nil {
				return err
			}
			return a.done("Password changed")
		},
	}
	passwd.Flags().StringVar(&cur, "current", "", "current password")
	passwd.Flags().StringVar(&next, "new", "", "new password")
	cmd.AddCommand(create, list, show, del, reset, passwd)
	return cmd
}

func (a *app) showUser(u *client.User) error {
	return a.show(u, "User", []kv{{"Name", u.Name}, {"Groups", join(u.Groups)}})
}

// done prints a message for a call that answers no task (nothing with -n or -o json).
func (a *app) done(message string) error {
	if !a.g.nonInteractive && !a.json() {
		fmt.Fprintln(a.out, message)
	}
	return nil
}

func (a *app) groupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "group", Short: "Groups of the built-in directory (system administrators)"}
	var desc string
	create := &cobra.Command{
		Use: "create <name>", Short: "Create a group", Args: args(1, "group create <name> [-d description]"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			g, err := cl.CreateGroup(cmd.Context(), as[0], desc)
			if err != nil {
				return err
			}
			return a.showGroup(g)
		},
	}
	create.Flags().StringVarP(&desc, "description", "d", "", "description")
	list := &cobra.Command{
		Use: "list", Short: "List groups", Args: args(0, "group list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			gs, err := cl.ListGroups(cmd.Context())
			if err != nil {
				return err
			}
			var rows [][]string
			for _, g := range gs {
				rows = append(rows, []string{g.Name, g.Description, join(g.Members)})
			}
			return a.table(gs, []string{"Name", "Description", "Members"}, rows)
		},
	}
	show := &cobra.Command{
		Use: "show <name>", Short: "Show a group", Args: args(1, "group show <name>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			g, err := cl.GetGroup(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.showGroup(g)
		},
	}
	del := &cobra.Command{
		Use: "delete <name>", Short: "Delete a group", Args: args(1, "group delete <name>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			if err := cl.DeleteGroup(cmd.Context(), as[0]); err != nil {
				return err
			}
			return a.done("Deleted group " + as[0])
		},
	}
	add := &cobra.Command{
		Use: "add-member <group> <user>", Short: "Add a user to a group", Args: args(2, "group add-member <group> <user>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			g, err := cl.AddGroupMember(cmd.Context(), as[0], as[1])
			if err != nil {
				return err
			}
			return a.showGroup(g)
		},
	}
	remove := &cobra.Command{
		Use: "remove-member <group> <user>", Short: "Remove a user from a group", Args: args(2, "group remove-member <group> <user>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			g, err := cl.RemoveGroupMember(cmd.Context(), as[0], as[1])
			if err != nil {
				return err
			}
			return a.showGroup(g)
		},
	}
	cmd.AddCommand(create, list, show, del, add, remove)
	return cmd
}

func (a *app) showGroup(g *client.Group) error {
	return a.show(g, "Group", []kv{{"Name", g.Name}, {"Description", g.Description}, {"Members", join(g.Members)}})
}

func (a *app) subscriptionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "subscription", Short: "Send a project's events to an HTTPS sink"}
	var sink, types, prefix, tenantName, projectName string
	create := &cobra.Command{
		Use: "create", Short: "Subscribe a sink to the project's events", Args: args(0, "subscription create -s <sink URL> [--types t1,t2]"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project(cmd.Context(), tenantName, projectName)
			if err != nil {
				return err
			}
			if err := a.ask(&sink, "Sink URL", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.CreateSubscription(cmd.Context(), p.ID, &pb.SubscriptionSpec{Sink: sink, Types: splitList(types), SubjectPrefix: prefix})
			}, func(cl *client.Client) getter { return msg(cl.GetSubscription) })
		},
	}
	f := create.Flags()
	f.StringVarP(&sink, "sink", "s", "", "the sink's URL")
	f.StringVar(&types, "types", "", "comma-separated event types (default: all)")
	f.StringVar(&prefix, "subject-prefix", "", "only events whose subject starts so")
	f.StringVarP(&tenantName, "tenant", "t", "", "tenant name")
	f.StringVarP(&projectName, "project", "p", "", "project name")
	list := projectList(a, "subscription", false, unnamed((*client.Client).ListSubscriptions), []string{"ID", "Sink", "Types", "Subject prefix", "Owner"}, func(s *pb.Subscription) []string {
		return []string{s.GetId(), s.GetSink(), join(s.GetTypes()), s.GetSubjectPrefix(), s.GetOwner()}
	})
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a subscription", Args: args(1, "subscription show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			s, err := cl.GetSubscription(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.show(s, "Subscription ID", []kv{{"ID", s.GetId()}, {"Sink", s.GetSink()}, {"Types", join(s.GetTypes())}, {"Subject prefix", s.GetSubjectPrefix()}, {"Owner", s.GetOwner()}})
		},
	}
	cmd.AddCommand(create, list, show)
	a.entityCmds(cmd, "subscription", "", (*client.Client).DeleteSubscription, nil)
	return cmd
}

func (a *app) ruleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "rule", Short: "Rules: events that trigger inbound events"}
	var file, tenantName, projectName string
	create := &cobra.Command{
		Use: "create", Short: "Create a rule from its JSON spec ({name, filter, actions, maxPerMinute})", Args: args(0, "rule create -f <spec.json>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project(cmd.Context(), tenantName, projectName)
			if err != nil {
				return err
			}
			if err := a.ask(&file, "Rule spec file", true); err != nil {
				return err
			}
			raw, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			spec := &pb.RuleSpec{}
			if err := protojson.Unmarshal(raw, spec); err != nil {
				return usagef("rule spec %s: %v", file, err)
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.CreateRule(cmd.Context(), p.ID, spec) }, func(cl *client.Client) getter { return msg(cl.GetRule) })
		},
	}
	create.Flags().StringVarP(&file, "file", "f", "", "JSON file of the rule's spec")
	create.Flags().StringVarP(&tenantName, "tenant", "t", "", "tenant name")
	create.Flags().StringVarP(&projectName, "project", "p", "", "project name")
	list := projectList(a, "rule", false, unnamed((*client.Client).ListRules), []string{"ID", "Name", "Types", "Actions", "Owner"}, func(r *pb.Rule) []string {
		return []string{r.GetId(), r.GetName(), join(r.GetFilter().GetTypes()), fmt.Sprint(len(r.GetActions())), r.GetOwner()}
	})
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a rule", Args: args(1, "rule show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			r, err := cl.GetRule(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			acts, _ := protojson.Marshal(&pb.RuleSpec{Actions: r.GetActions()})
			return a.show(r, "Rule ID", []kv{{"ID", r.GetId()}, {"Name", r.GetName()}, {"Types", join(r.GetFilter().GetTypes())},
				{"Subject prefix", r.GetFilter().GetSubjectPrefix()}, {"Actions", string(acts)}, {"Owner", r.GetOwner()}})
		},
	}
	cmd.AddCommand(create, list, show)
	a.entityCmds(cmd, "rule", "", (*client.Client).DeleteRule, nil)
	return cmd
}

func (a *app) eventCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "event", Short: "Send an inbound event (a CloudEvent) to the API"}
	var typ, subject, data string
	publish := &cobra.Command{
		Use: "publish", Short: "Publish an event, e.g. io.photon.vm.delete.requested", Args: args(0, "event publish --type <type> --subject <subject> [--data <json>]"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.ask(&typ, "Event type", true); err != nil {
				return err
			}
			var raw json.RawMessage
			if data != "" {
				if !json.Valid([]byte(data)) {
					return usagef("--data is not JSON")
				}
				raw = json.RawMessage(data)
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.PublishEvent(cmd.Context(), typ, subject, raw) }, nil)
		},
	}
	publish.Flags().StringVar(&typ, "type", "", "event type")
	publish.Flags().StringVar(&subject, "subject", "", "event subject (e.g. the VM's id)")
	publish.Flags().StringVar(&data, "data", "", "JSON data")
	cmd.AddCommand(publish)
	return cmd
}

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "The audit log of API calls (system administrators)"}
	var o client.AuditOptions
	list := &cobra.Command{
		Use: "list", Short: "List audit entries, newest first", Args: args(0, "audit list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			es, err := cl.ListAudit(cmd.Context(), o)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, e := range es {
				rows = append(rows, []string{millis(e.GetTime()), e.GetSubject(), e.GetMethod(), e.GetPath(), e.GetOutcome(), e.GetCode()})
			}
			return a.table(es, []string{"Time", "Subject", "Method", "Path", "Outcome", "Code"}, rows)
		},
	}
	list.Flags().StringVar(&o.Subject, "subject", "", "only calls of this user")
	list.Flags().StringVar(&o.Outcome, "outcome", "", "only calls with this outcome")
	list.Flags().StringVar(&o.TenantID, "tenant-id", "", "only calls on this tenant")
	list.Flags().IntVar(&o.PageSize, "limit", 50, "at most this many entries")
	cmd.AddCommand(list)
	return cmd
}
