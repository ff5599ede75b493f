package cli

import (
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

func (a *app) flavorCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "flavor", Short: "Flavors: what VMs and disks cost"}
	var name, kind, cost, policy string
	create := &cobra.Command{
		Use: "create", Short: "Create a flavor", Args: args(0, "flavor create -n <name> -k <kind> -c <cost>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.ask(&name, "Flavor name", true); err != nil {
				return err
			}
			if err := a.ask(&kind, "Flavor kind (vm, ephemeral-disk or persistent-disk)", true); err != nil {
				return err
			}
			if err := a.ask(&cost, "Costs (e.g. 'vm.cpu 1 COUNT, vm.memory 2 GB')", true); err != nil {
				return err
			}
			cs, err := parseLimits(cost)
			if err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.CreateFlavor(cmd.Context(), &pb.FlavorCreateSpec{Name: name, Kind: kind, Cost: cs, PlacementPolicy: policy})
			}, func(cl *client.Client) getter { return msg(cl.GetFlavor) })
		},
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "flavor name")
	f.StringVarP(&kind, "kind", "k", "", "vm, ephemeral-disk or persistent-disk")
	f.StringVarP(&cost, "cost", "c", "", "costs: 'key value unit, key value unit'")
	f.StringVar(&policy, "placement-policy", "", "SPREAD or PACK")
	var lname, lkind string
	list := &cobra.Command{
		Use: "list", Short: "List flavors", Args: args(0, "flavor list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			fs, err := cl.ListFlavors(cmd.Context(), lname, lkind)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, f := range fs {
				rows = append(rows, []string{f.GetId(), f.GetName(), f.GetKind(), quotaItems(f.GetCost())})
			}
			return a.table(fs, []string{"ID", "Name", "Kind", "Cost"}, rows)
		},
	}
	list.Flags().StringVarP(&lname, "name", "n", "", "only flavors of this name")
	list.Flags().StringVarP(&lkind, "kind", "k", "", "only flavors of this kind")
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a flavor", Args: args(1, "flavor show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			f, err := cl.GetFlavor(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.show(f, "Flavor ID", []kv{{"ID", f.GetId()}, {"Name", f.GetName()}, {"Kind", f.GetKind()}, {"Cost", quotaItems(f.GetCost())}, {"State", f.GetState()}})
		},
	}
	cmd.AddCommand(create, list, show)
	a.entityCmds(cmd, "flavor", "flavors", (*client.Client).DeleteFlavor, nil)
	return cmd
}

