// Package service runs the steps of the service chains (events.ServiceCreate, Delete,
// Resize, Maintain, ChangeVersion): a service is a Kubernetes cluster or a Harbor
// registry made of node VMs, each made and deleted by the VM chains as a sub-task of the
// service's task.
//
// Consumes: io.photon.service.create.quota.reserved (ALLOCATE_SERVICE_ADDRESSES: the
// static addresses of the etcd, master and harbor nodes and the load balancer, held on
// the subnet under the node's NIC owner, so that wiresubnet gives the node that address),
// ...addresses.allocated (ISSUE_SERVICE_PKI: the cluster's PKI, sealed),
// ...pki.issued (CREATE_SERVICE_NODES: the node VMs, the etcd and masters first, then the
// workers in batches of workerBatchExpansionSize; it awaits their chains),
// ...nodes.created (WAIT_SERVICE_NODES_READY: it awaits each node's first report);
// io.photon.service.resize.quota.resized (RESIZE_SERVICE_NODES), .trigger_maintenance
// .authorized (REPLACE_SERVICE_NODES), .change_version.authorized (ROLL_SERVICE_NODES),
// and the delete chain's steps (DELETE_SERVICE_NODES, DELETE_SERVICE_PKI,
// RELEASE_SERVICE_ADDRESSES).
// Emits: the next event of each chain, io.photon.service.<chain>.<done>.
// Undoes: the nodes it created (their VMs deleted by delete chains it starts and awaits),
// the PKI, the addresses. Idempotency: a node's VM id and its create and delete task ids
// are fixed by the service's plan, so a replayed step finds what it made; the plan of a
// resize, a maintenance or a roll is recorded once per task (Service.Plan).
package service

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/photon-cloud/photon/functions/runtime"
	"github.com/photon-cloud/photon/functions/wiresubnet"
	"github.com/photon-cloud/photon/shared/cluster"
	"github.com/photon-cloud/photon/shared/domain"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// Options are the keys of the services' secrets.
type Options struct {
	// SealKey seals a service's secrets at rest (pki.CA.SecretKey(cluster.SealPurpose)).
	SealKey []byte
	// TokenKey makes the nodes' report tokens (pki.CA.SecretKey(cluster.TokenPurpose));
	// the gateway checks them with the same key.
	TokenKey []byte
}

// Function is the service step.
type Function struct {
	store *store.Store
	o     Options
}

// New returns the service function.
func New(s *store.Store, o Options) *Function { return &Function{store: s, o: o} }

// Name implements runtime.Function.
func (f *Function) Name() string { return "service" }

// recheck is how long a step that awaits other chains waits at most before it looks
// again, should a wake be lost.
const recheck = time.Minute

// Do runs the step c names.
func (f *Function) Do(ctx context.Context, c *runtime.Call) error {
	svc, err := store.Get[model.Service](ctx, f.store, model.KindService, c.Data.EntityID)
	if err != nil {
		return err
	}
	switch c.Operation() {
	case domain.OpAllocateServiceAddresses:
		return f.allocate(ctx, svc)
	case domain.OpIssueServicePKI:
		return f.issue(ctx, svc)
	case domain.OpCreateServiceNodes:
		return f.converge(ctx, c, svc)
	case domain.OpWaitServiceNodes:
		return f.waitReady(ctx, c, svc)
	case domain.OpResizeServiceNodes:
		return f.resize(ctx, c, svc)
	case domain.OpReplaceServiceNodes:
		return f.maintain(ctx, c, svc)
	case domain.OpRollServiceNodes:
		return f.roll(ctx, c, svc)
	}
	return errs.Permanent(fmt.Errorf("service: no step %s", c.Operation()))
}

