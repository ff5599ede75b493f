package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// serviceCmd is Photon 1.2's `service` group (alias `cluster`): Kubernetes clusters and
// Harbor registries made of VMs in a project.
func (a *app) serviceCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use: "service", Aliases: []string{"cluster"}, Short: "Services: Kubernetes clusters and Harbor registries",
		Long: "A service is a Kubernetes cluster (etcd, master and worker VMs) or a Harbor registry (one VM)\n" +
			"in a project. A system administrator enables a type with its image first\n" +
			"('photon system enable-service-type -k KUBERNETES -i <image-id>').",
	}
	cmd.AddCommand(a.serviceCreateCmd(), a.serviceShowCmd(), a.serviceListCmd())
	cmd.AddCommand(&cobra.Command{
		Use: "list-vms <id>", Aliases: []string{"list_vms"}, Short: "List the VMs of a service", Args: args(1, "service list-vms <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			return listOf(a, func(cl *client.Client) ([]*pb.Vm, error) { return cl.ListServiceVms(cmd.Context(), as[0]) }, vmHeader, vmRow)
		},
	})

	var count int
	var resizeWait bool
	resize := &cobra.Command{
		Use: "resize <id> <new-worker-count>", Short: "Change a service's worker count",
		Long: "Change the number of workers of a service. New workers are created in batches of the\n" +
			"batch size the service was created with; a smaller count removes the newest workers.\n\n" +
			"Example: photon service resize 9b159e92-9495-49a4-af58-53ad4764f616 5",
		Args: func(cmd *cobra.Command, as []string) error {
			if len(as) == 0 {
				return usagef("missing argument. Usage: photon service resize <id> <new-worker-count>")
			}
			return maxArgs(2, "service resize <id> <new-worker-count>")(cmd, as)
		},
		RunE: func(cmd *cobra.Command, as []string) error {
			n := strconv.Itoa(count)
			if count == 0 {
				n = ""
			}
			if len(as) == 2 {
				n = as[1]
			}
			if err := a.ask(&n, "New worker count", true); err != nil {
				return err
			}
			workers, err := strconv.Atoi(n)
			if err != nil || workers <= 0 {
				return usagef("the new worker count must be a number above 0, not %q", n)
			}
			if a.interactive() && !a.json() {
				fmt.Fprintf(a.errw, "Resizing service %s to %d workers\n", as[0], workers)
			}
			if ok, err := a.confirmed(); !ok || err != nil {
				return err
			}
			return a.serviceTask(cmd, as[0], resizeWait, func(cl *client.Client) (*pb.Task, error) {
				return cl.ResizeService(cmd.Context(), as[0], int32(workers))
			})
		},
	}
	resize.Flags().IntVarP(&count, "worker_count", "c", 0, "new worker count (instead of the second argument)")
	resize.Flags().BoolVar(&resizeWait, "wait-for-ready", false, "after the task, wait until the service is READY")

	del := &cobra.Command{
		Use: "delete <id>", Short: "Delete a service and its VMs",
		Long: "Delete a service: its VMs are stopped and deleted, its addresses, certificates and quota\n" +
			"released.\n\nExample: photon service delete 9b159e92-9495-49a4-af58-53ad4764f616",
		Args: args(1, "service delete <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if a.interactive() && !a.json() {
				fmt.Fprintf(a.errw, "Deleting service %s\n", as[0])
			}
			if ok, err := a.confirmed(); !ok || err != nil {
				return err
			}
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.DeleteService(cmd.Context(), as[0]) }, nil)
		},
	}

	var state string
	tasks := &cobra.Command{
		Use: "tasks <id>", Short: "List the tasks of a service", Args: args(1, "service tasks <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			cl, err := a.client()
			if err != nil {
				return err
			}
			ts, err := cl.ListServiceTasks(cmd.Context(), as[0], state)
			if err != nil {
				return err
			}
			return a.taskList(ts)
		},
	}
	tasks.Flags().StringVarP(&state, "state", "s", "", "only tasks in this state")

	maintenance := &cobra.Command{
		Use: "trigger-maintenance <id>", Short: "Replace the failed VMs of a service",
		Long: "Replace the nodes of a service whose VM is in ERROR or gone, or whose guest stopped\n" +
			"reporting, and wait until the new ones report ready.\n\n" +
			"Example: photon service trigger-maintenance 9b159e92-9495-49a4-af58-53ad4764f616",
		Args: args(1, "service trigger-maintenance <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			return a.startTask(cmd, func(cl *client.Client) (*pb.Task, error) { return cl.TriggerServiceMaintenance(cmd.Context(), as[0]) },
				func(cl *client.Client) getter { return msg(cl.GetService) })
		},
	}

	var image string
	var versionWait bool
	version := &cobra.Command{
		Use: "change-version <id>", Short: "Roll a service's VMs to another image",
		Long: "Replace every node of a service with one booted from another image, one node at a time,\n" +
			"each ready before the next ('service show' counts them).\n\n" +
			"Example: photon service change-version 9b159e92-9495-49a4-af58-53ad4764f616 -i 2aeaf034-3b02-4873-a6fc-f92615dca849",
		Args: args(1, "service change-version <id> -i <image-id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if err := a.ask(&image, "New image ID for service", true); err != nil {
				return err
			}
			if ok, err := a.confirmed(); !ok || err != nil {
				return err
			}
			return a.serviceTask(cmd, as[0], versionWait, func(cl *client.Client) (*pb.Task, error) {
				return cl.ChangeServiceVersion(cmd.Context(), as[0], image)
			})
		},
	}
	version.Flags().StringVarP(&image, "image-id", "i", "", "ID of the new image")
	version.Flags().BoolVar(&versionWait, "wait-for-ready", false, "after the task, wait until the service is READY")

	cmd.AddCommand(resize, del, tasks, maintenance, version, a.kubectlAuthCmd(), a.certToFileCmd())
	return cmd
}

