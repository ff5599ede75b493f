package devcloud_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// photonCLI runs the built photon binary as a user would, with HOME of its own (the
// config file lives there).
type photonCLI struct {
	t    *testing.T
	bin  string
	home string
}

// run runs photon with args and answers stdout, stderr and the exit code.
func (p photonCLI) run(args ...string) (string, string, int) {
	p.t.Helper()
	cmd := exec.CommandContext(p.t.Context(), p.bin, args...)
	cmd.Env = append(os.Environ(), "HOME="+p.home)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("photon %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// ok runs photon and fails the test unless it exits 0; it answers stdout, trimmed.
func (p photonCLI) ok(args ...string) string {
	p.t.Helper()
	out, errs, code := p.run(args...)
	if code != 0 {
		p.t.Fatalf("photon %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return strings.TrimSpace(out)
}

// fails runs photon and checks its exit code and that stderr names the error code.
func (p photonCLI) fails(code int, want string, args ...string) {
	p.t.Helper()
	out, errs, got := p.run(args...)
	if got != code || !strings.Contains(errs, want) {
		p.t.Fatalf("photon %s: exit %d (want %d), stderr %q (want %q), stdout %q", strings.Join(args, " "), got, code, errs, want, out)
	}
}

// json runs photon -o json and decodes its answer.
func (p photonCLI) json(v any, args ...string) {
	p.t.Helper()
	out := p.ok(append([]string{"-o", "json"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		p.t.Fatalf("photon -o json %s: %v in %q", strings.Join(args, " "), err, out)
	}
}

// buildPhoton builds the photon binary into dir.
func buildPhoton(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv("PHOTON_BIN"); bin != "" {
		return bin // make test builds it once for every test that runs it
	}
	bin := filepath.Join(dir, "photon")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build photon: %v\n%s", err, out)
	}
	return bin
}

// TestCLIWalkthrough drives the README's walkthrough through the photon binary against a
// dev cloud over HTTPS: the administrator logs in with a password, makes a tenant, a
// project with a quota, flavors, an uploaded image, a VM (created STOPPED, started,
// stopped, deleted), a disk, a router with a subnet, and a second user who logs in and
// sees only the project they were given. Outputs are checked as tables, as -n lines
// and as the API's JSON; errors by their exit codes. The client package's example
// program runs against the same cloud.
func TestCLIWalkthrough(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin := buildPhoton(t, dir)
	c, _ := cloud(t, 2)
	api := c.HTTPSURL
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, c.TLS.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := photonCLI{t: t, bin: bin, home: t.TempDir()}

	// Usage errors exit 2, before any target is set.
	admin.fails(2, "no API target", "tenant", "list")
	admin.fails(2, "unknown command", "tenant", "lst")
	admin.fails(1, "not trusted", "-n", "target", "set", api)

	// Target and login: the config file keeps the target, the CA and the tokens, 0600.
	if out := admin.ok("target", "set", "--ca-file", caFile, api); !strings.Contains(out, "API target set to '"+api+"'") {
		t.Fatalf("target set: %q", out)
	}
	admin.ok("-n", "target", "login", "-u", "admin", "-p", "s3cret")
	st, err := os.Stat(filepath.Join(admin.home, ".photon-cli", ".photon-config"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v %v", st, err)
	}
	var cfg struct{ CloudTarget, Token, RefreshToken string }
	raw, _ := os.ReadFile(filepath.Join(admin.home, ".photon-cli", ".photon-config"))
	if json.Unmarshal(raw, &cfg) != nil || cfg.CloudTarget != api || cfg.Token == "" || cfg.RefreshToken == "" {
		t.Fatalf("config: %s", raw)
	}
	admin.fails(1, "invalid_grant", "-n", "target", "login", "-u", "admin", "-p", "wrong")
	admin.ok("-n", "target", "login", "-u", "admin", "-p", "s3cret")

	// Tenant and project with a quota.
	tenant := admin.ok("-n", "tenant", "create", "acme")
	admin.ok("tenant", "set", "acme")
	if out := admin.ok("tenant", "list"); !strings.Contains(out, "ID") || !strings.Contains(out, tenant+"  acme") || !strings.Contains(out, "Total: 1") {
		t.Fatalf("tenant list table:\n%s", out)
	}
	if out := admin.ok("-n", "tenant", "list"); out != tenant+"\tacme" {
		t.Fatalf("tenant list -n: %q", out)
	}
	project := admin.ok("-n", "project", "create", "-n", "web", "-l",
		"vm.count 10 COUNT, vm.memory 64 GB, vm.cpu 16 COUNT, ephemeral-disk 10 COUNT, ephemeral-disk.capacity 100 GB, persistent-disk 4 COUNT, persistent-disk.capacity 40 GB")
	admin.ok("project", "set", "web")
	var quota struct {
		QuotaItems map[string]struct {
			Unit         string
			Limit, Usage float64
		} `json:"quotaItems"`
	}
	admin.json(&quota, "project", "quota", "show", project)
	if q := quota.QuotaItems["vm.count"]; q.Limit != 10 || q.Unit != "COUNT" {
		t.Fatalf("quota: %+v", quota)
	}
	if out := admin.ok("project", "quota", "show", project); !strings.Contains(out, "vm.memory") || !strings.Contains(out, "Limit") {
		t.Fatalf("quota table:\n%s", out)
	}

	// Flavors and an image upload.
	admin.ok("-n", "flavor", "create", "-n", "small", "-k", "vm", "-c", "vm.cpu 1 COUNT, vm.memory 2 GB")
	admin.ok("-n", "flavor", "create", "-n", "disk", "-k", "ephemeral-disk", "-c", "ephemeral-disk 1 COUNT")
	admin.ok("-n", "flavor", "create", "-n", "pdisk", "-k", "persistent-disk", "-c", "persistent-disk 1 COUNT")
	var flavors []struct{ ID, Name, Kind string }
	admin.json(&flavors, "flavor", "list")
	if len(flavors) != 3 {
		t.Fatalf("flavors: %+v", flavors)
	}
	file := filepath.Join(dir, "photon-os.vmdk")
	if err := os.WriteFile(file, append([]byte("KDMV"), make([]byte, 4092)...), 0o600); err != nil {
		t.Fatal(err)
	}
	image := admin.ok("-n", "image", "create", file, "-n", "photon-os", "-i", "EAGER")
	var img struct{ ID, Name, State, ReplicationType string }
	admin.json(&img, "image", "show", image)
	if img.ID != image || img.Name != "photon-os" || img.State != "READY" || img.ReplicationType != "EAGER" {
		t.Fatalf("image: %+v", img)
	}

	// A VM: created STOPPED as Photon left it, started, stopped, deleted.
	vm := admin.ok("-n", "vm", "create", "-n", "web-1", "-f", "small", "-i", image, "-d", "boot disk boot=true, data disk 2")
	var v struct {
		ID, Name, State, Host string
		AttachedDisks         []struct{ Name string } `json:"attachedDisks"`
	}
	admin.json(&v, "vm", "show", vm)
	if v.State != "STOPPED" || v.Host == "" || len(v.AttachedDisks) != 2 {
		t.Fatalf("new VM: %+v", v)
	}
	if out := admin.ok("vm", "start", vm); out != "START_VM completed for 'vm' entity "+vm {
		t.Fatalf("vm start: %q", out)
	}
	admin.json(&v, "vm", "show", vm)
	if v.State != "STARTED" {
		t.Fatalf("started VM: %+v", v)
	}
	admin.fails(1, "StateError", "vm", "start", vm)
	admin.ok("-n", "vm", "stop", vm)
	if out := admin.ok("vm", "list"); !strings.Contains(out, vm+"  web-1  STOPPED") || !strings.Contains(out, "STOPPED: 1") {
		t.Fatalf("vm list:\n%s", out)
	}
	if out := admin.ok("vm", "networks", vm); !strings.Contains(out, "MAC Address") {
		t.Fatalf("vm networks:\n%s", out)
	}
	// An ISO uploaded to the VM's CD-ROM under the name given, then detached.
	iso := filepath.Join(dir, "tools.iso")
	if err := os.WriteFile(iso, bytes.Repeat([]byte("iso"), 4096), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := admin.ok("-n", "vm", "attach-iso", vm, "-p", iso, "-n", "guest-tools.iso"); out != vm {
		t.Fatalf("vm attach-iso: %q", out)
	}
	var withISO struct {
		AttachedIsos []struct{ Name string } `json:"attachedIsos"`
	}
	admin.json(&withISO, "vm", "show", vm)
	if len(withISO.AttachedIsos) != 1 || withISO.AttachedIsos[0].Name != "guest-tools.iso" {
		t.Fatalf("attached ISOs: %+v", withISO)
	}
	admin.ok("-n", "vm", "detach-iso", vm)
	if out := admin.ok("vm", "iam", "show", vm); !strings.Contains(out, "Principal") {
		t.Fatalf("vm iam show:\n%s", out)
	}
	admin.ok("-n", "vm", "delete", vm)
	admin.fails(1, "NotFound", "vm", "show", vm)

	// What the system is; the settings photon up owns answer NotImplemented, exit 1.
	var info struct{ FullVersion, NetworkType string }
	admin.json(&info, "target", "info")
	if info.FullVersion == "" || info.NetworkType == "" {
		t.Fatalf("target info: %+v", info)
	}
	if out := admin.ok("target", "info"); !strings.Contains(out, "Full Version:") || !strings.Contains(out, info.NetworkType) {
		t.Fatalf("target info:\n%s", out)
	}
	admin.ok("-n", "system", "list-vms")
	// A service type is usable once enabled with its image, and listed until disabled.
	admin.ok("-n", "system", "enable-service-type", "-k", "KUBERNETES", "-i", image)
	if out := admin.ok("-n", "system", "list-service-types"); out != "KUBERNETES\t"+image {
		t.Fatalf("list-service-types -n after enable: %q", out)
	}
	admin.ok("-n", "system", "disable-service-type", "-k", "KUBERNETES")
	if out := admin.ok("-n", "system", "list-service-types"); out != "" {
		t.Fatalf("list-service-types -n after disable: %q", out)
	}
	admin.fails(1, "error: NotImplemented: ", "-n", "infrastructure", "update-image-datastores", "-d", "datastore1")
	admin.fails(1, "error: NotImplemented: ", "-n", "system", "configure-nsx", "--nsx-address", "10.0.0.9", "--nsx-username", "admin", "--nsx-password", "x")
	// A registered host's provision completes at once: its hostd runs already.
	host, _, _ := strings.Cut(admin.ok("-n", "infrastructure", "list-hosts"), "\t")
	if out := admin.ok("-n", "host", "provision", host); out != host {
		t.Fatalf("host provision: %q", out)
	}

	// A persistent disk.
	disk := admin.ok("-n", "disk", "create", "-n", "data-1", "-f", "pdisk", "-c", "2")
	if out := admin.ok("-n", "disk", "list"); !strings.HasPrefix(out, disk+"\tdata-1\tDETACHED\t2") {
		t.Fatalf("disk list -n: %q", out)
	}
	if out := admin.ok("disk", "iam", "show", disk); !strings.Contains(out, "Principal") {
		t.Fatalf("disk iam show:\n%s", out)
	}
	admin.ok("-n", "disk", "delete", disk)

	// A router and a subnet.
	router := admin.ok("-n", "router", "create", "-n", "edge", "-i", "192.168.0.0/16")
	subnet := admin.ok("-n", "subnet", "create", "-n", "front", "-d", "web tier", "-i", "192.168.1.0/24", "-r", router)
	var subnets []struct{ ID, Name, PrivateIpCidr string }
	admin.json(&subnets, "subnet", "list", router)
	if len(subnets) != 1 || subnets[0].ID != subnet || subnets[0].PrivateIpCidr != "192.168.1.0/24" {
		t.Fatalf("subnets: %+v", subnets)
	}

	// A second user, given the project: they log in and see it, and nothing else.
	other := admin.ok("-n", "project", "create", "-n", "other", "-l", "vm.count 1 COUNT")
	admin.ok("-n", "user", "create", "bob@photon.local", "-p", "bobs-password")
	if out := admin.ok("user", "list"); !strings.Contains(out, "bob@photon.local") {
		t.Fatalf("user list:\n%s", out)
	}
	admin.ok("-n", "project", "iam", "add", project, "-p", "bob@photon.local", "-r", "contributor")
	bob := photonCLI{t: t, bin: bin, home: t.TempDir()}
	bob.ok("-n", "target", "set", "--pin", c.TLS.Pin(), api) // trusts the CA the server presents by its pin
	bob.ok("-n", "target", "login", "-u", "bob@photon.local", "-p", "bobs-password")
	bob.ok("-n", "project", "set", project)
	bob.ok("-n", "vm", "create", "-n", "bobs", "-f", "small", "-i", image, "-d", "boot disk boot=true")
	var vms []struct{ Name string }
	bob.json(&vms, "vm", "list")
	if len(vms) != 1 || vms[0].Name != "bobs" {
		t.Fatalf("bob's VMs: %+v", vms)
	}
	if out := bob.ok("-n", "tenant", "list"); out != "" {
		t.Fatalf("bob's tenants: %q", out)
	}
	bob.fails(1, "NotFound", "project", "show", other)
	bob.fails(1, "NotFound", "project", "set", other)
	bob.fails(1, "AccessForbidden", "tenant", "create", "bobs-tenant")

	// The client package's example program, against the same cloud.
	example := exec.CommandContext(t.Context(), "go", "run", "../../../client/examples/quickstart")
	example.Env = append(os.Environ(), "PHOTON_URL="+api, "PHOTON_CA="+caFile, "PHOTON_USER=admin", "PHOTON_PASSWORD=s3cret")
	out, err := example.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "project created with vm.count limit 5") || !strings.Contains(string(out), "unknown VM: NotFound") || !strings.HasSuffix(string(out), "cleaned up\n") {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
}
