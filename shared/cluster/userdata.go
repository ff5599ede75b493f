package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Paths on the nodes.
const (
	kubePKI        = "/etc/kubernetes/pki"
	kubeadmConfig  = "/etc/kubernetes/kubeadm.yaml"
	etcdPKI        = "/etc/etcd/pki"
	harborPKI      = "/etc/harbor/pki"
	harborDir      = "/opt/harbor" // where the image keeps Harbor's offline installer
	addonsDir      = "/opt/photon/addons"
	photonCA       = "/etc/photon/ca.crt"
	bootstrapPath  = "/usr/local/sbin/photon-bootstrap"
	bootstrapRC    = "/var/lib/photon/bootstrap.rc"
	reportPath     = "/usr/local/sbin/photon-report"
	containerdSock = "unix:///var/run/containerd/containerd.sock"
)

// cloudConfig is the cloud-config a node boots with. Its fields are in a fixed order,
// and it has no maps, so the same inputs always render the same bytes.
type cloudConfig struct {
	Hostname          string      `yaml:"hostname"`
	PreserveHostname  bool        `yaml:"preserve_hostname"`
	DisableRoot       bool        `yaml:"disable_root"`
	SSHAuthorizedKeys []string    `yaml:"ssh_authorized_keys,omitempty"`
	CACerts           *caCerts    `yaml:"ca_certs,omitempty"`
	WriteFiles        []writeFile `yaml:"write_files"`
	RunCmd            [][]string  `yaml:"runcmd"`
	PhoneHome         phoneHome   `yaml:"phone_home"`
}

type caCerts struct {
	Trusted []string `yaml:"trusted"`
}

type writeFile struct {
	Path        string `yaml:"path"`
	Content     string `yaml:"content"`
	Owner       string `yaml:"owner"`
	Permissions string `yaml:"permissions"`
}

type phoneHome struct {
	URL   string   `yaml:"url"`
	Post  []string `yaml:"post"`
	Tries int      `yaml:"tries"`
}

