package cli

import (
	"fmt"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

func (a *app) hostCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "host", Short: "ESXi hosts: add, list, show, maintenance, delete"}
	var user, pass, addr, zone, tags, metadata string
	create := &cobra.Command{
		Use: "create", Short: "Add an ESXi host", Args: args(0, "host create -u <user> -p <password> -i <address>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.ask(&addr, "Host address", true); err != nil {
				return err
			}
			if err := a.ask(&user, "User name", true); err != nil {
				return err
			}
			if err := a.askSecret(&pass, "Password"); err != nil {
				return err
			}
			md, err := parseMap(metadata)
			if err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.CreateHost(cmd.Context(), &pb.HostCreateSpec{Username: user, Password: pass, Address: addr, AvailabilityZone: zone, UsageTags: splitList(tags), Metadata: md})
			}, func(cl *client.Client) getter { return msg(cl.GetHost) })
		},
	}
	f := create.Flags()
	f.StringVarP(&user, "username", "u", "", "user name on the host")
	f.StringVarP(&pass, "password", "p", "", "password on the host")
	f.StringVarP(&addr, "address", "i", "", "the host's address")
	f.StringVarP(&zone, "availability_zone", "z", "", "availability zone ID")
	f.StringVarP(&tags, "tag", "t", "", "usage tags: CLOUD, MGMT")
	f.StringVarP(&metadata, "metadata", "m", "", "metadata: 'key:value, key:value'")
	list := &cobra.Command{
		Use: "list", Short: "List hosts", Args: args(0, "host list"),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.hostList(cmd.Context()) },
	}
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a host", Args: args(1, "host show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			h, err := cl.GetHost(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.show(h, "Host ID", []kv{{"ID", h.GetId()}, {"Address", h.GetAddress()}, {"State", h.GetState()}, {"Zone", h.GetAvailabilityZone()},
				{"Tags", join(h.GetUsageTags())}, {"ESX version", h.GetEsxVersion()}, {"CPU cores", fmt.Sprint(h.GetCpuCores())}, {"Memory MB", fmt.Sprint(h.GetMemoryMb())}})
		},
	}
	vms := &cobra.Command{
		Use: "list-vms <id>", Short: "List the VMs on a host", Args: args(1, "host list-vms <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			return listOf(a, func(cl *client.Client) ([]*pb.Vm, error) { return cl.ListHostVms(cmd.Context(), as[0]) }, vmHeader, vmRow)
		},
	}
	setZone := &cobra.Command{
		Use: "set-availability-zone <id> <zone-id>", Short: "Put a host in an availability zone", Args: args(2, "host set-availability-zone <id> <zone-id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.SetHostZone(cmd.Context(), as[0], as[1]) }, func(cl *client.Client) getter { return msg(cl.GetHost) })
		},
	}
	cmd.AddCommand(create, list, show, vms, setZone)
	for _, op := range []struct{ use, path string }{
		{"enter-maintenance", "enter_maintenance"}, {"exit-maintenance", "exit_maintenance"}, {"suspend", "suspend"}, {"resume", "resume"},
		{"provision", "provision"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use: op.use + " <id>", Short: "Host operation " + op.use, Args: args(1, "host "+op.use+" <id>"),
			RunE: func(cmd *cobra.Command, as []string) error {
				return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.HostOperation(cmd.Context(), as[0], op.path) }, func(cl *client.Client) getter { return msg(cl.GetHost) })
			},
		})
	}
	a.entityCmds(cmd, "host", "infrastructure/hosts", (*client.Client).DeleteHost, nil)
	return cmd
}

// hostList is `host list` and `infrastructure list-hosts`.
func (a *app) hostList(ctx ctxT) error {
	return listOf(a, func(cl *client.Client) ([]*pb.Host, error) { return cl.ListHosts(ctx) }, []string{"ID", "State", "IP", "Tags"}, func(h *pb.Host) []string {
		return []string{h.GetId(), h.GetState(), h.GetAddress(), join(h.GetUsageTags())}
	})
}

// listOf prints what list answers as a table of header and one row per item.
func listOf[T any](a *app, list func(*client.Client) ([]T, error), header []string, row func(T) []string) error {
	cl, err := a.client()
	if err != nil {
		return err
	}
	items, err := list(cl)
	if err != nil {
		return err
	}
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = row(it)
	}
	return a.table(items, header, rows)
}

