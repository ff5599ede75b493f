package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// udCase is one node whose user data is rendered and checked.
type udCase struct {
	name  string
	spec  Spec
	node  Node
	phone Phone
	// want maps a written file to text it must contain; absent lists path prefixes that
	// must not be written.
	want   map[string][]string
	absent []string
}

var (
	casesOnce sync.Once
	kubePKI_  *PKI
	harbPKI_  *PKI
	photonCA_ string // stands for the CA of Photon's endpoint
)

// udCases is every role, with and without a registry CA, with and without static addresses.
func udCases(t *testing.T) []udCase {
	casesOnce.Do(func() {
		kubePKI_, harbPKI_ = mustPKI(t, kubeSpec()), mustPKI(t, harborSpec())
		photonCA_ = mustPKI(t, harborSpec()).CAPEM()
	})
	phone := Phone{URL: "https://photon.example:9000/v1/services/s1/nodes/vm-1/phone?token=tok'en", CAPEM: photonCA_, ReportEvery: 45 * time.Second}
	k, h := kubeSpec(), harborSpec()
	reg := kubeSpec()
	reg.RegistryCACert = harbPKI_.CAPEM()
	dhcp := kubeSpec()
	dhcp.Netmask, dhcp.SSHKey = "", ""
	noCA := phone
	noCA.CAPEM = ""

	etcd := udCase{name: "etcd-1", spec: k, node: Node{Role: RoleEtcd, Index: 1, VMID: "vm-e1"}, phone: phone,
		want: map[string][]string{
			"/etc/etcd/pki/server.key": {"EC PRIVATE KEY"},
			"/etc/etcd/pki/peer.crt":   {"CERTIFICATE"},
			"/etc/systemd/system/etcd.service": {"--name=prod-k8s-etcd-1", "--listen-client-urls=https://192.168.10.21:2379,https://127.0.0.1:2379",
				"--initial-cluster=prod-k8s-etcd-1=https://192.168.10.21:2380,prod-k8s-etcd-2=https://192.168.10.22:2380,prod-k8s-etcd-3=https://192.168.10.23:2380",
				"--client-cert-auth", "--peer-client-cert-auth", "--trusted-ca-file=/etc/etcd/pki/ca.crt"},
			"/usr/local/sbin/photon-bootstrap":              {"allow 2379 2380", "systemctl start --no-block etcd"},
			"/etc/systemd/network/00-photon-static.network": {"Address=192.168.10.21/24", "Gateway=192.168.10.1", "DNS=192.168.10.1\nDNS=8.8.8.8\n"},
		},
		absent: []string{"/etc/kubernetes/", "/etc/containerd/"}}
	master1 := udCase{name: "master-1", spec: k, node: Node{Role: RoleMaster, Index: 1, VMID: "vm-m1", IP: "192.168.10.11"}, phone: phone,
		want: map[string][]string{
			"/etc/kubernetes/pki/ca.key":                    {"EC PRIVATE KEY"},
			"/etc/kubernetes/pki/sa.pub":                    {"PUBLIC KEY"},
			"/etc/kubernetes/pki/apiserver.crt":             {"CERTIFICATE"},
			"/etc/kubernetes/pki/apiserver-etcd-client.key": {"EC PRIVATE KEY"},
			"/etc/kubernetes/pki/front-proxy-client.crt":    {"CERTIFICATE"},
			"/etc/kubernetes/pki/etcd/ca.crt":               {"CERTIFICATE"},
			"/etc/kubernetes/kubeadm.yaml": {"kind: ClusterConfiguration", "kind: InitConfiguration", "controlPlaneEndpoint: 192.168.10.5:6443",
				"- https://192.168.10.21:2379", "certFile: /etc/kubernetes/pki/apiserver-etcd-client.crt", "podSubnet: 10.2.0.0/16",
				"serviceSubnet: 10.0.0.0/24", "kubernetesVersion: v1.30.0", "token: " + kubePKI_.BootstrapToken, "advertiseAddress: 192.168.10.11"},
			"/etc/containerd/config.toml":      {"SystemdCgroup = true", `config_path = "/etc/containerd/certs.d"`},
			"/usr/local/sbin/photon-bootstrap": {"until etcd_healthy", "kubeadm init --config /etc/kubernetes/kubeadm.yaml"},
		},
		absent: []string{"/etc/etcd/", "/etc/containerd/certs.d/"}}
	master2 := udCase{name: "master-2", spec: k, node: Node{Role: RoleMaster, Index: 2, VMID: "vm-m2"}, phone: phone,
		want: map[string][]string{
			"/etc/kubernetes/pki/ca.key":       {"EC PRIVATE KEY"},
			"/etc/kubernetes/kubeadm.yaml":     {"kind: JoinConfiguration", "controlPlane:", "advertiseAddress: 192.168.10.12", "apiServerEndpoint: 192.168.10.5:6443", "sha256:"},
			"/usr/local/sbin/photon-bootstrap": {"kubeadm join --config /etc/kubernetes/kubeadm.yaml"},
		}}
	worker := udCase{name: "worker-3", spec: k, node: Node{Role: RoleWorker, Index: 3, VMID: "vm-w3", IP: "192.168.10.43"}, phone: phone,
		want: map[string][]string{
			"/etc/kubernetes/kubeadm.yaml":                  {"kind: JoinConfiguration", "token: " + kubePKI_.BootstrapToken, "name: prod-k8s-worker-3"},
			"/usr/local/sbin/photon-bootstrap":              {"kubeadm join --config /etc/kubernetes/kubeadm.yaml"},
			"/etc/systemd/network/00-photon-static.network": {"Address=192.168.10.43/24"},
		},
		absent: []string{"/etc/kubernetes/pki/", "/etc/etcd/"}}
	dhcpWorker := udCase{name: "worker-1 DHCP, no SSH key, public Photon CA", spec: dhcp, node: Node{Role: RoleWorker, Index: 1, VMID: "vm-w1"}, phone: noCA,
		want:   map[string][]string{"/etc/kubernetes/kubeadm.yaml": {"kind: JoinConfiguration"}},
		absent: []string{"/etc/systemd/network/", "/etc/photon/ca.crt", "/etc/kubernetes/pki/"}}
	harbor := udCase{name: "harbor", spec: h, node: Node{Role: RoleHarbor, Index: 1, VMID: "vm-h1", Hostname: "registry-harbor-1"}, phone: phone,
		want: map[string][]string{
			"/etc/harbor/pki/harbor.key":       {"EC PRIVATE KEY"},
			"/etc/harbor/pki/harbor.crt":       {"CERTIFICATE"},
			"/opt/harbor/harbor.yml":           {"hostname: 192.168.10.30", "certificate: /etc/harbor/pki/harbor.crt", "private_key: /etc/harbor/pki/harbor.key", "harbor_admin_password: Harbor12345!", "password: " + harbPKI_.HarborDBPW},
			"/usr/local/sbin/photon-bootstrap": {"allow 80 443", "./install.sh"},
		},
		absent: []string{"/etc/kubernetes/", "/etc/etcd/", "/etc/containerd/"}}

	cases := []udCase{etcd, master1, master2, worker, dhcpWorker, harbor}
	// The Kubernetes roles again with a Harbor's CA to trust.
	for _, c := range []udCase{etcd, master1, master2, worker} {
		c.name += " with registry CA"
		c.spec = reg
		if c.node.Role != RoleEtcd {
			c.want = map[string][]string{"/etc/containerd/certs.d/_default/registry-ca.crt": {harbPKI_.CAPEM()}}
			c.absent = nil
		}
		cases = append(cases, c)
	}
	return cases
}