// serviceCreate is what `service create` reads from its flags.
type serviceCreate struct {
	tenant, project                                              string
	name, typ, vmFlavor, masterFlavor, workerFlavor, diskFlavor  string
	subnet, image                                                string
	workers, batch, masters, etcds                               int
	dns, gateway, netmask, masterIP, masterIP2, lbIP, containers string
	etcd1, etcd2, etcd3, sshKey, registryCA, adminPassword       string
	wait                                                         bool
}

func (a *app) serviceCreateCmd() *cobra.Command {
	var s serviceCreate
	cmd := &cobra.Command{
		Use: "create", Short: "Create a Kubernetes cluster or a Harbor registry",
		Long: "Create a Kubernetes cluster (-k KUBERNETES) or a Harbor registry (-k HARBOR) in a project.\n" +
			"The nodes are on the subnet -w; the addresses not given (--master-ip, --load-balancer-ip,\n" +
			"--etcd1..3) are allocated on it. The image is the one the type was enabled with unless\n" +
			"-i. The whole cluster's quota is reserved at once, and the task ends when every node\n" +
			"reported ready (workers are created --batchSize at a time).\n\n" +
			"Example:\n" +
			"  photon service create -n k8s -k KUBERNETES -v cluster-vm -d small-disk -c 3 \\\n" +
			"    --container-network 10.2.0.0/16 --ssh-key ~/.ssh/id_rsa.pub",
		Args: args(0, "service create -n <name> -k <type> [<options>]"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := a.serviceSpec(&s)
			if err != nil {
				return err
			}
			p, err := a.project(cmd.Context(), s.tenant, s.project)
			if err != nil {
				return err
			}
			if a.interactive() && !a.json() {
				fmt.Fprintf(a.errw, "\nCreating service: %s (%s)\n", spec.GetName(), spec.GetType())
				for _, l := range []kv{{"VM flavor", spec.GetVmFlavor()}, {"Master VM flavor", spec.GetMasterVmFlavor()}, {"Worker VM flavor", spec.GetWorkerVmFlavor()}, {"Disk flavor", spec.GetDiskFlavor()}} {
					if l.v != "" {
						fmt.Fprintf(a.errw, "  %s: %s\n", l.k, l.v)
					}
				}
				if spec.GetType() == "KUBERNETES" {
					fmt.Fprintf(a.errw, "  Worker count: %d\n", spec.GetWorkerCount())
				}
				if spec.GetWorkerBatchExpansionSize() != 0 {
					fmt.Fprintf(a.errw, "  Batch size: %d\n", spec.GetWorkerBatchExpansionSize())
				}
				fmt.Fprintln(a.errw)
			}
			if ok, err := a.confirmed(); !ok || err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			t, err := cl.CreateService(cmd.Context(), p.ID, spec)
			if t, err = a.run(cmd.Context(), t, err, msg(cl.GetService)); err != nil || !s.wait {
				return err
			}
			return a.waitReady(cmd.Context(), cl, t.GetEntity().GetId())
		},
	}
	f := cmd.Flags()
	for _, fl := range []struct {
		v                 *string
		name, short, help string
	}{
		{&s.tenant, "tenant", "t", "tenant name"},
		{&s.project, "project", "p", "project name"},
		{&s.name, "name", "n", "service name"},
		{&s.typ, "type", "k", "service type: KUBERNETES or HARBOR"},
		{&s.vmFlavor, "vm_flavor", "v", "VM flavor of every node (the etcd and Harbor nodes; masters and workers unless -m, -W)"},
		{&s.masterFlavor, "master-vm-flavor", "m", "VM flavor of the masters"},
		{&s.workerFlavor, "worker-vm-flavor", "W", "VM flavor of the workers"},
		{&s.diskFlavor, "disk_flavor", "d", "ephemeral-disk flavor of the nodes' boot disks"},
		{&s.subnet, "subnet_id", "w", "ID of the subnet the nodes are on"},
		{&s.image, "image-id", "i", "image ID (default: the image the type was enabled with)"},
		{&s.dns, "dns", "", "DNS server of the nodes"},
		{&s.gateway, "gateway", "", "gateway of the nodes"},
		{&s.netmask, "netmask", "", "netmask of the nodes"},
		{&s.masterIP, "master-ip", "", "address of the Kubernetes master, or of the Harbor node (default: allocated on the subnet)"},
		{&s.masterIP2, "master-ip2", "", "address of a second Kubernetes master"},
		{&s.lbIP, "load-balancer-ip", "", "address of the Kubernetes API's load balancer (default: allocated on the subnet)"},
		{&s.containers, "container-network", "", "CIDR of the Kubernetes pod network, e.g. 10.2.0.0/16"},
		{&s.etcd1, "etcd1", "", "address of etcd node 1 (default: allocated on the subnet)"},
		{&s.etcd2, "etcd2", "", "address of etcd node 2"},
		{&s.etcd3, "etcd3", "", "address of etcd node 3 (with --etcd2)"},
		{&s.sshKey, "ssh-key", "", "file of the SSH public key the nodes let in"},
		{&s.registryCA, "registry-ca-cert", "", "PEM file of the CA of a Docker registry the nodes trust (e.g. a Harbor's, from 'service cert-to-file')"},
		{&s.adminPassword, "admin-password", "", "Harbor's admin password: at least 7 characters with a lowercase letter, a capital letter and a digit"},
	} {
		f.StringVarP(fl.v, fl.name, fl.short, "", fl.help)
	}
	// CLI 1.2 named the subnet --network_id before --subnet_id: both are taken.
	f.StringVar(&s.subnet, "network_id", "", "the same as --subnet_id (CLI 1.2's earlier name)")
	f.IntVarP(&s.workers, "worker_count", "c", 0, "number of Kubernetes workers (default 1)")
	f.IntVar(&s.batch, "batchSize", 0, "how many workers are created together (default: all at once)")
	f.IntVar(&s.masters, "number-of-masters", 0, "number of Kubernetes masters")
	f.IntVar(&s.etcds, "number-of-etcds", 0, "number of etcd nodes")
	f.BoolVar(&s.wait, "wait-for-ready", false, "after the task, wait until the service is READY")
	return cmd
}

