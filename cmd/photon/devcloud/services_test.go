package devcloud_test

import (
	"crypto/x509"
	"encoding/pem"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
)

// service is the SDK's Service, with the nodes Photon adds.
type service struct {
	ID                 string            `json:"id"`
	Name               string            `json:"name"`
	Type               string            `json:"type"`
	State              string            `json:"state"`
	ProjectID          string            `json:"projectID"`
	WorkerCount        int               `json:"workerCount"`
	ErrorReason        string            `json:"errorReason"`
	ImageID            string            `json:"imageId"`
	ExtendedProperties map[string]string `json:"extendedProperties"`
	UpgradeStatus      *struct {
		NewImageID       string `json:"newImageId"`
		TotalNodes       int    `json:"totalNodes"`
		NumNodesUpgraded int    `json:"numNodesUpgraded"`
	} `json:"upgradeStatus"`
	Nodes []serviceNode `json:"nodes"`
}

type serviceNode struct {
	VMID    string `json:"vmId"`
	Role    string `json:"role"`
	State   string `json:"state"`
	IP      string `json:"ip"`
	ImageID string `json:"imageId"`
}

// serviceCloud is a dev cloud whose simulated guests report every second (twice as often
// as the services expect, so that a busy machine does not make a node look silent), with
// a tenant, a project, flavors, an image and a routed subnet for services.
func serviceCloud(t *testing.T, hosts int) (*devcloud.Cloud, *client, fixture, string) {
	t.Helper()
	c, cl := cloudWith(t, hosts, func(o *devcloud.Options) {
		o.ServiceReportEvery, o.ServiceReadyTimeout = 2*time.Second, 2*time.Minute
		o.GuestReportEvery = time.Second
	})
	f := setup(t, cl, 20)
	r := cl.done("POST", "/v1/projects/"+f.project+"/networks", map[string]any{"name": "net", "routingType": "ROUTED",
		"privateIpCidr": "10.0.0.0/16"}, "COMPLETED").Entity.ID
	subnet := cl.done("POST", "/v1/networks/"+r+"/subnets", map[string]any{"name": "nodes", "privateIpCidr": "10.0.1.0/24"}, "COMPLETED").Entity.ID
	return c, cl, f, subnet
}

// service reads a service, failing the test unless it is there.
func (c *client) service(id string) service {
	c.t.Helper()
	var s service
	if st := c.do("GET", "/v1/services/"+id, nil, &s); st != 200 {
		c.t.Fatalf("GET service %s: %d", id, st)
	}
	return s
}