func (c udCase) pki() *PKI {
	if c.spec.Type == Harbor {
		return harbPKI_
	}
	return kubePKI_
}

func render(t *testing.T, c udCase) []byte {
	t.Helper()
	b, err := UserData(c.spec, c.pki(), c.node, c.phone)
	if err != nil {
		t.Fatalf("UserData: %v", err)
	}
	return b
}

func TestUserData(t *testing.T) {
	for _, c := range udCases(t) {
		t.Run(c.name, func(t *testing.T) {
			b := render(t, c)
			if again := render(t, c); !bytes.Equal(b, again) {
				t.Fatal("two renderings of the same node differ")
			}
			if !bytes.HasPrefix(b, []byte("#cloud-config\n")) {
				t.Fatalf("no #cloud-config header: %.40q", b)
			}
			var doc yaml.Node
			if err := yaml.Unmarshal(b, &doc); err != nil {
				t.Fatalf("not YAML: %v", err)
			}
			var cc cloudConfig
			if err := doc.Decode(&cc); err != nil {
				t.Fatal(err)
			}
			top := doc.Content[0].Content
			if last := top[len(top)-2].Value; last != "phone_home" {
				t.Errorf("the cloud-config ends with %q, not phone_home", last)
			}
			want := phoneHome{URL: c.phone.URL, Post: []string{"instance_id", "hostname"}, Tries: 10}
			if !slices.Equal(cc.PhoneHome.Post, want.Post) || cc.PhoneHome.URL != want.URL || cc.PhoneHome.Tries != want.Tries {
				t.Errorf("phone_home %+v, want %+v", cc.PhoneHome, want)
			}
			if cc.Hostname != Hostname(c.spec, c.node.Role, c.node.Index) {
				t.Errorf("hostname %q", cc.Hostname)
			}
			if (c.spec.SSHKey != "") != slices.Equal(cc.SSHAuthorizedKeys, []string{c.spec.SSHKey}) {
				t.Errorf("ssh_authorized_keys %q", cc.SSHAuthorizedKeys)
			}
			var trusted []string
			if cc.CACerts != nil {
				trusted = cc.CACerts.Trusted
			}
			if has := slices.Contains(trusted, c.phone.CAPEM); has != (c.phone.CAPEM != "") {
				t.Errorf("Photon's CA trusted: %v", has)
			}
			wantReg := c.spec.RegistryCACert != "" && c.node.Role != RoleEtcd
			if has := c.spec.RegistryCACert != "" && slices.Contains(trusted, c.spec.RegistryCACert); has != wantReg {
				t.Errorf("registry CA trusted: %v, want %v", has, wantReg)
			}
			if !slices.ContainsFunc(cc.RunCmd, func(cmd []string) bool {
				return slices.Equal(cmd, []string{"systemctl", "enable", "--now", "photon-report.timer"})
			}) {
				t.Errorf("runcmd does not start the photon-report timer: %q", cc.RunCmd)
			}

			files := map[string]writeFile{}
			for _, f := range cc.WriteFiles {
				if _, dup := files[f.Path]; dup {
					t.Errorf("%s written twice", f.Path)
				}
				files[f.Path] = f
				secretFile := strings.HasSuffix(f.Path, ".key") || strings.HasSuffix(f.Path, ".yaml") || strings.HasSuffix(f.Path, ".yml")
				if secretFile && f.Permissions != "0600" || strings.Contains(f.Path, "/sbin/") && f.Permissions != "0700" {
					t.Errorf("%s has mode %s", f.Path, f.Permissions)
				}
				for _, p := range c.absent {
					if strings.HasPrefix(f.Path, p) {
						t.Errorf("%s is written, nothing under %s should be", f.Path, p)
					}
				}
			}
			want2 := map[string][]string{
				"/etc/systemd/system/photon-report.timer":   {"OnUnitActiveSec=45s", "WantedBy=timers.target"},
				"/etc/systemd/system/photon-report.service": {"ExecStart=/usr/local/sbin/photon-report"},
				"/usr/local/sbin/photon-report":             {shq(c.phone.URL), "instance_id=" + shq(c.node.VMID)},
			}
			for p, subs := range c.want {
				want2[p] = subs
			}
			for p, subs := range want2 {
				f, ok := files[p]
				if !ok {
					t.Errorf("%s is not written", p)
					continue
				}
				for _, s := range subs {
					if !strings.Contains(f.Content, s) {
						t.Errorf("%s lacks %q:\n%s", p, s, f.Content)
					}
				}
			}
			checkScripts(t, c, files)
			if f, ok := files[kubeadmConfig]; ok {
				checkKubeadm(t, c, f.Content)
			}
		})
	}
}