// Undo undoes the step c names, or runs the delete chain's step made of it.
func (f *Function) Undo(ctx context.Context, c *runtime.Call) error {
	svc, err := store.Get[model.Service](ctx, f.store, model.KindService, c.Data.EntityID)
	if errors.Is(err, errs.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch c.Operation() {
	case domain.OpAllocateServiceAddresses, domain.OpReleaseServiceAddresses:
		return f.release(ctx, svc)
	case domain.OpIssueServicePKI, domain.OpDeleteServicePKI:
		return f.store.DeleteServiceSecrets(ctx, svc.ID)
	case domain.OpCreateServiceNodes, domain.OpDeleteServiceNodes:
		return f.retireAll(ctx, c, svc)
	case domain.OpResizeServiceNodes:
		return f.unresize(ctx, c, svc)
	}
	return errs.Permanent(fmt.Errorf("service: no undo of %s", c.Operation()))
}

func (f *Function) secrets(ctx context.Context, id string) (*cluster.Secrets, error) {
	sealed, err := f.store.ServiceSecrets(ctx, id)
	if errors.Is(err, errs.ErrNotFound) {
		return &cluster.Secrets{}, nil
	}
	if err != nil {
		return nil, err
	}
	return cluster.OpenSecrets(f.o.SealKey, sealed)
}

// issue issues the service's PKI once: a replay keeps the first.
func (f *Function) issue(ctx context.Context, svc *model.Service) error {
	sec, err := f.secrets(ctx, svc.ID)
	if err != nil {
		return err
	}
	if sec.PKI == nil {
		if sec.PKI, err = cluster.IssuePKI(cluster.SpecOf(svc, sec), time.Now()); err != nil {
			return errs.Permanent(err)
		}
		sealed, err := cluster.SealSecrets(f.o.SealKey, sec)
		if err != nil {
			return err
		}
		if err := f.store.PutServiceSecrets(ctx, svc.ID, sealed); err != nil {
			return err
		}
	}
	_, err = store.Update(ctx, f.store, model.KindService, svc.ID, func(s *model.Service) error {
		if s.Extended["ca_cert"] == sec.PKI.CAPEM() {
			return store.ErrNoChange
		}
		if s.Extended == nil {
			s.Extended = map[string]string{}
		}
		s.Extended["ca_cert"] = sec.PKI.CAPEM()
		if s.Type == model.ServiceHarbor {
			s.Extended["registry_ca_cert"] = sec.PKI.CAPEM()
		}
		return nil
	})
	return err
}

// GuestInfo is a node VM's guestinfo: its cloud-config (rendered from the service's PKI
// here, never stored) and its metadata. vmhost asks it for the VMs of a service.
func (f *Function) GuestInfo(ctx context.Context, vm *model.VM) (map[string]string, error) {
	svc, err := store.Get[model.Service](ctx, f.store, model.KindService, vm.ServiceID)
	if err != nil {
		return nil, err
	}
	var node *model.ServiceNode
	for i := range svc.Nodes {
		if svc.Nodes[i].VMID == vm.ID {
			node = &svc.Nodes[i]
		}
	}
	if node == nil {
		return nil, errs.Permanent(fmt.Errorf("VM %s is no node of service %s", vm.ID, svc.ID))
	}
	sec, err := f.secrets(ctx, svc.ID)
	if err != nil {
		return nil, err
	}
	if sec.PKI == nil {
		return nil, errs.Permanent(fmt.Errorf("service %s has no PKI", svc.ID))
	}
	spec := cluster.SpecOf(svc, sec)
	n := cluster.Node{Role: node.Role, Index: node.Index, VMID: vm.ID, Hostname: cluster.Hostname(spec, node.Role, node.Index),
		IP: node.IP, Token: cluster.NodeToken(f.o.TokenKey, svc.ID, vm.ID)}
	ud, err := cluster.UserData(spec, sec.PKI, n, cluster.Phone{URL: reportURL(svc, vm.ID, n.Token), CAPEM: svc.ReportCA,
		ReportEvery: time.Duration(svc.ReportEvery) * time.Millisecond})
	if err != nil {
		return nil, errs.Permanent(err)
	}
	b64 := base64.StdEncoding.EncodeToString
	return map[string]string{
		"guestinfo.userdata": b64(ud), "guestinfo.userdata.encoding": "base64",
		"guestinfo.metadata": b64(cluster.MetaData(n)), "guestinfo.metadata.encoding": "base64",
	}, nil
}

// reportURL is where node vm of svc reports, with its token.
func reportURL(svc *model.Service, vm, token string) string {
	return svc.ReportURL + cluster.ReportPath(svc.ID, vm) + "?token=" + url.QueryEscape(token)
}

// nicOwner is who holds a node's address on the subnet: its VM's first NIC, so that
// wiresubnet gives the VM the address held for it.
func nicOwner(vmID string) string { return wiresubnet.Owner(vmID, wiresubnet.NicID(0)) }

// lbOwner holds a KUBERNETES service's load balancer address.
func lbOwner(serviceID string) string { return "service/" + serviceID + "/lb" }

// static reports whether nodes of role have an address fixed for the service's life
// (the PKI names them), which a replacement keeps.
func static(role string) bool { return role != model.RoleWorker }

// allocate holds the static nodes' and the load balancer's addresses on the subnet: the
// ones the spec asked for, or free ones.
func (f *Function) allocate(ctx context.Context, svc *model.Service) error {
	ips := map[string]string{}
	for _, n := range svc.Nodes {
		if !static(n.Role) {
			continue
		}
		ip, err := f.hold(ctx, svc.SubnetID, nicOwner(n.VMID), n.IP)
		if err != nil {
			return err
		}
		ips[n.VMID] = ip
	}
	lb := svc.LBAddress
	if svc.Type == model.ServiceKubernetes {
		var err error
		if lb, err = f.hold(ctx, svc.SubnetID, lbOwner(svc.ID), svc.Extended["load_balancer_ip"]); err != nil {
			return err
		}
	}
	_, err := store.Update(ctx, f.store, model.KindService, svc.ID, func(s *model.Service) error {
		if s.Extended == nil {
			s.Extended = map[string]string{}
		}
		counts := map[string]int{}
		for i := range s.Nodes {
			n := &s.Nodes[i]
			if ip, ok := ips[n.VMID]; ok {
				n.IP = ip
				counts[n.Role]++
				s.Extended[addressProperty(n.Role, counts[n.Role])] = ip
			}
		}
		s.LBAddress = lb
		if lb != "" {
			s.Extended["load_balancer_ip"] = lb
		}
		return nil
	})
	return err
}

// addressProperty is the extended property that shows the address of the k-th node of
// role, as Photon named them: master_ip, master_ip2, etcd_ip1..3; a Harbor's is its
// master_ip.
func addressProperty(role string, k int) string {
	switch role {
	case model.RoleEtcd:
		return fmt.Sprintf("etcd_ip%d", k)
	case model.RoleMaster:
		if k > 1 {
			return fmt.Sprintf("master_ip%d", k)
		}
	}
	return "master_ip"
}

// hold gives owner the address want on the subnet or, with none wanted, a free one.
func (f *Function) hold(ctx context.Context, subnet, owner, want string) (string, error) {
	if want != "" {
		return want, f.store.ClaimIP(ctx, subnet, owner, want)
	}
	ip, err := f.store.AllocateIP(ctx, subnet, owner)
	if err != nil {
		return "", err
	}
	if ip == "" {
		return "", errs.Invalid("Subnet #%s hands out no addresses: a service needs a subnet with a CIDR", subnet)
	}
	return ip, nil
}

// release gives the static addresses and the load balancer's back. A node's VM gave its
// own back when it was deleted; releasing again changes nothing.
func (f *Function) release(ctx context.Context, svc *model.Service) error {
	owners := []string{lbOwner(svc.ID)}
	for _, n := range svc.Nodes {
		if static(n.Role) {
			owners = append(owners, nicOwner(n.VMID))
		}
	}
	for _, o := range owners {
		if _, err := f.store.ReleaseIP(ctx, svc.SubnetID, o); err != nil && !errors.Is(err, errs.ErrNotFound) {
			return err
		}
	}
	return nil
}