// serviceDone posts a service operation and waits for its task, as long as a cluster
// takes.
func (c *client) serviceDone(method, path string, body any, want string) opTask {
	c.t.Helper()
	var tk opTask
	if st := c.do(method, path, body, &tk); st/100 != 2 || tk.ID == "" {
		c.t.Fatalf("%s %s: status %d", method, path, st)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for tk.State != "COMPLETED" && tk.State != "ERROR" {
		if time.Now().After(deadline) {
			c.t.Fatalf("%s %s: task %s still %s: %+v", method, path, tk.ID, tk.State, tk.Steps)
		}
		time.Sleep(50 * time.Millisecond) // polling a task, as Photon clients do
		c.do("GET", "/v1/tasks/"+tk.ID, nil, &tk)
	}
	if tk.State != want {
		c.t.Fatalf("%s %s: task %s %+v, want %s", method, path, tk.State, tk.Steps, want)
	}
	return tk
}

// serviceVMs lists a service's VMs.
func (c *client) serviceVMs(id string) []vm {
	c.t.Helper()
	var l struct {
		Items []vm `json:"items"`
	}
	if st := c.do("GET", "/v1/services/"+id+"/vms", nil, &l); st != 200 {
		c.t.Fatalf("GET service %s vms: %d", id, st)
	}
	return l.Items
}

// checkNodes asserts the service is READY with workers workers, every node READY on a
// STARTED VM, and the project's quota charged for exactly its VMs.
func checkNodes(t *testing.T, cl *client, id, project string, workers int) service {
	t.Helper()
	s := cl.service(id)
	if s.State != "READY" || s.WorkerCount != workers {
		t.Fatalf("service %s %s with %d workers (%s), want READY with %d", id, s.State, s.WorkerCount, s.ErrorReason, workers)
	}
	n := 0
	for _, node := range s.Nodes {
		if node.State != "READY" {
			t.Fatalf("node %+v is not READY", node)
		}
		if node.Role == "worker" {
			n++
		}
	}
	vms := cl.serviceVMs(id)
	if n != workers || len(vms) != len(s.Nodes) {
		t.Fatalf("%d workers of %d nodes, %d VMs; want %d workers", n, len(s.Nodes), len(vms), workers)
	}
	for _, v := range vms {
		if v.State != "STARTED" {
			t.Fatalf("node VM %s is %s", v.Name, v.State)
		}
	}
	var all struct {
		Items []vm `json:"items"`
	}
	cl.do("GET", "/v1/projects/"+project+"/vms", nil, &all) // every service's nodes
	if u := cl.quota("/v1/projects/" + project + "/quota")["vm.count"]; u.Usage != float64(len(all.Items)) {
		t.Fatalf("project quota charges %v VMs, want the %d of its services", u.Usage, len(all.Items))
	}
	return s
}

// checkReleased asserts that nothing of a deleted or failed service is left: no VM in
// the project, no quota, no host reservation, no address on the subnet.
func checkReleased(t *testing.T, c *devcloud.Cloud, cl *client, project, subnet string) {
	t.Helper()
	var l struct {
		Items []vm `json:"items"`
	}
	cl.do("GET", "/v1/projects/"+project+"/vms", nil, &l)
	if len(l.Items) != 0 {
		t.Fatalf("the project still has VMs %+v", l.Items)
	}
	for k, u := range cl.quota("/v1/projects/" + project + "/quota") {
		if u.Usage != 0 {
			t.Fatalf("quota %s still charges %v", k, u.Usage)
		}
	}
	hosts, err := c.Store.ListHosts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if capy, err := c.Store.GetHostCapacity(t.Context(), h.ID); err != nil || capy.VMs != 0 || capy.MemUsed != 0 {
			t.Fatalf("host %s still reserves %+v (%v)", h.ID, capy, err)
		}
	}
	if _, addrs, err := c.Store.SubnetUsage(t.Context(), subnet); err != nil || addrs != 0 {
		t.Fatalf("subnet %s still hands out %d addresses (%v)", subnet, addrs, err)
	}
}