// checkScripts has the shell parse the node's scripts (sh -n) and runs the report
// script with stand-ins for systemctl and curl, to see what it would send.
func checkScripts(t *testing.T, c udCase, files map[string]writeFile) {
	t.Helper()
	for _, p := range []string{bootstrapPath, reportPath} {
		cmd := exec.CommandContext(t.Context(), "sh", "-n")
		cmd.Stdin = strings.NewReader(files[p].Content)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s does not parse: %v\n%s", p, err, out)
		}
	}
	bin := t.TempDir()
	stubs := map[string]string{
		"systemctl": "#!/bin/sh\nexit 3\n", // the role's service is not running
		// Health probes of local services fail; the report prints one argument a line.
		"curl": "#!/bin/sh\ncase \"$*\" in *127.0.0.1*) exit 7;; esac\nprintf '%s\\n' \"$@\"\n",
	}
	for name, body := range stubs {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.CommandContext(t.Context(), "sh", "-c", files[reportPath].Content)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("report script: %v", err)
	}
	args := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for _, want := range []string{"instance_id=" + c.node.VMID, "role=" + c.node.Role, "bootstrap=running", "healthy=false"} {
		if i := slices.Index(args, want); i < 1 || args[i-1] != "--data-urlencode" {
			t.Errorf("the report does not post %q: %q", want, args)
		}
	}
	if args[len(args)-1] != c.phone.URL {
		t.Errorf("the report goes to %q, not %q", args[len(args)-1], c.phone.URL)
	}
	if i := slices.Index(args, "--cacert"); (i >= 0) != (c.phone.CAPEM != "") {
		t.Errorf("--cacert in the report's curl: %v, Photon CA given: %v", i >= 0, c.phone.CAPEM != "")
	}
}

