package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

func (a *app) routerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "router", Short: "Routers of a project: create, list, show, update, delete"}
	var name, cidr, tenantName, projectName string
	create := &cobra.Command{
		Use: "create", Short: "Create a router", Args: args(0, "router create -n <name> -i <private CIDR>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project(cmd.Context(), tenantName, projectName)
			if err != nil {
				return err
			}
			if err := a.ask(&name, "Router name", true); err != nil {
				return err
			}
			if err := a.ask(&cidr, "Router privateIpCidr", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.CreateRouter(cmd.Context(), p.ID, &pb.RouterCreateSpec{Name: name, PrivateIpCidr: cidr})
			}, func(cl *client.Client) getter { return msg(cl.GetRouter) })
		},
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "router name")
	f.StringVarP(&cidr, "privateIpCidr", "i", "", "the router's private IP range, e.g. 192.168.0.0/16")
	f.StringVarP(&tenantName, "tenant", "t", "", "tenant name")
	f.StringVarP(&projectName, "project", "p", "", "project name")
	list := projectList(a, "router", true, (*client.Client).ListRouters, []string{"ID", "Name", "PrivateIpCidr", "State"}, func(r *pb.Router) []string {
		return []string{r.GetId(), r.GetName(), r.GetPrivateIpCidr(), r.GetState()}
	})
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a router", Args: args(1, "router show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			r, err := cl.GetRouter(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.show(r, "Router ID", []kv{{"ID", r.GetId()}, {"name", r.GetName()}, {"privateIpCidr", r.GetPrivateIpCidr()}})
		},
	}
	var newName string
	update := &cobra.Command{
		Use: "update <id>", Short: "Rename a router", Args: args(1, "router update <id> -n <name>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if err := a.ask(&newName, "Router name", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.UpdateRouter(cmd.Context(), as[0], newName) }, func(cl *client.Client) getter { return msg(cl.GetRouter) })
		},
	}
	update.Flags().StringVarP(&newName, "name", "n", "", "new name")
	cmd.AddCommand(create, list, show, update)
	a.entityCmds(cmd, "router", "routers", (*client.Client).DeleteRouter, nil)
	return cmd
}

func (a *app) subnetRows(ss []*pb.Subnet) [][]string {
	var rows [][]string
	for _, s := range ss {
		rows = append(rows, []string{s.GetId(), s.GetName(), s.GetKind(), s.GetDescription(), s.GetPrivateIpCidr(), s.GetState(), fmt.Sprint(s.GetIsDefault())})
	}
	return rows
}

var subnetHeader = []string{"ID", "Name", "Kind", "Description", "PrivateIpCidr", "State", "Default"}

func (a *app) subnetCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "subnet", Short: "Subnets of a router: create, list, show, update, delete"}
	var name, desc, cidr, router string
	create := &cobra.Command{
		Use: "create", Short: "Create a subnet on a router", Args: args(0, "subnet create -n <name> -d <description> -i <CIDR> -r <router-id>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.ask(&router, "Router ID", true); err != nil {
				return err
			}
			if err := a.ask(&name, "Subnet name", true); err != nil {
				return err
			}
			if err := a.ask(&desc, "Subnet description", false); err != nil {
				return err
			}
			if err := a.ask(&cidr, "Subnet privateIpCidr", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.CreateSubnet(cmd.Context(), router, &pb.SubnetCreateSpec{Name: name, Description: desc, PrivateIpCidr: cidr})
			}, func(cl *client.Client) getter { return msg(cl.GetSubnet) })
		},
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "subnet name")
	f.StringVarP(&desc, "description", "d", "", "description")
	f.StringVarP(&cidr, "privateIpCidr", "i", "", "the subnet's private IP range, inside the router's")
	f.StringVarP(&router, "router", "r", "", "router ID")
	var lname string
	list := &cobra.Command{
		Use: "list <router-id>", Short: "List the subnets of a router", Args: args(1, "subnet list <router-id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			ss, err := cl.ListRouterSubnets(cmd.Context(), as[0], lname)
			if err != nil {
				return err
			}
			return a.table(ss, subnetHeader, a.subnetRows(ss))
		},
	}
	list.Flags().StringVar(&lname, "name", "", "only subnets of this name")
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a subnet", Args: args(1, "subnet show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error { return a.showSubnet(cmd, as[0]) },
	}
	var newName string
	update := &cobra.Command{
		Use: "update <id>", Short: "Rename a subnet", Args: args(1, "subnet update <id> -n <name>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if err := a.ask(&newName, "Subnet name", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.UpdateSubnet(cmd.Context(), as[0], newName) }, func(cl *client.Client) getter { return msg(cl.GetSubnet) })
		},
	}
	update.Flags().StringVarP(&newName, "name", "n", "", "new name")
	cmd.AddCommand(create, list, show, update, a.setDefaultCmd("subnet"))
	a.entityCmds(cmd, "subnet", "subnets", (*client.Client).DeleteSubnet, nil)
	return cmd
}