// UserData renders node n's cloud-config ("#cloud-config\n" and YAML): its certificates
// and keys, its role's configuration and bootstrap script, hostname, SSH key, static
// network, Photon's CA in the trust store, the photon-report timer and phone_home.
func UserData(spec Spec, p *PKI, n Node, phone Phone) ([]byte, error) {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return nil, err
	}
	if p == nil || p.Type != spec.Type {
		return nil, fmt.Errorf("cluster: the PKI is not a %s service's", spec.Type)
	}
	if u, err := url.Parse(phone.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("cluster: phone-home URL %q is not an http(s) URL", phone.URL)
	}
	if phone.ReportEvery <= 0 {
		phone.ReportEvery = DefaultReportEvery
	}
	ip, err := nodeIP(spec, p, n)
	if err != nil {
		return nil, err
	}
	host := Hostname(spec, n.Role, n.Index)
	if n.Hostname != "" && n.Hostname != host {
		if n.Role != RoleWorker {
			// Etcd, master and Harbor certificates carry the node's name.
			return nil, fmt.Errorf("cluster: %s %d must be named %q, not %q", n.Role, n.Index, host, n.Hostname)
		}
		if label(n.Hostname) != n.Hostname || len(n.Hostname) > 63 {
			return nil, fmt.Errorf("cluster: %q is not a valid hostname", n.Hostname)
		}
		host = n.Hostname
	}
	n.Hostname, n.IP = host, ip

	// disable_root false: the SSH key logs in as root too, Photon OS's usual user.
	cc := cloudConfig{Hostname: host, DisableRoot: false}
	if k := strings.TrimSpace(spec.SSHKey); k != "" {
		cc.SSHAuthorizedKeys = []string{k}
	}
	var trusted []string
	if phone.CAPEM != "" {
		trusted = append(trusted, phone.CAPEM)
		cc.WriteFiles = append(cc.WriteFiles, public(photonCA, phone.CAPEM))
	}
	if spec.Type == Kubernetes && spec.RegistryCACert != "" && n.Role != RoleEtcd {
		trusted = append(trusted, spec.RegistryCACert)
	}
	if len(trusted) > 0 {
		cc.CACerts = &caCerts{Trusted: trusted}
	}

	var runcmd [][]string
	if ip != "" && spec.Netmask != "" {
		f, err := networkFile(spec, ip)
		if err != nil {
			return nil, err
		}
		cc.WriteFiles = append(cc.WriteFiles, f)
		runcmd = append(runcmd, []string{"systemctl", "restart", "systemd-networkd"})
	}

	var files []writeFile
	var script string
	switch n.Role {
	case RoleEtcd:
		files, script = etcdNode(spec, p, n)
	case RoleMaster, RoleWorker:
		files, script, err = kubeNode(spec, p, n)
	case RoleHarbor:
		files, script = harborNode(spec, p, n)
	}
	if err != nil {
		return nil, err
	}
	cc.WriteFiles = append(cc.WriteFiles, files...)
	cc.WriteFiles = append(cc.WriteFiles,
		writeFile{Path: bootstrapPath, Content: bootstrapHead + script, Owner: "root:root", Permissions: "0700"},
		writeFile{Path: reportPath, Content: reportScript(n, phone), Owner: "root:root", Permissions: "0700"},
		public("/etc/systemd/system/photon-report.service", reportService),
		public("/etc/systemd/system/photon-report.timer", reportTimer(phone.ReportEvery)),
	)
	cc.RunCmd = append(runcmd,
		[]string{"systemctl", "daemon-reload"},
		[]string{"systemctl", "enable", "--now", "photon-report.timer"},
		[]string{bootstrapPath},
	)
	cc.PhoneHome = phoneHome{URL: phone.URL, Post: []string{"instance_id", "hostname"}, Tries: 10}

	var buf bytes.Buffer
	buf.WriteString("#cloud-config\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(cc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// nodeIP is the node's address: the Spec's for the roles whose certificates name it,
// Node.IP (maybe "" for DHCP) for workers.
func nodeIP(spec Spec, p *PKI, n Node) (string, error) {
	want := ""
	switch {
	case spec.Type == Kubernetes && n.Role == RoleEtcd:
		if n.Index < 1 || n.Index > len(spec.EtcdIPs) || n.Index > len(p.Etcd) {
			return "", fmt.Errorf("cluster: no etcd %d in this service", n.Index)
		}
		want = spec.EtcdIPs[n.Index-1]
	case spec.Type == Kubernetes && n.Role == RoleMaster:
		if n.Index < 1 || n.Index > len(spec.MasterIPs) {
			return "", fmt.Errorf("cluster: no master %d in this service", n.Index)
		}
		want = spec.MasterIPs[n.Index-1]
	case spec.Type == Kubernetes && n.Role == RoleWorker:
		if n.Index < 1 {
			return "", fmt.Errorf("cluster: worker index %d is not positive", n.Index)
		}
		if n.IP != "" && net.ParseIP(n.IP) == nil {
			return "", fmt.Errorf("cluster: worker address %q is not an IP address", n.IP)
		}
		return n.IP, nil
	case spec.Type == Harbor && n.Role == RoleHarbor:
		if n.Index != 1 {
			return "", fmt.Errorf("cluster: a HARBOR service has one node, not %d", n.Index)
		}
		if spec.AdminPassword == "" {
			return "", fmt.Errorf("cluster: a HARBOR service needs an AdminPassword")
		}
		want = spec.HarborIP
	default:
		return "", fmt.Errorf("cluster: a %s service has no %q nodes", spec.Type, n.Role)
	}
	if n.IP != "" && n.IP != want {
		return "", fmt.Errorf("cluster: %s %d has address %s in the service, not %s", n.Role, n.Index, want, n.IP)
	}
	return want, nil
}

func public(path, content string) writeFile {
	return writeFile{Path: path, Content: content, Owner: "root:root", Permissions: "0644"}
}

func secret(path, content string) writeFile {
	return writeFile{Path: path, Content: content, Owner: "root:root", Permissions: "0600"}
}

// pairFiles writes a certificate (0644) and its key (0600) as <base>.crt and <base>.key.
func pairFiles(base string, kp KeyPair) []writeFile {
	return []writeFile{public(base+".crt", kp.Cert), secret(base+".key", kp.Key)}
}

// networkFile is a systemd-networkd file giving the node its static address. networkd
// uses the first file, in name order, that matches an interface: this one sorts before
// Photon OS's 99-dhcp-en.network and cloud-init's fallback 10-cloud-init-<if>.network.
func networkFile(spec Spec, ip string) (writeFile, error) {
	prefix, err := prefixLen(spec.Netmask)
	if err != nil {
		return writeFile{}, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[Match]\nName=e*\n\n[Network]\nAddress=%s/%d\n", ip, prefix)
	if spec.Gateway != "" {
		fmt.Fprintf(&b, "Gateway=%s\n", spec.Gateway)
	}
	for _, d := range strings.FieldsFunc(spec.DNS, func(r rune) bool { return r == ',' || r == ' ' }) {
		fmt.Fprintf(&b, "DNS=%s\n", d)
	}
	return public("/etc/systemd/network/00-photon-static.network", b.String()), nil
}

// bootstrapHead starts every node's bootstrap script: it records how the script ended
// for photon-report, and opens the firewall, which on Photon OS admits only SSH.
const bootstrapHead = `#!/bin/sh
# Run once by cloud-init: sets this node up for its role.
set -eu
mkdir -p /var/lib/photon
trap 'echo $? > ` + bootstrapRC + `' EXIT

# allow PORT...: admit TCP to these ports; allow all: admit and forward everything.
allow() {
  command -v iptables >/dev/null || return 0
  if [ "$1" = all ]; then
    iptables -P INPUT ACCEPT
    iptables -P FORWARD ACCEPT
  else
    for port in "$@"; do
      iptables -C INPUT -p tcp --dport "$port" -j ACCEPT 2>/dev/null || iptables -I INPUT -p tcp --dport "$port" -j ACCEPT
    done
  fi
  if [ -f /etc/systemd/scripts/ip4save ]; then iptables-save > /etc/systemd/scripts/ip4save; fi
}

`

func etcdNode(spec Spec, p *PKI, n Node) ([]writeFile, string) {
	m := p.Etcd[n.Index-1]
	files := []writeFile{public(etcdPKI+"/ca.crt", p.EtcdCA.Cert)}
	files = append(files, pairFiles(etcdPKI+"/server", m.Server)...)
	files = append(files, pairFiles(etcdPKI+"/peer", m.Peer)...)

	var members []string
	for i, ip := range spec.EtcdIPs {
		members = append(members, Hostname(spec, RoleEtcd, i+1)+"=https://"+net.JoinHostPort(ip, "2380"))
	}
	client := "https://" + net.JoinHostPort(n.IP, "2379")
	peer := "https://" + net.JoinHostPort(n.IP, "2380")
	args := []string{
		"--name=" + n.Hostname,
		"--data-dir=/var/lib/etcd",
		"--listen-client-urls=" + client + ",https://127.0.0.1:2379",
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=" + strings.Join(members, ","),
		"--initial-cluster-token=" + serviceLabel(Spec{Name: spec.ServiceID}),
		"--initial-cluster-state=new",
		"--client-cert-auth",
		"--trusted-ca-file=" + etcdPKI + "/ca.crt",
		"--cert-file=" + etcdPKI + "/server.crt",
		"--key-file=" + etcdPKI + "/server.key",
		"--peer-client-cert-auth",
		"--peer-trusted-ca-file=" + etcdPKI + "/ca.crt",
		"--peer-cert-file=" + etcdPKI + "/peer.crt",
		"--peer-key-file=" + etcdPKI + "/peer.key",
	}
	unit := "[Unit]\nDescription=etcd member " + n.Hostname + "\nWants=network-online.target\nAfter=network-online.target\n\n" +
		"[Service]\nType=notify\nExecStart=/usr/bin/etcd \\\n  " + strings.Join(args, " \\\n  ") + "\n" +
		"Restart=always\nRestartSec=5\nLimitNOFILE=65536\n\n[Install]\nWantedBy=multi-user.target\n"
	files = append(files, public("/etc/systemd/system/etcd.service", unit))

	// --no-block: etcd reports ready only once a quorum of members is up, and the
	// others may still be booting.
	script := "allow 2379 2380\nsystemctl enable etcd\nsystemctl start --no-block etcd\n"
	return files, script
}

func kubeNode(spec Spec, p *PKI, n Node) ([]writeFile, string, error) {
	files := []writeFile{
		public("/etc/modules-load.d/kubernetes.conf", "overlay\nbr_netfilter\n"),
		public("/etc/sysctl.d/kubernetes.conf", "net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n"),
		public("/etc/containerd/config.toml", containerdConfig),
	}
	if spec.RegistryCACert != "" {
		// A hosts directory without hosts.toml takes its *.crt as CAs (Docker's layout);
		// _default applies it to every registry, on top of the system roots.
		files = append(files, public("/etc/containerd/certs.d/_default/registry-ca.crt", spec.RegistryCACert))
	}
	if n.Role == RoleMaster {
		// Every master gets every shared certificate, so a joining master needs no
		// certificate upload from master 1.
		files = append(files,
			public(kubePKI+"/ca.crt", p.CA.Cert), secret(kubePKI+"/ca.key", p.CA.Key),
			public(kubePKI+"/front-proxy-ca.crt", p.FrontProxyCA.Cert), secret(kubePKI+"/front-proxy-ca.key", p.FrontProxyCA.Key),
			public(kubePKI+"/sa.pub", p.ServiceAccount.Cert), secret(kubePKI+"/sa.key", p.ServiceAccount.Key),
			public(kubePKI+"/etcd/ca.crt", p.EtcdCA.Cert),
		)
		files = append(files, pairFiles(kubePKI+"/apiserver", p.APIServer)...)
		files = append(files, pairFiles(kubePKI+"/apiserver-kubelet-client", p.APIServerKubeletClient)...)
		files = append(files, pairFiles(kubePKI+"/apiserver-etcd-client", p.APIServerEtcdClient)...)
		files = append(files, pairFiles(kubePKI+"/front-proxy-client", p.FrontProxyClient)...)
	}
	// Workers get no certificate: kubeadm join fetches the CA (pinned by its hash) and
	// refuses to run if ca.crt is already there.
	cfg, err := kubeadmYAML(spec, p, n)
	if err != nil {
		return nil, "", err
	}
	files = append(files, secret(kubeadmConfig, cfg))

	var s strings.Builder
	s.WriteString("allow all\nswapoff -a\nmodprobe overlay\nmodprobe br_netfilter\nsysctl --system >/dev/null\n")
	s.WriteString("systemctl enable containerd kubelet\nsystemctl restart containerd\n")
	if n.Role == RoleMaster && n.Index == 1 {
		var eps []string
		for _, ip := range spec.EtcdIPs {
			eps = append(eps, "https://"+net.JoinHostPort(ip, "2379"))
		}
		// kubeadm init checks etcd before anything else, and the etcd nodes boot with us.
		fmt.Fprintf(&s, `etcd_healthy() {
  for ep in %s; do
    curl -sf --max-time 5 --cacert %s/etcd/ca.crt --cert %s/apiserver-etcd-client.crt --key %s/apiserver-etcd-client.key "$ep/health" >/dev/null && return 0
  done
  return 1
}
tries=0
until etcd_healthy; do
  tries=$((tries + 1))
  if [ "$tries" -ge 180 ]; then echo "etcd not healthy after 30 minutes" >&2; exit 1; fi
  sleep 10
done
kubeadm init --config %s
if [ -d %s ]; then kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f %s; fi
`, strings.Join(eps, " "), kubePKI, kubePKI, kubePKI, kubeadmConfig, addonsDir, addonsDir)
	} else {
		fmt.Fprintf(&s, "kubeadm join --config %s\n", kubeadmConfig)
	}
	return files, s.String(), nil
}

// containerdConfig runs containers under the systemd cgroup driver, kubeadm's default
// for the kubelet, and reads per-registry settings from certs.d.
const containerdConfig = `version = 2

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true

[plugins."io.containerd.grpc.v1.cri".registry]
  config_path = "/etc/containerd/certs.d"
`

// kubeadm's v1beta3 configuration, the one Kubernetes 1.30 reads, as far as it is used.
type (
	kubeadmHeader struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	clusterConfiguration struct {
		kubeadmHeader        `yaml:",inline"`
		ClusterName          string `yaml:"clusterName"`
		KubernetesVersion    string `yaml:"kubernetesVersion"`
		ControlPlaneEndpoint string `yaml:"controlPlaneEndpoint"`
		CertificatesDir      string `yaml:"certificatesDir"`
		Networking           struct {
			PodSubnet     string `yaml:"podSubnet"`
			ServiceSubnet string `yaml:"serviceSubnet"`
			DNSDomain     string `yaml:"dnsDomain"`
		} `yaml:"networking"`
		Etcd struct {
			External struct {
				Endpoints []string `yaml:"endpoints"`
				CAFile    string   `yaml:"caFile"`
				CertFile  string   `yaml:"certFile"`
				KeyFile   string   `yaml:"keyFile"`
			} `yaml:"external"`
		} `yaml:"etcd"`
		APIServer struct {
			CertSANs []string `yaml:"certSANs"`
		} `yaml:"apiServer"`
	}
	bootstrapToken struct {
		Token       string   `yaml:"token"`
		Description string   `yaml:"description"`
		TTL         string   `yaml:"ttl"`
		Usages      []string `yaml:"usages"`
		Groups      []string `yaml:"groups"`
	}
	apiEndpoint struct {
		AdvertiseAddress string `yaml:"advertiseAddress"`
		BindPort         int    `yaml:"bindPort"`
	}
	nodeRegistration struct {
		Name      string `yaml:"name"`
		CRISocket string `yaml:"criSocket"`
	}
	initConfiguration struct {
		kubeadmHeader    `yaml:",inline"`
		BootstrapTokens  []bootstrapToken `yaml:"bootstrapTokens"`
		LocalAPIEndpoint apiEndpoint      `yaml:"localAPIEndpoint"`
		NodeRegistration nodeRegistration `yaml:"nodeRegistration"`
	}
	joinConfiguration struct {
		kubeadmHeader `yaml:",inline"`
		Discovery     struct {
			BootstrapToken struct {
				APIServerEndpoint string   `yaml:"apiServerEndpoint"`
				Token             string   `yaml:"token"`
				CACertHashes      []string `yaml:"caCertHashes"`
			} `yaml:"bootstrapToken"`
			// Long enough for master 1 to come up: every node boots at once.
			Timeout string `yaml:"timeout"`
		} `yaml:"discovery"`
		NodeRegistration nodeRegistration `yaml:"nodeRegistration"`
		ControlPlane     *struct {
			LocalAPIEndpoint apiEndpoint `yaml:"localAPIEndpoint"`
		} `yaml:"controlPlane,omitempty"`
	}
)

// kubeadmYAML is master 1's ClusterConfiguration and InitConfiguration, or the other
// nodes' JoinConfiguration (a joining node reads the ClusterConfiguration from the
// cluster, and kubeadm join takes only a JoinConfiguration).
func kubeadmYAML(spec Spec, p *PKI, n Node) (string, error) {
	const v1beta3 = "kubeadm.k8s.io/v1beta3"
	endpoint := net.JoinHostPort(spec.LoadBalancerIP, "6443")
	reg := nodeRegistration{Name: n.Hostname, CRISocket: containerdSock}
	var docs []any
	if n.Role == RoleMaster && n.Index == 1 {
		var c clusterConfiguration
		c.kubeadmHeader = kubeadmHeader{v1beta3, "ClusterConfiguration"}
		c.ClusterName = serviceLabel(spec)
		c.KubernetesVersion = spec.KubernetesVersion
		c.ControlPlaneEndpoint = endpoint
		c.CertificatesDir = kubePKI
		c.Networking.PodSubnet, c.Networking.ServiceSubnet, c.Networking.DNSDomain = spec.ContainerNetwork, spec.ServiceCIDR, "cluster.local"
		for _, ip := range spec.EtcdIPs {
			c.Etcd.External.Endpoints = append(c.Etcd.External.Endpoints, "https://"+net.JoinHostPort(ip, "2379"))
		}
		c.Etcd.External.CAFile = kubePKI + "/etcd/ca.crt"
		c.Etcd.External.CertFile = kubePKI + "/apiserver-etcd-client.crt"
		c.Etcd.External.KeyFile = kubePKI + "/apiserver-etcd-client.key"
		c.APIServer.CertSANs = []string{spec.LoadBalancerIP, serviceLabel(spec)}
		docs = append(docs, c, initConfiguration{
			kubeadmHeader: kubeadmHeader{v1beta3, "InitConfiguration"},
			// The token never expires ("0s"): workers of the service may be added at any time.
			BootstrapTokens: []bootstrapToken{{
				Token: p.BootstrapToken, Description: "Photon service " + spec.ServiceID, TTL: "0s",
				Usages: []string{"signing", "authentication"},
				Groups: []string{"system:bootstrappers:kubeadm:default-node-token"},
			}},
			LocalAPIEndpoint: apiEndpoint{AdvertiseAddress: n.IP, BindPort: 6443},
			NodeRegistration: reg,
		})
	} else {
		hash, err := caCertHash(p.CA.Cert)
		if err != nil {
			return "", err
		}
		var j joinConfiguration
		j.kubeadmHeader = kubeadmHeader{v1beta3, "JoinConfiguration"}
		j.Discovery.BootstrapToken.APIServerEndpoint = endpoint
		j.Discovery.BootstrapToken.Token = p.BootstrapToken
		j.Discovery.BootstrapToken.CACertHashes = []string{hash}
		j.Discovery.Timeout = "30m0s"
		j.NodeRegistration = reg
		if n.Role == RoleMaster {
			j.ControlPlane = &struct {
				LocalAPIEndpoint apiEndpoint `yaml:"localAPIEndpoint"`
			}{apiEndpoint{AdvertiseAddress: n.IP, BindPort: 6443}}
		}
		docs = append(docs, j)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return "", err
		}
	}
	if err := enc.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// harborYAML is the part of Harbor's harbor.yml its prepare step needs.
type harborYAML struct {
	Hostname string `yaml:"hostname"`
	HTTP     struct {
		Port int `yaml:"port"`
	} `yaml:"http"`
	HTTPS struct {
		Port        int    `yaml:"port"`
		Certificate string `yaml:"certificate"`
		PrivateKey  string `yaml:"private_key"`
	} `yaml:"https"`
	AdminPassword string `yaml:"harbor_admin_password"`
	Database      struct {
		Password     string `yaml:"password"`
		MaxIdleConns int    `yaml:"max_idle_conns"`
		MaxOpenConns int    `yaml:"max_open_conns"`
	} `yaml:"database"`
	DataVolume string `yaml:"data_volume"`
	Jobservice struct {
		MaxJobWorkers int      `yaml:"max_job_workers"`
		JobLoggers    []string `yaml:"job_loggers"`
		SweeperDays   int      `yaml:"logger_sweeper_duration"`
	} `yaml:"jobservice"`
	Notification struct {
		WebhookJobMaxRetry          int `yaml:"webhook_job_max_retry"`
		WebhookJobHTTPClientTimeout int `yaml:"webhook_job_http_client_timeout"`
	} `yaml:"notification"`
	Log struct {
		Level string `yaml:"level"`
		Local struct {
			RotateCount int    `yaml:"rotate_count"`
			RotateSize  string `yaml:"rotate_size"`
			Location    string `yaml:"location"`
		} `yaml:"local"`
	} `yaml:"log"`
	Version string `yaml:"_version"`
}

func harborNode(spec Spec, p *PKI, n Node) ([]writeFile, string) {
	var h harborYAML
	h.Hostname = spec.HarborIP
	h.HTTP.Port = 80
	h.HTTPS.Port = 443
	h.HTTPS.Certificate = harborPKI + "/harbor.crt"
	h.HTTPS.PrivateKey = harborPKI + "/harbor.key"
	h.AdminPassword = spec.AdminPassword
	h.Database.Password, h.Database.MaxIdleConns, h.Database.MaxOpenConns = p.HarborDBPW, 100, 900
	h.DataVolume = "/data"
	h.Jobservice.MaxJobWorkers, h.Jobservice.JobLoggers, h.Jobservice.SweeperDays = 10, []string{"STD_OUTPUT", "FILE"}, 1
	h.Notification.WebhookJobMaxRetry, h.Notification.WebhookJobHTTPClientTimeout = 3, 3
	h.Log.Level = "info"
	h.Log.Local.RotateCount, h.Log.Local.RotateSize, h.Log.Local.Location = 50, "200M", "/var/log/harbor"
	h.Version = "2.10.0"
	cfg, _ := yaml.Marshal(h) // plain structs of strings and ints always marshal

	files := []writeFile{public(harborPKI+"/ca.crt", p.CA.Cert)}
	files = append(files, pairFiles(harborPKI+"/harbor", p.Harbor)...)
	files = append(files, secret(harborDir+"/harbor.yml", string(cfg)))
	script := "allow 80 443\nsystemctl enable --now docker\ncd " + harborDir + "\n./install.sh\n"
	return files, script
}

// reportScript is what photon-report.timer runs: a POST of the node's identity, how its
// bootstrap ended and whether its role's service answers.
func reportScript(n Node, phone Phone) string {
	var health string
	switch n.Role {
	case RoleEtcd:
		health = "systemctl is-active --quiet etcd"
	case RoleMaster:
		health = "systemctl is-active --quiet kubelet && curl -skf --max-time 5 https://127.0.0.1:6443/healthz >/dev/null"
	case RoleWorker:
		health = "systemctl is-active --quiet kubelet"
	case RoleHarbor:
		health = "curl -skf --max-time 5 https://127.0.0.1/api/v2.0/ping >/dev/null"
	}
	cacert := ""
	if phone.CAPEM != "" {
		cacert = " --cacert " + photonCA
	}
	return `#!/bin/sh
# Run by photon-report.timer: tells Photon this node is alive and how it is doing.
bootstrap=running
if [ -f ` + bootstrapRC + ` ]; then bootstrap=$(cat ` + bootstrapRC + `); fi
healthy=false
if ` + health + `; then healthy=true; fi
exec curl -fsS --max-time 30` + cacert + ` \
  --data-urlencode instance_id=` + shq(n.VMID) + ` \
  --data-urlencode "hostname=$(hostname)" \
  --data-urlencode role=` + shq(n.Role) + ` \
  --data-urlencode "bootstrap=$bootstrap" \
  --data-urlencode "healthy=$healthy" \
  ` + shq(phone.URL) + "\n"
}

const reportService = `[Unit]
Description=Report this node's health to Photon
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=` + reportPath + `
`

func reportTimer(every time.Duration) string {
	secs := max(int(every.Round(time.Second)/time.Second), 1)
	return `[Unit]
Description=Report this node's health to Photon every ` + strconv.Itoa(secs) + `s

[Timer]
OnActiveSec=1s
OnUnitActiveSec=` + strconv.Itoa(secs) + `s
AccuracySec=1s

[Install]
WantedBy=timers.target
`
}

// shq quotes s for a POSIX shell.
func shq(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// MetaData is the node's guestinfo.metadata for cloud-init's VMware datasource (JSON,
// which it reads as YAML): instance-id and local-hostname.
func MetaData(n Node) []byte {
	b, _ := json.Marshal(struct {
		InstanceID    string `json:"instance-id"`
		LocalHostname string `json:"local-hostname,omitempty"`
	}{n.VMID, n.Hostname}) // two strings always marshal
	return b
}