// vmHeader and vmRow are a VM list's columns.
var vmHeader = []string{"ID", "Name", "State"}

func vmRow(v *pb.Vm) []string { return []string{v.GetId(), v.GetName(), v.GetState()} }

func (a *app) zoneCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "zone", Aliases: []string{"availability-zone"}, Short: "Availability zones"}
	var name string
	create := &cobra.Command{
		Use: "create", Short: "Create an availability zone", Args: maxArgs(1, "zone create -n <name>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if name == "" {
				name = first(as)
			}
			if err := a.ask(&name, "Zone name", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.CreateZone(cmd.Context(), name) }, func(cl *client.Client) getter { return msg(cl.GetZone) })
		},
	}
	create.Flags().StringVarP(&name, "name", "n", "", "zone name")
	list := &cobra.Command{
		Use: "list", Short: "List availability zones", Args: args(0, "zone list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			zs, err := cl.ListZones(cmd.Context())
			if err != nil {
				return err
			}
			var rows [][]string
			for _, z := range zs {
				rows = append(rows, []string{z.GetId(), z.GetName(), z.GetKind(), z.GetState()})
			}
			return a.table(zs, []string{"ID", "Name", "Kind", "State"}, rows)
		},
	}
	show := &cobra.Command{
		Use: "show <id>", Short: "Show an availability zone", Args: args(1, "zone show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			z, err := cl.GetZone(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.show(z, "AvailabilityZone ID", []kv{{"ID", z.GetId()}, {"Name", z.GetName()}, {"Kind", z.GetKind()}, {"State", z.GetState()}})
		},
	}
	cmd.AddCommand(create, list, show)
	a.entityCmds(cmd, "zone", "zones", (*client.Client).DeleteZone, nil)
	return cmd
}

func (a *app) datastoreCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "datastore", Short: "Datastores of the hosts"}
	list := &cobra.Command{
		Use: "list", Short: "List datastores", Args: args(0, "datastore list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			ds, err := cl.ListDatastores(cmd.Context())
			if err != nil {
				return err
			}
			var rows [][]string
			for _, d := range ds {
				rows = append(rows, []string{d.GetId(), d.GetName(), d.GetType(), join(d.GetTags())})
			}
			return a.table(ds, []string{"ID", "Name", "Type", "Tags"}, rows)
		},
	}
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a datastore", Args: args(1, "datastore show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			d, err := cl.GetDatastore(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.show(d, "Datastore ID", []kv{{"ID", d.GetId()}, {"Name", d.GetName()}, {"Type", d.GetType()}, {"Tags", join(d.GetTags())},
				{"Hosts", join(d.GetHosts())}, {"Capacity bytes", fmt.Sprint(d.GetCapacityBytes())}, {"Free bytes", fmt.Sprint(d.GetFreeBytes())}})
		},
	}
	cmd.AddCommand(list, show)
	return cmd
}

// infrastructureCmd is Photon 1.2's `infrastructure`: operations on all hosts.
func (a *app) infrastructureCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "infrastructure", Short: "Operations on the whole infrastructure"}
	sync := &cobra.Command{
		Use: "sync-hosts-config", Short: "Push the system's configuration to every host", Args: args(0, "infrastructure sync-hosts-config"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.SyncHostsConfig(cmd.Context()) }, nil)
		},
	}
	var datastores string
	imageDatastores := &cobra.Command{
		Use: "update-image-datastores", Aliases: []string{"image-datastores"}, Short: "Set the datastores that may hold images (system administrators)",
		Args: args(0, "infrastructure update-image-datastores -d <datastore>,<datastore>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.ask(&datastores, "Datastores", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.SetImageDatastores(cmd.Context(), splitList(datastores))
			}, nil)
		},
	}
	imageDatastores.Flags().StringVarP(&datastores, "datastores", "d", "", "comma-separated datastore names")
	listHosts := &cobra.Command{
		Use: "list-hosts", Short: "List the ESXi hosts", Args: args(0, "infrastructure list-hosts"),
		RunE: func(cmd *cobra.Command, _ []string) error { return a.hostList(cmd.Context()) },
	}
	orphans := &cobra.Command{
		Use: "orphans", Short: "List what the hosts hold that Photon does not know", Args: args(0, "infrastructure orphans"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listOf(a, func(cl *client.Client) ([]*pb.Orphan, error) { return cl.ListOrphans(cmd.Context()) }, []string{"ID", "Host", "Type", "Name", "State"}, func(o *pb.Orphan) []string {
				return []string{o.GetId(), o.GetHostId(), o.GetType(), o.GetName(), o.GetState()}
			})
		},
	}
	cmd.AddCommand(listHosts, imageDatastores, sync, orphans)
	return cmd
}