func (a *app) showSubnet(cmd *cobra.Command, id string) error {
	cl, err := a.client()
	if err != nil {
		return err
	}
	s, err := cl.GetSubnet(cmd.Context(), id)
	if err != nil {
		return err
	}
	return a.show(s, "Subnet ID", []kv{{"ID", s.GetId()}, {"name", s.GetName()}, {"description", s.GetDescription()}, {"privateIpCidr", s.GetPrivateIpCidr()},
		{"state", s.GetState()}, {"isDefault", fmt.Sprint(s.GetIsDefault())}, {"portGroups", join(s.GetPortGroups().GetPortGroups())}})
}

func (a *app) setDefaultCmd(kind string) *cobra.Command {
	return &cobra.Command{
		Use: "set-default <id>", Short: "Make a " + kind + " the default one", Args: args(1, kind+" set-default <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.SetDefaultSubnet(cmd.Context(), as[0]) }, func(cl *client.Client) getter { return msg(cl.GetSubnet) })
		},
	}
}

// networkCmd is Photon 1.2's `network`: subnets backed by port groups of the hosts
// (/v1/subnets), beside the routers' subnets.
func (a *app) networkCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "network", Short: "Networks backed by port groups: create, list, show, set-default, delete"}
	var name, desc, portGroups, cidr string
	create := &cobra.Command{
		Use: "create", Short: "Create a network on port groups", Args: args(0, "network create -n <name> -p <port groups>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.ask(&name, "Network name", true); err != nil {
				return err
			}
			if err := a.ask(&desc, "Description", false); err != nil {
				return err
			}
			if err := a.ask(&portGroups, "Port groups (comma-separated)", true); err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			spec := &pb.PortGroupSubnetCreateSpec{Name: name, Description: desc, PrivateIpCidr: cidr, PortGroups: &pb.PortGroups{PortGroups: splitList(portGroups)}}
			t := &pb.Task{}
			err = cl.Do(cmd.Context(), "POST", "/v1/subnets", spec, t)
			_, err = a.run(cmd.Context(), t, err, msg(cl.GetSubnet))
			return err
		},
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "network name")
	f.StringVarP(&desc, "description", "d", "", "description")
	f.StringVarP(&portGroups, "portgroups", "p", "", "comma-separated port groups")
	f.StringVarP(&cidr, "privateIpCidr", "i", "", "IP range, e.g. 10.0.0.0/24")
	var lname string
	list := &cobra.Command{
		Use: "list", Short: "List networks", Args: args(0, "network list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			l := &pb.SubnetList{}
			path := "/v1/subnets"
			if lname != "" {
				path += "?name=" + lname
			}
			var all []*pb.Subnet
			for path != "" {
				if err := cl.Do(cmd.Context(), "GET", path, nil, l); err != nil {
					return err
				}
				all = append(all, l.GetItems()...)
				path = l.GetNextPageLink()
			}
			return a.table(all, subnetHeader, a.subnetRows(all))
		},
	}
	list.Flags().StringVarP(&lname, "name", "n", "", "only networks of this name")
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a network", Args: args(1, "network show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error { return a.showSubnet(cmd, as[0]) },
	}
	cmd.AddCommand(create, list, show, a.setDefaultCmd("network"))
	a.entityCmds(cmd, "network", "subnets", (*client.Client).DeleteSubnet, nil)
	return cmd
}
