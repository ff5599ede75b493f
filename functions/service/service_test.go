package service_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/functions"
	"github.com/photon-cloud/photon/functions/internal/steptest"
	"github.com/photon-cloud/photon/shared/cluster"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/pki"
	"github.com/photon-cloud/photon/shared/store"
)

const (
	subnet = "sn-1"
	cidr   = "10.0.1.0/24"
)

// The steps of the create chain.
const (
	stepAddresses = 2
	stepPKI       = 3
	stepNodes     = 4
)

// fixture is an Env whose functions hold the platform CA's keys (sealKey is the one of
// the services' secrets).
type fixture struct {
	*steptest.Env
	sealKey []byte
}

// env is a fixture with a subnet of cidr (none when cidr is "").
func env(t *testing.T, cidr string) *fixture {
	t.Helper()
	ca, err := pki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	e := steptest.New(t, functions.WithCA(ca))
	e.Subnet(t, &model.Subnet{ID: subnet, Name: subnet, PortGroups: []string{steptest.PortGroup}, PrivateIPCIDR: cidr, State: model.NetReady})
	return &fixture{Env: e, sealKey: ca.SecretKey(cluster.SealPurpose)}
}

// newService writes a service of typ with workers workers (batch at a time) and the
// nodes' asked addresses ips (by role-index), held by a create task, as the gateway does;
// a Harbor's admin password sealed beside it.
func newService(t *testing.T, e *fixture, typ string, workers, batch int, ips map[string]string, ext map[string]string) (*model.Service, *model.Task) {
	t.Helper()
	svc := &model.Service{ID: "svc-" + uuid.NewString()[:8], Name: "k8s", Type: typ, TenantID: steptest.Tenant, ProjectID: steptest.Project,
		State: model.ServiceCreating, ImageID: "image-1", SubnetID: subnet, VMFlavor: "small", DiskFlavor: "disk", BatchSize: batch,
		Extended: map[string]string{}, Templates: map[string]*model.VM{}, ReportEvery: 60_000, ReadyTimeout: 60_000,
		ReportURL: "https://api.example:9443", CreatedAt: 1}
	for k, v := range ext {
		svc.Extended[k] = v
	}
	add := func(role string, index int) {
		n := model.ServiceNode{VMID: uuid.NewString(), Role: role, Index: index, ImageID: svc.ImageID, IP: ips[role+"-"+string(rune('0'+index))]}
		svc.Nodes = append(svc.Nodes, n)
		svc.Templates[role] = &model.VM{Name: "k8s-" + role, Flavor: "small", SourceImageID: svc.ImageID,
			Nics: []model.Nic{{ID: "nic-0", Network: subnet}}, Disks: []model.Disk{{Name: "boot", Kind: model.FlavorEphemeralDisk, Flavor: "disk", Boot: true, CapacityGB: 1}}}
	}
	if typ == model.ServiceHarbor {
		add(model.RoleHarbor, 1)
	} else {
		add(model.RoleEtcd, 1)
		add(model.RoleMaster, 1)
		for i := 1; i <= workers; i++ {
			add(model.RoleWorker, i)
		}
		svc.WorkerCount, svc.NextIndex = workers, workers
	}
	task := e.NewTask(&events.ServiceCreate, svc.ID, steptest.Root, nil)
	svc.ActiveTask = task.ID
	var sealed []byte
	if typ == model.ServiceHarbor {
		var err error
		if sealed, err = cluster.SealSecrets(e.sealKey, &cluster.Secrets{AdminPassword: "Harbor12345"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Store.CreateService(t.Context(), svc, sealed, task); err != nil {
		t.Fatal(err)
	}
	return svc, task
}

func getService(t *testing.T, e *fixture, id string) *model.Service {
	t.Helper()
	svc, err := store.Get[model.Service](t.Context(), e.Store, model.KindService, id)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func addresses(t *testing.T, e *fixture) int {
	t.Helper()
	_, n, err := e.Store.SubnetUsage(t.Context(), subnet)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAddresses: the etcd and master nodes and the load balancer of a Kubernetes
// service (a Harbor's node) hold the addresses they asked for, or free ones, shown as
// Photon's extended properties, once however often the step runs; a taken address or a
// subnet without a CIDR fails the step; the undo gives every address back, once too.
func TestAddresses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		typ     string
		cidr    string
		ips     map[string]string
		ext     map[string]string
		taken   string // an address another holds first
		outcome string
		want    map[string]string // extended properties, "*" for any address of cidr
		held    int
	}{
		{name: "free addresses", typ: model.ServiceKubernetes, cidr: cidr, outcome: steptest.Done,
			want: map[string]string{"etcd_ip1": "*", "master_ip": "*", "load_balancer_ip": "*"}, held: 3},
		{name: "asked addresses", typ: model.ServiceKubernetes, cidr: cidr, outcome: steptest.Done,
			ips: map[string]string{"etcd-1": "10.0.1.20", "master-1": "10.0.1.10"}, ext: map[string]string{"load_balancer_ip": "10.0.1.11"},
			want: map[string]string{"etcd_ip1": "10.0.1.20", "master_ip": "10.0.1.10", "load_balancer_ip": "10.0.1.11"}, held: 3},
		{name: "harbor", typ: model.ServiceHarbor, cidr: cidr, outcome: steptest.Done,
			want: map[string]string{"master_ip": "*", "load_balancer_ip": ""}, held: 1},
		{name: "asked address taken", typ: model.ServiceKubernetes, cidr: cidr, taken: "10.0.1.10",
			ips: map[string]string{"master-1": "10.0.1.10"}, outcome: steptest.Failed(errs.CodeStateError)},
		{name: "asked address outside the subnet", typ: model.ServiceKubernetes, cidr: cidr,
			ips: map[string]string{"master-1": "10.9.9.9"}, outcome: steptest.Failed(errs.CodeInvalidEntity)},
		{name: "subnet without a CIDR", typ: model.ServiceKubernetes, outcome: steptest.Failed(errs.CodeInvalidEntity)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := env(t, tc.cidr)
			other := 0
			if tc.taken != "" {
				if err := e.Store.ClaimIP(t.Context(), subnet, "someone-else", tc.taken); err != nil {
					t.Fatal(err)
				}
				other = 1
			}
			svc, task := newService(t, e, tc.typ, 1, 1, tc.ips, tc.ext)
			chain := &events.ServiceCreate
			for range 2 { // the second is a replay
				reply, err := e.Do(t, chain, task, stepAddresses)
				if got := e.Outcome(t, chain, task, stepAddresses, reply, err); got != tc.outcome {
					t.Fatalf("outcome %s, want %s", got, tc.outcome)
				}
				if tc.outcome != steptest.Done {
					break
				}
				got := getService(t, e, svc.ID)
				for k, want := range tc.want {
					v := got.Extended[k]
					switch want {
					case "*":
						if a, err := netip.ParseAddr(v); err != nil || !netip.MustParsePrefix(cidr).Contains(a) {
							t.Fatalf("%s = %q, want an address of %s", k, v, cidr)
						}
					default:
						if v != want {
							t.Fatalf("%s = %q, want %q", k, v, want)
						}
					}
				}
				for _, n := range got.Nodes {
					if (n.Role == model.RoleWorker) != (n.IP == "") {
						t.Fatalf("node %s-%d has address %q: only static nodes hold one", n.Role, n.Index, n.IP)
					}
				}
				if n := addresses(t, e); n != tc.held {
					t.Fatalf("the subnet hands out %d addresses, want %d", n, tc.held)
				}
			}
			for range 2 {
				if _, err := e.Undo(t, chain, task, stepAddresses, nil); err != nil {
					t.Fatal(err)
				}
				if n := addresses(t, e); n != other {
					t.Fatalf("after the undo the subnet hands out %d addresses, want %d", n, other)
				}
			}
		})
	}
}

// TestPKI: the step issues the service's PKI once (a replay keeps it), sealed at rest,
// and shows its CA (a Harbor's as registry_ca_cert too); a node's guestinfo is a
// cloud-config rendered from it; the undo deletes it.
func TestPKI(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{model.ServiceKubernetes, model.ServiceHarbor} {
		t.Run(typ, func(t *testing.T) {
			t.Parallel()
			e := env(t, cidr)
			svc, task := newService(t, e, typ, 1, 1, nil, nil)
			chain := &events.ServiceCreate
			e.MustDo(t, chain, task, stepAddresses)
			var ca string
			for i := range 2 {
				e.MustDo(t, chain, task, stepPKI)
				got := getService(t, e, svc.ID)
				if !strings.Contains(got.Extended["ca_cert"], "BEGIN CERTIFICATE") {
					t.Fatalf("ca_cert %q", got.Extended["ca_cert"])
				}
				if i == 1 && got.Extended["ca_cert"] != ca {
					t.Fatal("a replay issued another CA")
				}
				ca = got.Extended["ca_cert"]
				if harbor := got.Extended["registry_ca_cert"]; (typ == model.ServiceHarbor) != (harbor == ca) {
					t.Fatalf("registry_ca_cert %q of a %s service", harbor, typ)
				}
			}
			sealed, err := e.Store.ServiceSecrets(t.Context(), svc.ID)
			if err != nil || len(sealed) == 0 || strings.Contains(string(sealed), "PRIVATE KEY") {
				t.Fatalf("the sealed secrets (%v) show a key in the clear or are missing", err)
			}
			info := guestInfo(t, e, &model.VM{ID: svc.Nodes[0].VMID, ServiceID: svc.ID})
			ud, err := base64.StdEncoding.DecodeString(info["guestinfo.userdata"])
			if err != nil || !strings.HasPrefix(string(ud), "#cloud-config") || !strings.Contains(string(ud), "phone_home") {
				t.Fatalf("guestinfo.userdata (%v):\n%.300s", err, ud)
			}
			if info["guestinfo.userdata.encoding"] != "base64" || info["guestinfo.metadata"] == "" {
				t.Fatalf("guestinfo %v", info)
			}
			if _, err := guestInfoErr(t, e, &model.VM{ID: "not-a-node", ServiceID: svc.ID}); !errs.IsPermanent(err) {
				t.Fatalf("the guestinfo of a VM that is no node: %v, want a permanent error", err)
			}

			for range 2 {
				if _, err := e.Undo(t, chain, task, stepPKI, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := e.Store.ServiceSecrets(t.Context(), svc.ID); !errors.Is(err, errs.ErrNotFound) {
					t.Fatalf("after the undo the secrets are %v, want not found", err)
				}
			}
		})
	}
}

// guestInfoErr asks the service function for vm's guestinfo, as vmhost does.
func guestInfoErr(t *testing.T, e *fixture, vm *model.VM) (map[string]string, error) {
	t.Helper()
	fn, ok := e.Set.Get("service").(interface {
		GuestInfo(context.Context, *model.VM) (map[string]string, error)
	})
	if !ok {
		t.Fatal("the service function gives no guestinfo")
	}
	return fn.GuestInfo(t.Context(), vm)
}

func guestInfo(t *testing.T, e *fixture, vm *model.VM) map[string]string {
	t.Helper()
	info, err := guestInfoErr(t, e, vm)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// made reports the roles of the service's nodes whose VM exists, and lets every such VM
// that is still creating finish: STARTED, held by no task, as its create chain leaves it.
func made(t *testing.T, e *fixture, svc *model.Service) []string {
	t.Helper()
	var roles []string
	for _, n := range getService(t, e, svc.ID).Nodes {
		vm, err := store.Get[model.VM](t.Context(), e.Store, model.KindVM, n.VMID)
		if errors.Is(err, errs.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if vm.State != model.VMCreating {
			continue
		}
		roles = append(roles, n.Role)
		if vm.ServiceID != svc.ID || vm.Cost != nil || vm.AntiAffinity == nil || vm.AntiAffinity.Group != svc.ID+"/"+n.Role {
			t.Fatalf("node VM %+v: want the service's, without a cost of its own, spread per role", vm)
		}
		sub := e.Task(t, vm.ActiveTask)
		if sub.ParentID != svc.ActiveTask || !sub.WakesParent || sub.Operation != string(events.VMCreate.Operation) {
			t.Fatalf("node %s's create task %+v: want a sub-task of %s that wakes it", n.VMID, sub, svc.ActiveTask)
		}
		if _, err := store.Update(t.Context(), e.Store, model.KindVM, vm.ID, func(v *model.VM) error {
			v.State, v.ActiveTask = model.VMStarted, ""
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(roles)
	return roles
}

// TestCreateNodes: the step creates the etcd and master nodes first, then the workers
// workerBatchExpansionSize at a time, awaiting each round's VM creates; it completes
// once every node's VM is made, and fails with the node and its reason when one's create
// failed. Its undo deletes every node's VM by sub-tasks and awaits them.
func TestCreateNodes(t *testing.T) {
	t.Parallel()
	const (
		E = model.RoleEtcd
		M = model.RoleMaster
		W = model.RoleWorker
		H = model.RoleHarbor
	)
	for _, tc := range []struct {
		name           string
		typ            string
		workers, batch int
		rounds         [][]string
	}{
		{"workers in batches of 2", model.ServiceKubernetes, 3, 2, [][]string{{E, M}, {W, W}, {W}}},
		{"all workers at once", model.ServiceKubernetes, 3, 3, [][]string{{E, M}, {W, W, W}}},
		{"one worker at a time", model.ServiceKubernetes, 2, 1, [][]string{{E, M}, {W}, {W}}},
		{"harbor", model.ServiceHarbor, 0, 1, [][]string{{H}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := env(t, cidr)
			svc, task := newService(t, e, tc.typ, tc.workers, tc.batch, nil, nil)
			chain := &events.ServiceCreate
			e.MustDo(t, chain, task, stepAddresses)
			e.MustDo(t, chain, task, stepPKI)
			for i, want := range tc.rounds {
				for range 2 { // a replay creates nothing more
					reply, err := e.Do(t, chain, task, stepNodes)
					if err != nil || reply != nil || e.Task(t, task.ID).Steps[stepNodes].State != model.TaskStarted {
						t.Fatalf("round %d: reply %v, err %v; want the step awaiting", i, reply, err)
					}
				}
				if got := made(t, e, svc); !slices.Equal(got, want) {
					t.Fatalf("round %d made %v, want %v", i, got, want)
				}
			}
			e.MustDo(t, chain, task, stepNodes)

			// The undo deletes every node's VM by a sub-task, and awaits them.
			if reply, err := e.Undo(t, chain, task, stepNodes, nil); err != nil || reply != nil {
				t.Fatalf("undo: reply %v, err %v; want it awaiting", reply, err)
			}
			for _, n := range getService(t, e, svc.ID).Nodes {
				vm, err := store.Get[model.VM](t.Context(), e.Store, model.KindVM, n.VMID)
				if err != nil {
					t.Fatal(err)
				}
				if del := e.Task(t, vm.ActiveTask); del.Operation != string(events.VMDelete.Operation) || del.ParentID != task.ID {
					t.Fatalf("node %s is held by %+v, want its delete", n.VMID, del)
				}
				if err := e.Store.RemoveVM(t.Context(), vm); err != nil {
					t.Fatal(err)
				}
			}
			if reply, err := e.Undo(t, chain, task, stepNodes, nil); err != nil || reply == nil {
				t.Fatalf("undo once the VMs are gone: reply %v, err %v", reply, err)
			}
			if got := getService(t, e, svc.ID); len(got.Retiring) != 0 {
				t.Fatalf("still retiring %v", got.Retiring)
			}
		})
	}
}

// TestNodeFails: a node whose VM create failed fails the step with the node, its VM and
// the reason.
func TestNodeFails(t *testing.T) {
	t.Parallel()
	e := env(t, cidr)
	svc, task := newService(t, e, model.ServiceKubernetes, 1, 1, nil, nil)
	chain := &events.ServiceCreate
	e.MustDo(t, chain, task, stepAddresses)
	e.MustDo(t, chain, task, stepPKI)
	if reply, err := e.Do(t, chain, task, stepNodes); err != nil || reply != nil {
		t.Fatalf("reply %v, err %v; want the step awaiting", reply, err)
	}
	master := svc.Nodes[1]
	if _, err := store.Update(t.Context(), e.Store, model.KindVM, master.VMID, func(v *model.VM) error {
		v.State, v.ActiveTask, v.StateReason = model.VMError, "", "no host fits"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	reply, err := e.Do(t, chain, task, stepNodes)
	if got := e.Outcome(t, chain, task, stepNodes, reply, err); got != steptest.Failed(errs.CodeStateError) {
		t.Fatalf("outcome %s", got)
	}
	msg := e.Task(t, task.ID).Steps[stepNodes].Errors[0].Message
	if !strings.Contains(msg, "master-1") || !strings.Contains(msg, master.VMID) || !strings.Contains(msg, "no host fits") {
		t.Fatalf("error %q: want the node, its VM and the reason", msg)
	}
}