func (a *app) imageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Images: upload, list, show, delete"}
	var name, replication, projectName, tenantName string
	create := &cobra.Command{
		Use: "create <image-file>", Short: "Upload an image (.vmdk or .ova)", Args: maxArgs(1, "image create <image-file> [-n <name>] [-i EAGER|ON_DEMAND]"),
		RunE: func(cmd *cobra.Command, as []string) error {
			path := first(as)
			if err := a.ask(&path, "Image path", true); err != nil {
				return err
			}
			if err := a.ask(&name, "Image name (default: "+filepath.Base(path)+")", false); err != nil {
				return err
			}
			if err := a.ask(&replication, "Image replication type (EAGER or ON_DEMAND, default EAGER)", false); err != nil {
				return err
			}
			projectID := ""
			if projectName != "" {
				p, err := a.project(cmd.Context(), tenantName, projectName)
				if err != nil {
					return err
				}
				projectID = p.ID
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.UploadImage(cmd.Context(), path, name, replication, projectID)
			}, func(cl *client.Client) getter { return msg(cl.GetImage) })
		},
	}
	create.Flags().StringVarP(&name, "name", "n", "", "image name (default: the file's name)")
	create.Flags().StringVarP(&replication, "image_replication", "i", "", "EAGER or ON_DEMAND")
	create.Flags().StringVarP(&projectName, "project", "p", "", "make the image the project's (default: public)")
	create.Flags().StringVarP(&tenantName, "tenant", "t", "", "tenant of -p")
	var lname string
	list := &cobra.Command{
		Use: "list", Short: "List images", Args: args(0, "image list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			is, err := cl.ListImages(cmd.Context(), lname)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, i := range is {
				rows = append(rows, []string{i.GetId(), i.GetName(), i.GetState(), fmt.Sprint(i.GetSize()), i.GetReplicationType(), i.GetReplicationProgress(), i.GetSeedingProgress()})
			}
			return a.table(is, []string{"ID", "Name", "State", "Size(Byte)", "Replication_type", "ReplicationProgress", "SeedingProgress"}, rows)
		},
	}
	list.Flags().StringVarP(&lname, "name", "n", "", "only images of this name")
	show := &cobra.Command{
		Use: "show <id>", Short: "Show an image", Args: args(1, "image show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			i, err := cl.GetImage(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			var settings []string
			for _, s := range i.GetSettings() {
				settings = append(settings, s.GetName()+":"+s.GetDefaultValue())
			}
			return a.show(i, "Image ID", []kv{{"ID", i.GetId()}, {"Name", i.GetName()}, {"State", i.GetState()}, {"Size", fmt.Sprint(i.GetSize())},
				{"Replication type", i.GetReplicationType()}, {"Replication progress", i.GetReplicationProgress()},
				{"Seeding progress", i.GetSeedingProgress()}, {"Settings", strings.Join(settings, ",")}})
		},
	}
	var regName, regPath, regRepl string
	register := &cobra.Command{
		Use: "register", Short: "Make an image of a disk already on the hosts' datastores", Args: args(0, "image register -n <name> --disk-path <path>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.ask(&regName, "Image name", true); err != nil {
				return err
			}
			if err := a.ask(&regPath, "Disk path on the datastores", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.RegisterImage(cmd.Context(), &pb.ImageRegisterSpec{Name: regName, DiskPath: regPath, ReplicationType: regRepl})
			}, func(cl *client.Client) getter { return msg(cl.GetImage) })
		},
	}
	register.Flags().StringVarP(&regName, "name", "n", "", "image name")
	register.Flags().StringVar(&regPath, "disk-path", "", "the disk's path on the datastores, e.g. images/photon-os.vmdk")
	register.Flags().StringVarP(&regRepl, "image_replication", "i", "", "EAGER or ON_DEMAND")
	cmd.AddCommand(create, register, list, show)
	a.entityCmds(cmd, "image", "images", (*client.Client).DeleteImage, nil)
	cmd.AddCommand(a.iamCmd("image", "images"))
	return cmd
}