// serviceSpec checks the flags of `service create`, asks for what is missing on a
// terminal, and reads the files the flags name.
func (a *app) serviceSpec(s *serviceCreate) (*pb.ServiceCreateSpec, error) {
	if err := a.ask(&s.name, "Service name", true); err != nil {
		return nil, err
	}
	if err := a.ask(&s.typ, "Service type (KUBERNETES or HARBOR)", true); err != nil {
		return nil, err
	}
	typ := strings.ToUpper(s.typ)
	if typ != "KUBERNETES" && typ != "HARBOR" {
		return nil, usagef("unsupported service type %q: KUBERNETES or HARBOR", s.typ)
	}
	if s.workers < 0 || s.batch < 0 || s.masters < 0 || s.etcds < 0 {
		return nil, usagef("counts cannot be negative")
	}
	if typ == "KUBERNETES" && s.workers == 0 {
		n := ""
		if err := a.ask(&n, "Worker count (default 1)", false); err != nil {
			return nil, err
		}
		s.workers = 1
		if n != "" {
			w, err := strconv.Atoi(n)
			if err != nil || w <= 0 {
				return nil, usagef("worker count %q: a number above 0", n)
			}
			s.workers = w
		}
	}
	if s.adminPassword != "" && !harborPassword(s.adminPassword) {
		return nil, usagef("the Harbor password is invalid: it needs at least 7 characters with a lowercase letter, a capital letter and a digit, and no spaces")
	}
	ext := map[string]string{}
	for k, v := range map[string]string{
		"dns": s.dns, "gateway": s.gateway, "netmask": s.netmask, "master_ip": s.masterIP, "master_ip2": s.masterIP2,
		"load_balancer_ip": s.lbIP, "container_network": s.containers, "etcd_ip1": s.etcd1, "etcd_ip2": s.etcd2, "etcd_ip3": s.etcd3,
		"admin_password": s.adminPassword,
	} {
		if v != "" {
			ext[k] = v
		}
	}
	if s.etcd3 != "" && s.etcd2 == "" {
		return nil, usagef("--etcd3 needs --etcd2")
	}
	if s.masters > 0 {
		ext["number_of_masters"] = strconv.Itoa(s.masters)
	}
	if s.etcds > 0 {
		ext["number_of_etcds"] = strconv.Itoa(s.etcds)
	}
	if s.sshKey != "" {
		key, err := readSSHKey(s.sshKey)
		if err != nil {
			return nil, err
		}
		ext["ssh_key"] = key
	}
	if s.registryCA != "" {
		raw, err := os.ReadFile(s.registryCA)
		if err != nil {
			return nil, fmt.Errorf("registry CA certificate: %w", err)
		}
		cert := strings.TrimSpace(string(raw))
		if !strings.Contains(cert, "-----BEGIN CERTIFICATE-----") || !strings.Contains(cert, "-----END CERTIFICATE-----") {
			return nil, usagef("registry CA certificate %s: no PEM certificate in it", s.registryCA)
		}
		ext["registry_ca_cert"] = cert
	}
	spec := &pb.ServiceCreateSpec{Name: s.name, Type: typ, VmFlavor: s.vmFlavor, MasterVmFlavor: s.masterFlavor, WorkerVmFlavor: s.workerFlavor,
		DiskFlavor: s.diskFlavor, VmNetworkId: s.subnet, ImageId: s.image, WorkerBatchExpansionSize: int32(s.batch), ExtendedProperties: ext}
	if typ == "KUBERNETES" {
		spec.WorkerCount = int32(s.workers)
	}
	return spec, nil
}