// checkKubeadm parses the kubeadm configuration and checks the join discovery pin.
func checkKubeadm(t *testing.T, c udCase, content string) {
	t.Helper()
	dec := yaml.NewDecoder(strings.NewReader(content))
	var kinds []string
	for {
		var d struct {
			Kind      string `yaml:"kind"`
			Discovery struct {
				BootstrapToken struct {
					CACertHashes []string `yaml:"caCertHashes"`
				} `yaml:"bootstrapToken"`
			} `yaml:"discovery"`
		}
		if err := dec.Decode(&d); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("kubeadm config is not YAML: %v", err)
			}
			break
		}
		kinds = append(kinds, d.Kind)
		if d.Kind == "JoinConfiguration" {
			want, err := caCertHash(c.pki().CA.Cert)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Discovery.BootstrapToken.CACertHashes, []string{want}) {
				t.Errorf("caCertHashes %v, want [%s]", d.Discovery.BootstrapToken.CACertHashes, want)
			}
		}
	}
	want := []string{"JoinConfiguration"}
	if c.node.Role == RoleMaster && c.node.Index == 1 {
		want = []string{"ClusterConfiguration", "InitConfiguration"}
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("kubeadm config kinds %v, want %v", kinds, want)
	}
}

func TestUserDataRejects(t *testing.T) {
	udCases(t)
	k, h := kubeSpec(), harborSpec()
	phone := Phone{URL: "https://photon.example/phone?token=x"}
	noPW := h
	noPW.AdminPassword = ""
	tests := []struct {
		name  string
		spec  Spec
		p     *PKI
		node  Node
		phone Phone
	}{
		{"etcd index past the members", k, kubePKI_, Node{Role: RoleEtcd, Index: 4}, phone},
		{"master 0", k, kubePKI_, Node{Role: RoleMaster, Index: 0}, phone},
		{"master with another address", k, kubePKI_, Node{Role: RoleMaster, Index: 1, IP: "10.9.9.9"}, phone},
		{"master with another name", k, kubePKI_, Node{Role: RoleMaster, Index: 1, Hostname: "other"}, phone},
		{"worker with a bad name", k, kubePKI_, Node{Role: RoleWorker, Index: 1, Hostname: "Bad_Name"}, phone},
		{"harbor role in a Kubernetes service", k, kubePKI_, Node{Role: RoleHarbor, Index: 1}, phone},
		{"worker in a Harbor service", h, harbPKI_, Node{Role: RoleWorker, Index: 1}, phone},
		{"Harbor PKI for Kubernetes", k, harbPKI_, Node{Role: RoleWorker, Index: 1}, phone},
		{"no admin password", noPW, harbPKI_, Node{Role: RoleHarbor, Index: 1}, phone},
		{"no phone URL", k, kubePKI_, Node{Role: RoleWorker, Index: 1}, Phone{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := UserData(tt.spec, tt.p, tt.node, tt.phone); err == nil {
				t.Error("UserData accepted it")
			}
		})
	}
}