// TestKubernetesService runs a Kubernetes service's life as Photon 1.2's users did: the
// type enabled with its image, a 1 etcd + 1 master + 3 worker cluster created (workers in
// batches of 2) until every node reported ready, its kubeconfig, resized to 5 workers and
// back to 2, a worker whose guest went silent replaced by trigger_maintenance, every node
// rolled to a new image by change_version, and a delete that leaves nothing behind.
func TestKubernetesService(t *testing.T) {
	t.Parallel()
	c, cl, f, subnet := serviceCloud(t, 2)
	proj := "/v1/projects/" + f.project
	spec := map[string]any{"name": "k8s", "type": "KUBERNETES", "vmFlavor": "small", "diskFlavor": "disk", "vmNetworkId": subnet,
		"workerCount": 3, "workerBatchExpansionSize": 2, "extendedProperties": map[string]string{"container_network": "10.2.0.0/16"}}

	// Refused before anything is written: a type not enabled, a bad spec.
	cl.expect("POST", proj+"/services", spec, 400, "StateError")
	tk := cl.serviceDone("POST", "/v1/system/enable-service-type", map[string]any{"type": "KUBERNETES", "imageId": f.image}, "COMPLETED")
	if tk.Operation != "ENABLE_SERVICE_TYPE" {
		t.Fatalf("enable task %+v", tk)
	}
	bad := map[string]any{"name": "bad", "type": "KUBERNETES", "vmFlavor": "small", "diskFlavor": "disk", "vmNetworkId": subnet, "workerCount": 0}
	cl.expect("POST", proj+"/services", bad, 400, "InvalidEntity")
	bad["workerCount"], bad["vmFlavor"] = 1, "nonesuch"
	cl.expect("POST", proj+"/services", bad, 400, "InvalidEntity")

	tk = cl.serviceDone("POST", proj+"/services", spec, "COMPLETED")
	if tk.Operation != "CREATE_SERVICE" || tk.Entity.Kind != "service" {
		t.Fatalf("create task %+v", tk)
	}
	id := tk.Entity.ID
	s := checkNodes(t, cl, id, f.project, 3)
	cidr := netip.MustParsePrefix("10.0.1.0/24")
	for _, k := range []string{"master_ip", "etcd_ip1", "load_balancer_ip"} {
		if a, err := netip.ParseAddr(s.ExtendedProperties[k]); err != nil || !cidr.Contains(a) {
			t.Fatalf("%s = %q, want an address of the subnet", k, s.ExtendedProperties[k])
		}
	}
	var subnetOf struct {
		Items []service `json:"items"`
	}
	if cl.do("GET", proj+"/services", nil, &subnetOf); len(subnetOf.Items) != 1 || subnetOf.Items[0].ID != id {
		t.Fatalf("project services %+v", subnetOf.Items)
	}

	// The kubeconfig reaches the load balancer and trusts the service's CA.
	var kc struct {
		Kubeconfig string `json:"kubeconfig"`
	}
	if st := cl.do("GET", "/v1/services/"+id+"/kubeconfig", nil, &kc); st != 200 {
		t.Fatalf("kubeconfig: %d", st)
	}
	var conf struct {
		Clusters []struct {
			Cluster struct {
				Server string `yaml:"server"`
			} `yaml:"cluster"`
		} `yaml:"clusters"`
	}
	if err := yaml.Unmarshal([]byte(kc.Kubeconfig), &conf); err != nil || len(conf.Clusters) != 1 ||
		conf.Clusters[0].Cluster.Server != "https://"+s.ExtendedProperties["load_balancer_ip"]+":6443" {
		t.Fatalf("kubeconfig %v: %+v", err, conf)
	}
	if b, _ := pem.Decode([]byte(s.ExtendedProperties["ca_cert"])); b == nil {
		t.Fatalf("no CA certificate in %v", s.ExtendedProperties)
	} else if _, err := x509.ParseCertificate(b.Bytes); err != nil {
		t.Fatal(err)
	}
	// A node's VM belongs to its service.
	cl.expect("DELETE", "/v1/vms/"+s.Nodes[0].VMID, nil, 400, "StateError")

	// Resize up and down.
	cl.serviceDone("POST", "/v1/services/"+id+"/resize", map[string]any{"newWorkerCount": 5}, "COMPLETED")
	checkNodes(t, cl, id, f.project, 5)
	cl.serviceDone("POST", "/v1/services/"+id+"/resize", map[string]any{"newWorkerCount": 2}, "COMPLETED")
	s = checkNodes(t, cl, id, f.project, 2)

	// A worker's guest goes silent; maintenance replaces it.
	var broken string
	for _, n := range s.Nodes {
		if n.Role == "worker" {
			broken = n.VMID
			break
		}
	}
	c.BreakGuest(broken)
	waitFor(t, "the broken worker to stop reporting", func() bool {
		for _, n := range cl.service(id).Nodes {
			if n.VMID == broken {
				return n.State == "NOT_REPORTING"
			}
		}
		return false
	})
	cl.serviceDone("POST", "/v1/services/"+id+"/trigger_maintenance", nil, "COMPLETED")
	s = checkNodes(t, cl, id, f.project, 2)
	if slices.ContainsFunc(s.Nodes, func(n serviceNode) bool { return n.VMID == broken }) {
		t.Fatalf("the broken worker %s is still a node", broken)
	}
	if st := cl.do("GET", "/v1/vms/"+broken, nil, nil); st != 404 {
		t.Fatalf("the broken worker's VM answers %d, want 404", st)
	}

	// change_version rolls every node to the new image, counting them.
	image2 := cl.create("/v1/images/register", map[string]any{"name": "photon-os-2", "diskPath": devcloud.DefaultImage}).Entity.ID
	cl.serviceDone("POST", "/v1/services/"+id+"/change_version", map[string]any{"newImageId": image2}, "COMPLETED")
	s = checkNodes(t, cl, id, f.project, 2)
	if s.ImageID != image2 || s.UpgradeStatus == nil || s.UpgradeStatus.NumNodesUpgraded != 4 || s.UpgradeStatus.TotalNodes != 4 {
		t.Fatalf("after change_version: image %s, upgrade %+v", s.ImageID, s.UpgradeStatus)
	}
	for _, n := range s.Nodes {
		if n.ImageID != image2 {
			t.Fatalf("node %+v not on %s", n, image2)
		}
	}

	cl.serviceDone("DELETE", "/v1/services/"+id, nil, "COMPLETED")
	if st := cl.do("GET", "/v1/services/"+id, nil, nil); st != 404 {
		t.Fatalf("deleted service answers %d", st)
	}
	checkReleased(t, c, cl, f.project, subnet)
}