func (a *app) vmCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "vm", Short: "VMs: create, list, show, start, stop, delete, disks, networks"}
	var name, flavor, image, disks, env, aff, nets, tenantName, projectName string
	var count int
	create := &cobra.Command{
		Use: "create", Short: "Create a VM (left STOPPED, as Photon did: start it with 'vm start')", Args: args(0, "vm create -n <name> -f <flavor> -i <image> -d <disks>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project(cmd.Context(), tenantName, projectName)
			if err != nil {
				return err
			}
			for _, q := range []struct {
				v      *string
				prompt string
			}{{&name, "VM name"}, {&flavor, "VM flavor"}, {&image, "Image ID"}, {&disks, "Disks (e.g. 'boot disk-flavor boot=true, data disk-flavor 10')"}} {
				if err := a.ask(q.v, q.prompt, q.v != &disks); err != nil {
					return err
				}
			}
			spec := &pb.VmCreateSpec{Name: name, Flavor: flavor, SourceImageId: image, Subnets: splitList(nets), Count: int32(count)}
			if spec.AttachedDisks, err = parseDisks(disks); err != nil {
				return err
			}
			if spec.Affinities, err = parseAffinities(aff); err != nil {
				return err
			}
			if env != "" {
				if spec.Environment, err = parseMap(env); err != nil {
					return err
				}
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			t, err := cl.CreateVm(cmd.Context(), p.ID, spec)
			if count > 1 {
				_, err = a.run(cmd.Context(), t, err, nil)
				return err
			}
			_, err = a.run(cmd.Context(), t, err, msg(cl.GetVm))
			return err
		},
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "VM name ({n} numbers the VMs of --count)")
	f.StringVarP(&flavor, "flavor", "f", "", "VM flavor")
	f.StringVarP(&image, "image", "i", "", "image ID")
	f.StringVarP(&disks, "disks", "d", "", "disks: '<name> <flavor> boot=true, <name> <flavor> <capacity GB>'")
	f.StringVarP(&env, "environment", "e", "", "environment: 'key:value, key:value'")
	f.StringVarP(&aff, "affinities", "a", "", "affinities: 'kind:id, kind:id'")
	f.StringVarP(&nets, "networks", "w", "", "comma-separated subnet IDs")
	f.StringVarP(&tenantName, "tenant", "t", "", "tenant name")
	f.StringVarP(&projectName, "project", "p", "", "project name")
	f.IntVar(&count, "count", 0, "create this many VMs in one call (a bulk create)")

	var lt, lp, lname string
	var summary bool
	list := &cobra.Command{
		Use: "list", Short: "List the VMs of a project", Args: args(0, "vm list"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project(cmd.Context(), lt, lp)
			if err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			vs, err := cl.ListVms(cmd.Context(), p.ID, lname)
			if err != nil {
				return err
			}
			var rows [][]string
			states := map[string]int{}
			for _, v := range vs {
				rows = append(rows, []string{v.GetId(), v.GetName(), v.GetState()})
				states[v.GetState()]++
			}
			if summary && !a.json() {
				rows = nil
			}
			if err := a.table(vs, []string{"ID", "Name", "State"}, rows); err != nil || a.json() || a.g.nonInteractive {
				return err
			}
			a.printCounts(states)
			return nil
		},
	}
	list.Flags().StringVarP(&lt, "tenant", "t", "", "tenant name")
	list.Flags().StringVarP(&lp, "project", "p", "", "project name")
	list.Flags().StringVarP(&lname, "name", "n", "", "only VMs of this name")
	list.Flags().BoolVarP(&summary, "summary", "s", false, "counts by state only")
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a VM", Args: args(1, "vm show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			v, err := cl.GetVm(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			var ds []string
			for _, d := range v.GetAttachedDisks() {
				ds = append(ds, fmt.Sprintf("%s %s %s %s %dGB boot=%t", d.GetId(), d.GetName(), d.GetKind(), d.GetFlavor(), d.GetCapacityGb(), d.GetBootDisk()))
			}
			md := ""
			if len(v.GetMetadata()) > 0 {
				b, _ := json.Marshal(v.GetMetadata())
				md = string(b)
			}
			return a.show(v, "VM ID", []kv{{"ID", v.GetId()}, {"Name", v.GetName()}, {"State", v.GetState()}, {"Flavor", v.GetFlavor()},
				{"Source Image", v.GetSourceImageId()}, {"Host", v.GetHost()}, {"Datastore", v.GetDatastore()}, {"Metadata", md},
				{"Tags", join(v.GetTags())}, {"Floating IP", v.GetFloatingIp()}, {"Disks", strings.Join(ds, "; ")}})
		},
	}
	cmd.AddCommand(create, list, show)
	a.entityCmds(cmd, "vm", "vms", (*client.Client).DeleteVm, nil)
	for _, op := range []struct{ use, path, short string }{
		{"start", "start", "Power a VM on"}, {"stop", "stop", "Power a VM off"}, {"restart", "restart", "Restart a VM"},
		{"suspend", "suspend", "Suspend a VM"}, {"resume", "resume", "Resume a suspended VM"}, {"detach-iso", "detach_iso", "Detach a VM's ISO"},
	} {
		cmd.AddCommand(&cobra.Command{
			Use: op.use + " <id>", Short: op.short, Args: args(1, "vm "+op.use+" <id>"),
			RunE: func(cmd *cobra.Command, as []string) error {
				return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.VmOperation(cmd.Context(), as[0], op.path) }, func(cl *client.Client) getter { return msg(cl.GetVm) })
			},
		})
	}
	for _, op := range []struct {
		use, short string
		call       func(*client.Client) func(ctxT, string, string) (*pb.Task, error)
	}{
		{"attach-disk", "Attach a persistent disk to a VM", func(c *client.Client) func(ctxT, string, string) (*pb.Task, error) { return c.AttachDisk }},
		{"detach-disk", "Detach a persistent disk from a VM", func(c *client.Client) func(ctxT, string, string) (*pb.Task, error) { return c.DetachDisk }},
	} {
		var disk string
		c := &cobra.Command{
			Use: op.use + " <vm-id>", Short: op.short, Args: args(1, "vm "+op.use+" <vm-id> -d <disk-id>"),
			RunE: func(cmd *cobra.Command, as []string) error {
				if err := a.ask(&disk, "Disk ID", true); err != nil {
					return err
				}
				cl, err := a.client()
				if err != nil {
					return err
				}
				t, err := op.call(cl)(cmd.Context(), as[0], disk)
				_, err = a.run(cmd.Context(), t, err, msg(cl.GetVm))
				return err
			},
		}
		c.Flags().StringVarP(&disk, "disk", "d", "", "disk ID")
		cmd.AddCommand(c)
	}
	var metadata string
	setMD := &cobra.Command{
		Use: "set-metadata <id>", Short: "Set a VM's metadata", Args: args(1, "vm set-metadata <id> -m 'key:value, key:value'"),
		RunE: func(cmd *cobra.Command, as []string) error {
			m, err := parseMap(metadata)
			if err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.SetVmMetadata(cmd.Context(), as[0], m) }, func(cl *client.Client) getter { return msg(cl.GetVm) })
		},
	}
	setMD.Flags().StringVarP(&metadata, "metadata", "m", "", "metadata: 'key:value, key:value'")
	var tag string
	setTag := &cobra.Command{
		Use: "set-tag <id>", Short: "Tag a VM", Args: args(1, "vm set-tag <id> -t <tag>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if err := a.ask(&tag, "Tag", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.AddVmTag(cmd.Context(), as[0], tag) }, func(cl *client.Client) getter { return msg(cl.GetVm) })
		},
	}
	setTag.Flags().StringVarP(&tag, "tag", "t", "", "tag")
	networks := &cobra.Command{
		Use: "networks <id>", Short: "Show a VM's network connections", Args: args(1, "vm networks <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			t, err := cl.VmNetworks(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			if t, err = a.wait(cmd.Context(), t); err != nil {
				return err
			}
			conns := networkConnections(t.GetResourceProperties().GetFields()["networkConnections"])
			var rows [][]string
			for _, c := range conns {
				rows = append(rows, []string{str(c["network"]), str(c["macAddress"]), str(c["ipAddress"]), str(c["netmask"]), str(c["isConnected"])})
			}
			return a.table(conns, []string{"Network", "MAC Address", "IP Address", "Netmask", "IsConnected"}, rows)
		},
	}
	mks := &cobra.Command{
		Use: "mks-ticket <id>", Short: "Get a VM's console ticket", Args: args(1, "vm mks-ticket <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			t, err := cl.MksTicket(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			if t, err = a.wait(cmd.Context(), t); err != nil {
				return err
			}
			return a.show(t.GetResourceProperties(), "VM ID", []kv{{"VM", as[0]}, {"Ticket", t.GetResourceProperties().GetFields()["ticket"].GetStringValue()}})
		},
	}
	var imgName, imgRepl string
	mkImage := &cobra.Command{
		Use: "create-image <id>", Short: "Create an image from a VM", Args: args(1, "vm create-image <id> -n <name> [-i EAGER|ON_DEMAND]"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if err := a.ask(&imgName, "Image name", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.CreateVmImage(cmd.Context(), as[0], imgName, imgRepl)
			}, func(cl *client.Client) getter { return msg(cl.GetImage) })
		},
	}
	mkImage.Flags().StringVarP(&imgName, "name", "n", "", "image name")
	mkImage.Flags().StringVarP(&imgRepl, "image_replication", "i", "", "EAGER or ON_DEMAND")
	var newFlavor string
	resize := &cobra.Command{
		Use: "resize <id>", Short: "Give a stopped VM another flavor", Args: args(1, "vm resize <id> -f <flavor>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if err := a.ask(&newFlavor, "Flavor", true); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.ResizeVm(cmd.Context(), as[0], newFlavor) }, func(cl *client.Client) getter { return msg(cl.GetVm) })
		},
	}
	resize.Flags().StringVarP(&newFlavor, "flavor", "f", "", "new flavor")
	var network string
	acquire := &cobra.Command{
		Use: "acquire-floating-ip <id>", Short: "Give a VM a floating IP from a network", Args: args(1, "vm acquire-floating-ip <id> -i <network-id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if err := a.ask(&network, "Network ID", false); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.AcquireFloatingIp(cmd.Context(), as[0], network) }, func(cl *client.Client) getter { return msg(cl.GetVm) })
		},
	}
	acquire.Flags().StringVarP(&network, "network_id", "i", "", "network ID (default: the VM's first NIC with an address)")
	release := &cobra.Command{
		Use: "release-floating-ip <id>", Short: "Release a VM's floating IP", Args: args(1, "vm release-floating-ip <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.ReleaseFloatingIp(cmd.Context(), as[0]) }, func(cl *client.Client) getter { return msg(cl.GetVm) })
		},
	}
	var isoPath, isoName string
	attachISO := &cobra.Command{
		Use: "attach-iso <id>", Short: "Upload an ISO and attach it to a VM's CD-ROM", Args: args(1, "vm attach-iso <id> -p <iso-path> [-n <name>]"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if err := a.ask(&isoPath, "ISO path", true); err != nil {
				return err
			}
			if err := a.ask(&isoName, "ISO name (default: "+filepath.Base(isoPath)+")", false); err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.AttachISO(cmd.Context(), as[0], isoPath, isoName) }, func(cl *client.Client) getter { return msg(cl.GetVm) })
		},
	}
	attachISO.Flags().StringVarP(&isoPath, "path", "p", "", "the ISO file")
	attachISO.Flags().StringVarP(&isoName, "name", "n", "", "ISO name (default: the file's name)")
	cmd.AddCommand(setMD, setTag, networks, mks, mkImage, resize, acquire, release, attachISO, a.iamCmd("vm", "vms"))
	return cmd
}