// readSSHKey reads the first line of a public key file, as CLI 1.2 did.
func readSSHKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("ssh key: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("ssh key %s: %w", path, err)
	}
	key := strings.TrimSpace(sc.Text())
	if key == "" {
		return "", usagef("the ssh key file %s has no content", path)
	}
	return key, nil
}

// harborPassword is CLI 1.2's rule for Harbor's admin password.
func harborPassword(p string) bool {
	var lower, upper, digit bool
	n := 0
	for _, r := range p {
		switch {
		case r == ' ':
			return false
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		}
		n++
	}
	return lower && upper && digit && n >= 7
}

// service reads service id.
func (a *app) service(cmd *cobra.Command, id string) (*pb.Service, error) {
	cl, err := a.client()
	if err != nil {
		return nil, err
	}
	return cl.GetService(cmd.Context(), id)
}

func (a *app) serviceShowCmd() *cobra.Command {
	return &cobra.Command{
		Use: "show <id>", Short: "Show a service and its nodes",
		Long: "Show a service's name, state, type, image, worker count and extended properties, then\n" +
			"its nodes (VM, role, state, address, last report). Certificates are left out here:\n" +
			"'service cert-to-file' writes them, and -o json shows everything.\n\n" +
			"With -n: one line of ID, name, state, type, worker count, the error reason when there\n" +
			"is one, and the extended properties (key:value, space-separated), as CLI 1.2 printed\n" +
			"it; then a line per node: VM ID, role, state, IP.",
		Args: args(1, "service show <id>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			s, err := a.service(cmd, as[0])
			if err != nil {
				return err
			}
			return a.showService(s)
		},
	}
}