// TestHarborService creates a Harbor registry, whose CA a Kubernetes service of the same
// project then trusts; a create whose node cannot power on ends in ERROR with the reason
// and releases everything it held.
func TestHarborService(t *testing.T) {
	t.Parallel()
	c, cl, f, subnet := serviceCloud(t, 1)
	proj := "/v1/projects/" + f.project
	for _, typ := range []string{"HARBOR", "KUBERNETES"} {
		cl.serviceDone("POST", "/v1/system/enable-service-type", map[string]any{"type": typ, "imageId": f.image}, "COMPLETED")
	}
	harbor := map[string]any{"name": "registry", "type": "HARBOR", "vmFlavor": "small", "diskFlavor": "disk", "vmNetworkId": subnet}
	cl.expect("POST", proj+"/services", harbor, 400, "InvalidEntity") // no admin password
	harbor["extendedProperties"] = map[string]string{"admin_password": "Harbor12345"}

	// A node that cannot power on fails the create, which undoes itself.
	for _, s := range c.Sims {
		s.FailMethod("PowerOnVM_Task")
	}
	tk := cl.serviceDone("POST", proj+"/services", harbor, "ERROR")
	failed := cl.service(tk.Entity.ID)
	if failed.State != "ERROR" || !strings.Contains(failed.ErrorReason, "CREATE_SERVICE_NODES") {
		t.Fatalf("failed service %s: %q", failed.State, failed.ErrorReason)
	}
	checkReleased(t, c, cl, f.project, subnet)
	for _, s := range c.Sims {
		s.ClearFaults()
	}
	cl.serviceDone("DELETE", "/v1/services/"+failed.ID, nil, "COMPLETED")

	h := cl.serviceDone("POST", proj+"/services", harbor, "COMPLETED").Entity.ID
	hs := checkNodes(t, cl, h, f.project, 0)
	ca := hs.ExtendedProperties["registry_ca_cert"]
	if !strings.Contains(ca, "BEGIN CERTIFICATE") || hs.ExtendedProperties["admin_password"] != "" || hs.ExtendedProperties["master_ip"] == "" {
		t.Fatalf("harbor's properties %v", hs.ExtendedProperties)
	}

	k := cl.serviceDone("POST", proj+"/services", map[string]any{"name": "k8s", "type": "KUBERNETES", "vmFlavor": "small",
		"diskFlavor": "disk", "vmNetworkId": subnet, "workerCount": 1}, "COMPLETED").Entity.ID
	if ks := checkNodes(t, cl, k, f.project, 1); ks.ExtendedProperties["registry_ca_cert"] != ca {
		t.Fatalf("the Kubernetes service trusts %q, want Harbor's CA", ks.ExtendedProperties["registry_ca_cert"])
	}
	cl.serviceDone("DELETE", "/v1/services/"+k, nil, "COMPLETED")
	cl.serviceDone("DELETE", "/v1/services/"+h, nil, "COMPLETED")
	checkReleased(t, c, cl, f.project, subnet)
}