// networkConnections reads a GET_NETWORKS task's connections: the array itself, or a
// JSON string holding it.
func networkConnections(v *structpb.Value) []map[string]any {
	var conns []map[string]any
	list, _ := v.AsInterface().([]any)
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			conns = append(conns, m)
		}
	}
	return conns
}

func (a *app) diskCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "disk", Short: "Persistent disks: create, list, show, delete"}
	var name, flavor, aff, tenantName, projectName string
	var capacity int
	create := &cobra.Command{
		Use: "create", Short: "Create a persistent disk", Args: args(0, "disk create -n <name> -f <flavor> -c <capacity GB>"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project(cmd.Context(), tenantName, projectName)
			if err != nil {
				return err
			}
			if err := a.ask(&name, "Disk name", true); err != nil {
				return err
			}
			if err := a.ask(&flavor, "Disk flavor", true); err != nil {
				return err
			}
			if capacity <= 0 {
				return usagef("-c <capacity in GB> is required")
			}
			as, err := parseAffinities(aff)
			if err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) {
				return cl.CreateDisk(cmd.Context(), p.ID, &pb.DiskCreateSpec{Name: name, Flavor: flavor, Kind: "persistent-disk", CapacityGb: int32(capacity), Affinities: as})
			}, func(cl *client.Client) getter { return msg(cl.GetDisk) })
		},
	}
	f := create.Flags()
	f.StringVarP(&name, "name", "n", "", "disk name")
	f.StringVarP(&flavor, "flavor", "f", "", "disk flavor")
	f.IntVarP(&capacity, "capacityGB", "c", 0, "capacity in GB")
	f.StringVarP(&aff, "affinities", "a", "", "affinities: 'kind:id, kind:id'")
	f.StringVarP(&tenantName, "tenant", "t", "", "tenant name")
	f.StringVarP(&projectName, "project", "p", "", "project name")
	list := projectList(a, "disk", true, (*client.Client).ListDisks, []string{"ID", "Name", "State", "CapacityGB", "VMs"}, func(d *pb.PersistentDisk) []string {
		return []string{d.GetId(), d.GetName(), d.GetState(), fmt.Sprint(d.GetCapacityGb()), join(d.GetVms())}
	})
	show := &cobra.Command{
		Use: "show <id>", Short: "Show a disk", Args: args(1, "disk show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			d, err := cl.GetDisk(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			return a.show(d, "Disk ID", []kv{{"ID", d.GetId()}, {"Name", d.GetName()}, {"Kind", d.GetKind()}, {"Flavor", d.GetFlavor()},
				{"CapacityGB", fmt.Sprint(d.GetCapacityGb())}, {"State", d.GetState()}, {"Datastore", d.GetDatastore()}, {"VMs", join(d.GetVms())}})
		},
	}
	cmd.AddCommand(create, list, show, a.iamCmd("disk", "disks"))
	a.entityCmds(cmd, "disk", "disks", (*client.Client).DeleteDisk, nil)
	return cmd
}

// printCounts prints a list's summary: each key with its count, in key order.
func (a *app) printCounts(counts map[string]int) {
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(a.out, "%s: %d\n", k, counts[k])
	}
}