func (a *app) showService(s *pb.Service) error {
	props := extProps(s.GetExtendedProperties())
	var rows [][]string
	for _, n := range s.GetNodes() {
		rows = append(rows, []string{n.GetVmId(), n.GetRole(), n.GetState(), n.GetIp(), millis(n.GetLastReport())})
	}
	switch {
	case a.json():
		return a.emitJSON(s)
	case a.g.nonInteractive:
		vals := []string{s.GetId(), s.GetName(), s.GetState(), s.GetType(), fmt.Sprint(s.GetWorkerCount())}
		if s.GetErrorReason() != "" {
			vals = append(vals, s.GetErrorReason())
		}
		fmt.Fprintln(a.out, strings.Join(append(vals, props), "\t"))
		for _, r := range rows {
			fmt.Fprintln(a.out, strings.Join(r[:4], "\t"))
		}
		return nil
	}
	fields := []kv{{"ID", s.GetId()}, {"Name", s.GetName()}, {"State", s.GetState()}, {"Type", s.GetType()}, {"Image ID", s.GetImageId()}}
	if u := s.GetUpgradeStatus(); u != nil {
		fields = append(fields, kv{"Upgrade", fmt.Sprintf("%d/%d nodes to image %s", u.GetNumNodesUpgraded(), u.GetTotalNodes(), u.GetNewImageId())})
	}
	switch s.GetType() {
	case "KUBERNETES":
		fields = append(fields, kv{"Kubernetes IP", s.GetExtendedProperties()["load_balancer_ip"]})
	case "HARBOR":
		fields = append(fields, kv{"Harbor IP", s.GetExtendedProperties()["master_ip"]})
	}
	fields = append(fields, kv{"Worker count", fmt.Sprint(s.GetWorkerCount())})
	if s.GetErrorReason() != "" {
		fields = append(fields, kv{"Error reason", s.GetErrorReason()})
	}
	fields = append(fields, kv{"VM flavor", s.GetVmFlavor()}, kv{"Master VM flavor", s.GetMasterVmFlavor()}, kv{"Worker VM flavor", s.GetWorkerVmFlavor()},
		kv{"Disk flavor", s.GetDiskFlavor()}, kv{"Subnet", s.GetVmNetworkId()}, kv{"Extended properties", props})
	if err := a.show(s, "Service ID", fields); err != nil || len(rows) == 0 {
		return err
	}
	fmt.Fprintln(a.out)
	return a.table(nil, []string{"VM ID", "Role", "State", "IP", "Last report"}, rows)
}

// extProps are a service's extended properties as "key:value key:value", sorted, without
// the certificates: PEM text spans lines, which would break the one-line forms.
func extProps(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if !strings.HasSuffix(k, "ca_cert") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + ":" + m[k]
	}
	return strings.Join(out, " ")
}