func TestMetaData(t *testing.T) {
	var md map[string]string
	if err := json.Unmarshal(MetaData(Node{VMID: "vm-7", Hostname: "prod-worker-7"}), &md); err != nil {
		t.Fatal(err)
	}
	if md["instance-id"] != "vm-7" || md["local-hostname"] != "prod-worker-7" || len(md) != 2 {
		t.Errorf("metadata %v", md)
	}
}

// TestUserDataSchema runs Debian's cloud-init schema validator on every rendered
// cloud-config, and on broken ones to show the validator does reject.
func TestUserDataSchema(t *testing.T) {
	bin, err := exec.LookPath("cloud-init")
	if err != nil {
		t.Fatal("cloud-init is not installed: `make deps` installs Debian's cloud-init package (apt-get install cloud-init)")
	}
	dir := t.TempDir()
	type job struct {
		name   string
		data   []byte
		reason string // "" for a valid config, else what the validator must say
	}
	var jobs []job
	for _, c := range udCases(t) {
		jobs = append(jobs, job{c.name, render(t, c), ""})
	}
	good := string(jobs[1].data) // master 1
	// Each broken config must fail for its own reason, named in the validator's output.
	breaks := []struct{ name, from, to, reason string }{
		{"tries not a number", "tries: 10", "tries: ten", "phone_home.tries"},
		{"unknown phone_home post field", "    - instance_id\n", "    - instance_uuid\n", "phone_home.post"},
		{"write_files entry without a path", "  - path: /etc/photon/ca.crt\n    content:", "  - content:", "'path' is a required property"},
		{"no #cloud-config header", "#cloud-config\n", "", `needs to begin with "#cloud-config"`},
		{"not YAML", "phone_home:\n", "phone_home: [\n", "is not valid yaml"},
	}
	for _, b := range breaks {
		if !strings.Contains(good, b.from) {
			t.Fatalf("%s: the rendered config has no %q to break", b.name, b.from)
		}
		jobs = append(jobs, job{"broken: " + b.name, []byte(strings.Replace(good, b.from, b.to, 1)), b.reason})
	}

	start := time.Now()
	t.Run("cloud-init schema", func(t *testing.T) {
		for _, j := range jobs {
			t.Run(j.name, func(t *testing.T) {
				t.Parallel()
				f := filepath.Join(dir, strings.NewReplacer(" ", "-", "/", "-").Replace(j.name)+".yaml")
				if err := os.WriteFile(f, j.data, 0o600); err != nil {
					t.Fatal(err)
				}
				out, err := exec.CommandContext(t.Context(), bin, "schema", "--config-file", f).CombinedOutput()
				var exit *exec.ExitError
				switch {
				case err != nil && !errors.As(err, &exit):
					t.Fatalf("running cloud-init: %v", err)
				case j.reason == "" && err != nil:
					t.Errorf("cloud-init schema rejects it: %v\n%s", err, out)
				case j.reason == "" && !strings.Contains(string(out), "Valid cloud-config"):
					t.Errorf("cloud-init schema says:\n%s", out)
				case j.reason != "" && err == nil:
					t.Errorf("cloud-init schema accepts a broken config:\n%s", out)
				case j.reason != "" && !strings.Contains(string(out), j.reason):
					t.Errorf("cloud-init schema rejects it, but not for %q:\n%s", j.reason, out)
				}
			})
		}
	})
	t.Logf("cloud-init schema checked %d configs in %v", len(jobs), time.Since(start).Round(time.Millisecond))
}