func (a *app) taskCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "task", Short: "Tasks: show, list, monitor, retry"}
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a task and its steps", Args: args(1, "task show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			t, err := cl.GetTask(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.showTask(t)
		},
	}
	var entity, kind, state, parent string
	list := &cobra.Command{
		Use: "list", Short: "List tasks", Args: args(0, "task list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			ts, err := cl.ListTasks(cmd.Context(), client.TaskOptions{EntityID: entity, EntityKind: kind, State: state, ParentID: parent})
			if err != nil {
				return err
			}
			return a.taskList(ts)
		},
	}
	list.Flags().StringVarP(&entity, "entityId", "e", "", "only tasks of this entity")
	list.Flags().StringVarP(&kind, "entityKind", "k", "", "only tasks of this kind of entity")
	list.Flags().StringVarP(&state, "state", "s", "", "only tasks in this state")
	list.Flags().StringVar(&parent, "parent", "", "only the sub-tasks of this bulk task")
	monitor := &cobra.Command{
		Use: "monitor <id>", Short: "Follow a task until it ends", Args: args(1, "task monitor <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			t, err := cl.GetTask(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			t, err = a.wait(cmd.Context(), t)
			if err != nil {
				return err
			}
			return a.showTask(t)
		},
	}
	retry := &cobra.Command{
		Use: "retry <id>", Short: "Retry the undo of a task parked in ERROR (system administrators)", Args: args(1, "task retry <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			t := &pb.Task{}
			err = cl.Do(cmd.Context(), "POST", "/v1/tasks/"+as[0]+"/retry", nil, t)
			_, err = a.run(cmd.Context(), t, err, nil)
			return err
		},
	}
	cmd.AddCommand(show, list, monitor, retry)
	return cmd
}

func (a *app) showTask(t *pb.Task) error {
	if a.json() {
		return a.emitJSON(t)
	}
	if a.g.nonInteractive {
		fmt.Fprintf(a.out, "%s\t%s\t%s\t%s\t%s\t%d\t%d\n", t.GetId(), t.GetState(), t.GetEntity().GetId(), t.GetEntity().GetKind(), t.GetOperation(), t.GetStartedTime(), t.GetEndTime())
		for _, s := range t.GetSteps() {
			fmt.Fprintf(a.out, "%s\t%s\t%d\n", s.GetOperation(), s.GetState(), s.GetSequence())
		}
		return nil
	}
	fields := []kv{{"ID", t.GetId()}, {"Operation", t.GetOperation()}, {"State", t.GetState()},
		{"Entity", t.GetEntity().GetKind() + " " + t.GetEntity().GetId()}, {"Started", millis(t.GetStartedTime())}, {"Ended", millis(t.GetEndTime())}}
	if p := t.GetProgress(); p != nil {
		fields = append(fields, kv{"Progress", fmt.Sprintf("%d/%d completed, %d failed, %d in flight", p.GetCompleted(), p.GetTotal(), p.GetFailed(), p.GetInFlight())})
	}
	if len(t.GetResourceProperties().GetFields()) > 0 {
		rp, _ := protojson.Marshal(t.GetResourceProperties())
		fields = append(fields, kv{"Properties", string(rp)})
	}
	if err := a.show(t, "Task", fields); err != nil {
		return err
	}
	var rows [][]string
	for _, s := range t.GetSteps() {
		errText := ""
		if len(s.GetErrors()) > 0 {
			errText = s.GetErrors()[0].GetCode() + ": " + s.GetErrors()[0].GetMessage()
		}
		rows = append(rows, []string{fmt.Sprint(s.GetSequence() + 1), s.GetOperation(), s.GetState(), errText})
	}
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(a.out)
	return a.table(nil, []string{"Step", "Operation", "State", "Error"}, rows)
}