func (a *app) serviceListCmd() *cobra.Command {
	var tenantName, projectName string
	var summary bool
	cmd := &cobra.Command{
		Use: "list", Short: "List the services of a project", Args: args(0, "service list"),
		Long: "List the services of the current project (or -t, -p): ID, name, type, state and worker count.",
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.project(cmd.Context(), tenantName, projectName)
			if err != nil {
				return err
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			ss, err := cl.ListServices(cmd.Context(), p.ID)
			if err != nil {
				return err
			}
			var rows [][]string
			states := map[string]int{}
			for _, s := range ss {
				rows = append(rows, []string{s.GetId(), s.GetName(), s.GetType(), s.GetState(), fmt.Sprint(s.GetWorkerCount())})
				states[s.GetType()+" "+s.GetState()]++
			}
			if summary && !a.json() {
				rows = nil
			}
			if err := a.table(ss, []string{"ID", "Name", "Type", "State", "Worker Count"}, rows); err != nil || a.json() || a.g.nonInteractive {
				return err
			}
			a.printCounts(states)
			return nil
		},
	}
	cmd.Flags().StringVarP(&tenantName, "tenant", "t", "", "tenant name")
	cmd.Flags().StringVarP(&projectName, "project", "p", "", "project name")
	cmd.Flags().BoolVarP(&summary, "summary", "s", false, "counts by type and state only")
	return cmd
}

// serviceTask runs a task on a service, then, when asked, waits until the service is
// READY.
func (a *app) serviceTask(cmd *cobra.Command, id string, wait bool, start func(*client.Client) (*pb.Task, error)) error {
	cl, err := a.client()
	if err != nil {
		return err
	}
	t, err := start(cl)
	if _, err = a.run(cmd.Context(), t, err, msg(cl.GetService)); err != nil || !wait {
		return err
	}
	return a.waitReady(cmd.Context(), cl, id)
}

