package cluster

import (
	"encoding/json"
	"fmt"
	"net/url"

	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
)

// The purposes of the keys Photon derives from its CA for services (pki.CA.SecretKey):
// the one that seals their secrets at rest and the one that makes their nodes' tokens.
const (
	SealPurpose  = "service secrets"
	TokenPurpose = "service node tokens"
)

// Secrets are a service's secrets, kept sealed apart from its record
// (store.PutServiceSecrets): its PKI once issued, a Harbor's admin password.
type Secrets struct {
	PKI           *PKI   `json:"pki,omitempty"`
	AdminPassword string `json:"adminPassword,omitempty"`
}

// SealSecrets seals s with key.
func SealSecrets(key []byte, s *Secrets) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return Seal(key, b)
}

// OpenSecrets opens sealed secrets; what does not open is a permanent error.
func OpenSecrets(key, sealed []byte) (*Secrets, error) {
	b, err := Open(key, sealed)
	if err != nil {
		return nil, errs.Permanent(fmt.Errorf("open a service's secrets: %w", err))
	}
	var s Secrets
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errs.Permanent(fmt.Errorf("decode a service's secrets: %w", err))
	}
	return &s, nil
}

// SpecOf is what the nodes of svc share, with its secrets sec (nil: none).
func SpecOf(svc *model.Service, sec *Secrets) Spec {
	ext := svc.Extended
	sp := Spec{ServiceID: svc.ID, Name: svc.Name, Type: svc.Type, LoadBalancerIP: svc.LBAddress,
		ContainerNetwork: ext["container_network"], DNS: ext["dns"], Gateway: ext["gateway"], Netmask: ext["netmask"],
		SSHKey: ext["ssh_key"]}
	if sec != nil {
		sp.AdminPassword = sec.AdminPassword
	}
	if svc.Type == Kubernetes {
		sp.RegistryCACert = ext["registry_ca_cert"]
	}
	for _, n := range svc.Nodes {
		switch n.Role {
		case RoleEtcd:
			sp.EtcdIPs = append(sp.EtcdIPs, n.IP)
		case RoleMaster:
			sp.MasterIPs = append(sp.MasterIPs, n.IP)
		case RoleHarbor:
			sp.HarborIP = n.IP
		}
	}
	return sp
}

// KubeconfigOf is the admin kubeconfig of a KUBERNETES service whose PKI is issued.
func KubeconfigOf(svc *model.Service, key, sealed []byte) ([]byte, error) {
	sec, err := OpenSecrets(key, sealed)
	if err != nil {
		return nil, err
	}
	if sec.PKI == nil {
		return nil, errs.New(errs.CodeStateError, "Service #%s has no PKI yet", svc.ID)
	}
	return Kubeconfig(SpecOf(svc, sec), sec.PKI)
}

// ReportPath is the path node vm of service id reports to (POST, ?token=NodeToken).
func ReportPath(id, vm string) string {
	return "/v1/services/" + url.PathEscape(id) + "/nodes/" + url.PathEscape(vm) + "/report"
}
