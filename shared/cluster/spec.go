package cluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Service types.
const (
	Kubernetes = "KUBERNETES"
	Harbor     = "HARBOR"
)

// Node roles.
const (
	RoleEtcd   = "etcd"
	RoleMaster = "master"
	RoleWorker = "worker"
	RoleHarbor = "harbor"
)

// Defaults applied to an empty Spec field.
const (
	DefaultContainerNetwork  = "10.2.0.0/16"
	DefaultServiceCIDR       = "10.0.0.0/24"
	DefaultKubernetesVersion = "v1.30.0"
	DefaultReportEvery       = time.Minute
)

// Spec is what the nodes of one service share.
type Spec struct {
	ServiceID, Name, Type string
	LoadBalancerIP        string   // KUBERNETES: the control plane endpoint (LoadBalancerIP:6443)
	MasterIPs             []string // KUBERNETES masters' static addresses, master i+1 is MasterIPs[i]
	EtcdIPs               []string // KUBERNETES external etcd members' static addresses
	HarborIP              string   // HARBOR node's static address
	ContainerNetwork      string   // pod CIDR; DefaultContainerNetwork when empty
	ServiceCIDR           string   // DefaultServiceCIDR when empty
	DNS, Gateway, Netmask string   // static network of the nodes; without a Netmask the nodes use DHCP
	SSHKey                string   // an authorized key for root and the image's default user; may be empty
	RegistryCACert        string   // PEM of a Harbor's CA the Kubernetes nodes trust; may be empty
	AdminPassword         string   // HARBOR admin password
	KubernetesVersion     string   // DefaultKubernetesVersion when empty
}

// Node is one VM of the service.
type Node struct {
	Role     string
	Index    int    // 1-based within its role
	VMID     string // Photon VM id, also the cloud-init instance-id
	Hostname string // Hostname(spec, Role, Index) unless the caller chose another valid one
	IP       string // static address, "" for DHCP (etcd, master and harbor nodes take theirs from the Spec)
	Token    string // the node's secret; Phone.URL carries it
}

// Phone is how a node reports to Photon.
type Phone struct {
	URL         string        // the node's phone-home endpoint, token included
	CAPEM       string        // the CA of Photon's endpoint; may be empty when a public CA signs it
	ReportEvery time.Duration // how often the node re-reports; DefaultReportEvery when zero
}

// withDefaults fills the empty fields that have defaults.
func (s Spec) withDefaults() Spec {
	if s.ContainerNetwork == "" {
		s.ContainerNetwork = DefaultContainerNetwork
	}
	if s.ServiceCIDR == "" {
		s.ServiceCIDR = DefaultServiceCIDR
	}
	if s.KubernetesVersion == "" {
		s.KubernetesVersion = DefaultKubernetesVersion
	}
	return s
}

// validate checks what IssuePKI and UserData rely on.
func (s Spec) validate() error {
	ipField := func(field, v string) error {
		if net.ParseIP(v) == nil {
			return fmt.Errorf("cluster: %s %q is not an IP address", field, v)
		}
		return nil
	}
	switch s.Type {
	case Kubernetes:
		if err := ipField("LoadBalancerIP", s.LoadBalancerIP); err != nil {
			return err
		}
		if len(s.MasterIPs) == 0 || len(s.EtcdIPs) == 0 {
			return fmt.Errorf("cluster: a KUBERNETES service needs at least one master and one etcd address")
		}
		for i, ip := range s.MasterIPs {
			if err := ipField(fmt.Sprintf("MasterIPs[%d]", i), ip); err != nil {
				return err
			}
		}
		for i, ip := range s.EtcdIPs {
			if err := ipField(fmt.Sprintf("EtcdIPs[%d]", i), ip); err != nil {
				return err
			}
		}
		for _, c := range []string{s.ContainerNetwork, s.ServiceCIDR} {
			if _, _, err := net.ParseCIDR(c); err != nil {
				return fmt.Errorf("cluster: %w", err)
			}
		}
	case Harbor:
		if err := ipField("HarborIP", s.HarborIP); err != nil {
			return err
		}
	default:
		return fmt.Errorf("cluster: unknown service type %q", s.Type)
	}
	return nil
}

// Hostname is the hostname of a service's node: "<name>-<role>-<index>", lower-case,
// characters other than letters, digits and '-' replaced, at most 63 characters (one
// DNS label), the service's name shortened to fit.
func Hostname(spec Spec, role string, index int) string {
	suffix := "-" + label(role) + "-" + strconv.Itoa(index)
	prefix := serviceLabel(spec)
	if max := 63 - len(suffix); len(prefix) > max {
		prefix = strings.TrimRight(prefix[:max], "-")
	}
	return prefix + suffix
}

// serviceLabel is the service's name as a DNS label, or its id when the name has none.
func serviceLabel(spec Spec) string {
	for _, s := range []string{spec.Name, spec.ServiceID} {
		if l := label(s); l != "" {
			if len(l) > 63 {
				l = strings.TrimRight(l[:63], "-")
			}
			return l
		}
	}
	return "service"
}

// label lower-cases s and turns each run of characters a DNS label can't hold into one '-'.
func label(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		} else {
			dash = true
		}
	}
	return b.String()
}

// prefixLen turns a netmask ("255.255.255.0") or a prefix length ("24") into a prefix length.
func prefixLen(netmask string) (int, error) {
	if n, err := strconv.Atoi(netmask); err == nil && n >= 0 && n <= 128 {
		return n, nil
	}
	ip := net.ParseIP(netmask).To4()
	if ip == nil {
		return 0, fmt.Errorf("cluster: netmask %q is neither a dotted mask nor a prefix length", netmask)
	}
	ones, bits := net.IPMask(ip).Size()
	if bits == 0 {
		return 0, fmt.Errorf("cluster: netmask %q is not contiguous", netmask)
	}
	return ones, nil
}

// firstIP is the first usable address of a CIDR: kube-apiserver's "kubernetes" service IP.
func firstIP(cidr string) (net.IP, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	ip := append(net.IP(nil), n.IP...)
	for i := len(ip) - 1; i >= 0; i-- {
		ip[i]++
		if ip[i] != 0 {
			break
		}
	}
	return ip, nil
}