// waitReady polls a service until it is READY (CLI 1.2's --wait-for-ready); a service in
// ERROR ends the wait with its error reason. Photon's tasks end when the nodes are
// ready, so this is most often one read.
func (a *app) waitReady(ctx context.Context, cl *client.Client, id string) error {
	every := 500 * time.Millisecond
	for {
		s, err := cl.GetService(ctx, id)
		if err != nil {
			return err
		}
		switch s.GetState() {
		case "READY":
			if !a.g.nonInteractive && !a.json() {
				fmt.Fprintf(a.out, "Service %s is ready\n", id)
			}
			return nil
		case "ERROR":
			return fmt.Errorf("service %s entered ERROR state: %s", id, s.GetErrorReason())
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		every = min(every*3/2, 5*time.Second)
	}
}

// kubectlAuthCmd is `service get-kubectl-auth`: CLI 1.2 printed a `kubectl config
// set-credentials` line with OIDC tokens from Lightwave; Photon's services authenticate
// kubectl with a client certificate instead, so the command writes the service's admin
// kubeconfig to a file.
func (a *app) kubectlAuthCmd() *cobra.Command {
	var file, user, pass string
	cmd := &cobra.Command{
		Use: "get-kubectl-auth <id>", Short: "Write a Kubernetes service's kubeconfig for kubectl",
		Long: "Write the admin kubeconfig of a KUBERNETES service to a file (default ~/.kube/config,\n" +
			"its directory created) with mode 0600: it holds the admin's private key. A different\n" +
			"file already there is kept as <file>.bak. Only the project's owners and contributors\n" +
			"(and administrators) may read it. Use it with 'kubectl --kubeconfig <file>'.\n\n" +
			"Example: photon service get-kubectl-auth 9b159e92-9495-49a4-af58-53ad4764f616 -f k8s.yaml",
		Args: args(1, "service get-kubectl-auth <id> [-f <file>]"),
		RunE: func(cmd *cobra.Command, as []string) error {
			if file == "" {
				home, err := os.UserHomeDir()
				if err != nil {
					return err
				}
				file = filepath.Join(home, ".kube", "config")
			}
			cl, err := a.client()
			if err != nil {
				return err
			}
			cfg, err := cl.GetServiceKubeconfig(cmd.Context(), as[0])
			if err != nil {
				return err
			}
			backup, err := writePrivate(file, cfg)
			if err != nil {
				return err
			}
			switch {
			case a.json():
				return a.emitJSON(map[string]string{"file": file, "backup": backup})
			case a.g.nonInteractive:
				fmt.Fprintln(a.out, file)
			default:
				if backup != "" {
					fmt.Fprintf(a.out, "The previous %s was kept as %s\n", file, backup)
				}
				fmt.Fprintf(a.out, "Kubeconfig of service %s written to %s\n", as[0], file)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "file to write (default ~/.kube/config)")
	cmd.Flags().StringVarP(&user, "username", "u", "", "taken for CLI 1.2's grammar; the kubeconfig needs no login")
	cmd.Flags().StringVarP(&pass, "password", "p", "", "taken for CLI 1.2's grammar; the kubeconfig needs no login")
	return cmd
}

// writePrivate writes data to path with mode 0600 through a temporary file in its
// directory (created 0700), so a reader never sees half a file. A different file there
// before is renamed to path.bak, whose name is answered.
func writePrivate(path string, data []byte) (string, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	backup := ""
	if old, err := os.ReadFile(path); err == nil && !bytes.Equal(old, data) {
		backup = path + ".bak"
		if err := os.Rename(path, backup); err != nil {
			return "", err
		}
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return backup, os.Rename(f.Name(), path)
}

// certToFileCmd is `service cert-to-file <id> <file>`: the CA certificate a service
// publishes, as CLI 1.2 took it: registry_ca_cert when the service has one, else ca_cert.
func (a *app) certToFileCmd() *cobra.Command {
	return &cobra.Command{
		Use: "cert-to-file <id> <file>", Short: "Write a service's CA certificate to a file",
		Long: "Write the CA certificate of a service (PEM) to a file: a Harbor registry's, to give\n" +
			"to a Kubernetes service's --registry-ca-cert or to Docker, or a Kubernetes cluster's,\n" +
			"to check its API's certificate.\n\n" +
			"Example: photon service cert-to-file 9b159e92-9495-49a4-af58-53ad4764f616 ./harbor-ca.pem",
		Args: args(2, "service cert-to-file <id> <file>"),
		RunE: func(cmd *cobra.Command, as []string) error {
			s, err := a.service(cmd, as[0])
			if err != nil {
				return err
			}
			cert := s.GetExtendedProperties()["registry_ca_cert"]
			if cert == "" {
				cert = s.GetExtendedProperties()["ca_cert"]
			}
			if cert == "" {
				return fmt.Errorf("service %s has no CA certificate", as[0])
			}
			if !strings.HasSuffix(cert, "\n") {
				cert += "\n"
			}
			// A CA certificate is public: 0644, as CLI 1.2 wrote it.
			if err := os.WriteFile(as[1], []byte(cert), 0o644); err != nil { //nolint:gosec // public certificate
				return err
			}
			if !a.g.nonInteractive && !a.json() {
				fmt.Fprintf(a.out, "CA certificate of service %s written to %s\n", as[0], as[1])
			}
			return nil
		},
	}
}

// serviceTypesCmd is `system list-service-types`: the enabled types and their images.
func (a *app) serviceTypesCmd() *cobra.Command {
	return &cobra.Command{
		Use: "list-service-types", Aliases: []string{"list-cluster-types"}, Short: "List the enabled service types and their images",
		Args: args(0, "system list-service-types"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return listOf(a, func(cl *client.Client) ([]*pb.ServiceType, error) { return cl.ListServiceTypes(cmd.Context()) },
				[]string{"Type", "Image ID"}, func(t *pb.ServiceType) []string { return []string{t.GetType(), t.GetImageId()} })
		},
	}
}
