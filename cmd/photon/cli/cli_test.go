package cli

import (
	"bytes"
	"errors"
	"fmt"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/photon-cloud/photon/client"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

func TestPrepare(t *testing.T) {
	cases := []struct {
		args     []string
		rest     []string
		g        globals
		usageErr bool
	}{
		{[]string{"-n", "vm", "create", "-n", "x"}, []string{"vm", "create", "-n", "x"}, globals{nonInteractive: true}, false},
		{[]string{"-o", "json", "-d", "tenant", "list"}, []string{"tenant", "list"}, globals{output: "json", detail: true}, false},
		{[]string{"--output=json", "--non-interactive", "task", "show", "1"}, []string{"task", "show", "1"}, globals{output: "json", nonInteractive: true}, false},
		{[]string{"up", "--hosts", "2"}, []string{"up", "--hosts", "2"}, globals{}, false},
		{[]string{"-x", "vm"}, nil, globals{}, true},
		{[]string{"-o"}, nil, globals{}, true},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			rest, a, err := Prepare(tc.args)
			if tc.usageErr {
				if Exit(err, &bytes.Buffer{}) != 2 {
					t.Fatalf("want a usage error, got %v", err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(rest, tc.rest) || a.g != tc.g {
				t.Fatalf("got %v %+v %v", rest, a.g, err)
			}
		})
	}
}

func TestExit(t *testing.T) {
	task := &pb.Task{Id: "t1", Operation: "CREATE_VM", State: "ERROR", Steps: []*pb.Step{{Errors: []*pb.ApiError{{Code: "QuotaError", Message: "over"}}}}}
	cases := []struct {
		err  error
		code int
		says string
	}{
		{nil, 0, ""},
		{usagef("missing"), 2, "missing"},
		{errors.New("unknown command \"x\" for \"photon\""), 2, "unknown command"},
		{&client.APIError{Status: 404, Code: "NotFound", Message: "Vm #x not found"}, 1, "error: NotFound: Vm #x not found"},
		{&client.APIError{Status: 501, Code: "NotImplemented", Message: "NSX is configured by photon up's --nsx-* flags"}, 1, "photon: error: NotImplemented: NSX is configured by photon up's --nsx-* flags\n"},
		{fmt.Errorf("wrapped: %w", client.Failure(task)), 1, "error: QuotaError: over (task t1, CREATE_VM)"},
		{errors.New("dial tcp: refused"), 1, "dial tcp"},
	}
	for _, tc := range cases {
		var w bytes.Buffer
		if got := Exit(tc.err, &w); got != tc.code || !strings.Contains(w.String(), tc.says) {
			t.Errorf("Exit(%v) = %d %q, want %d %q", tc.err, got, w.String(), tc.code, tc.says)
		}
	}
}

func TestParse(t *testing.T) {
	disks, err := parseDisks("boot disk boot=true, data disk 2")
	if err != nil || len(disks) != 2 || !disks[0].GetBootDisk() || disks[1].GetCapacityGb() != 2 || disks[1].GetKind() != "ephemeral-disk" {
		t.Fatalf("disks %v %v", disks, err)
	}
	limits, err := parseLimits("vm.count 10 COUNT, vm.memory 1.5 GB")
	if err != nil || len(limits) != 2 || limits[1].GetValue() != 1.5 || limits[1].GetUnit() != "GB" {
		t.Fatalf("limits %v %v", limits, err)
	}
	aff, err := parseAffinities("host:h1, availabilityZone : z")
	if err != nil || aff[1].GetKind() != "availabilityZone" || aff[1].GetId() != "z" {
		t.Fatalf("affinities %v %v", aff, err)
	}
	m, err := parseMap("a:1, b : 2")
	if err != nil || m["b"] != "2" {
		t.Fatalf("map %v %v", m, err)
	}
	for _, bad := range []func() error{
		func() error { _, err := parseDisks("boot disk"); return err },
		func() error { _, err := parseDisks("data disk big"); return err },
		func() error { _, err := parseLimits("vm.count ten COUNT"); return err },
		func() error { _, err := parseAffinities("host"); return err },
		func() error { _, err := parseMap("a=1"); return err },
	} {
		if Exit(bad(), &bytes.Buffer{}) != 2 {
			t.Error("a malformed flag value must be a usage error")
		}
	}
}

// TestConfig: the file is Photon's, written 0600 in a 0700 directory, and read back.
func TestConfig(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	c := &Config{CloudTarget: "https://p:9443", Token: "a", RefreshToken: "r", Tenant: &Named{Name: "acme", ID: "1"}}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	p, _ := configPath()
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("file %v %v", st, err)
	}
	if st, _ := os.Stat(filepath.Dir(p)); st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v", st.Mode())
	}
	got, err := loadConfig()
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("read back %+v %v", got, err)
	}
	raw, _ := os.ReadFile(p)
	if !strings.Contains(string(raw), `"CloudTarget"`) || !strings.Contains(string(raw), `"IgnoreCertificate"`) {
		t.Fatalf("not Photon's field names: %s", raw)
	}
}

func TestNetworkConnections(t *testing.T) {
	for _, v := range []string{`[{"network":"n1","ipAddress":"10.0.0.2"}]`, `{"networkConnections":[{"network":"n1"}]}`} {
		var val structpb.Value
		if err := protojson.Unmarshal([]byte(v), &val); err != nil {
			t.Fatal(err)
		}
		want := 1
		if val.GetListValue() == nil {
			want = 0 // not an array: no connections
		}
		if c := networkConnections(&val); len(c) != want || (want == 1 && c[0]["network"] != "n1") {
			t.Errorf("%s: %v", v, c)
		}
	}
}

// TestProgress: steps are printed once as they complete; a live display redraws one
// status line, a plain one prints each new status; a bulk task draws its counts.
func TestProgress(t *testing.T) {
	step := func(op, state string, seq int32) *pb.Step {
		return &pb.Step{Operation: op, State: state, Sequence: seq}
	}
	chain := []*pb.Task{
		{Operation: "CREATE_VM", State: "STARTED", Steps: []*pb.Step{step("RESERVE", "STARTED", 0), step("PLACE", "QUEUED", 1)}},
		{Operation: "CREATE_VM", State: "STARTED", Steps: []*pb.Step{step("RESERVE", "COMPLETED", 0), step("PLACE", "STARTED", 1)}},
		{Operation: "CREATE_VM", State: "COMPLETED", Steps: []*pb.Step{step("RESERVE", "COMPLETED", 0), step("PLACE", "COMPLETED", 1)}},
	}
	bulk := []*pb.Task{
		{Operation: "CREATE_VMS", State: "STARTED", Progress: &pb.TaskProgress{Total: 4, InFlight: 4}},
		{Operation: "CREATE_VMS", State: "STARTED", Progress: &pb.TaskProgress{Total: 4, Completed: 2, Failed: 1, InFlight: 1}},
	}
	cases := []struct {
		name  string
		live  bool
		tasks []*pb.Task
		want  []string
	}{
		{"plain chain", false, chain, []string{"CREATE_VM: RESERVE, step 1/2", "  RESERVE                      done\n", "CREATE_VM: PLACE, step 2/2", "  PLACE                        done\n"}},
		{"live chain", true, chain, []string{"\\r\\x1b[K", "  RESERVE                      done\\n", "CREATE_VM: PLACE, step 2/2 (0s)"}},
		{"bulk bar", false, bulk, []string{"[                              ] 0/4 completed, 0 failed, 4 in flight", "[======================        ] 2/4 completed, 1 failed, 1 in flight"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			p := &progress{w: &w, live: tc.live, seen: map[string]bool{}, start: time.Now()}
			for _, tk := range tc.tasks {
				p.update(tk)
			}
			p.end()
			got := w.String()
			if tc.live {
				got = fmt.Sprintf("%q", got)
			}
			for _, want := range tc.want {
				if !strings.Contains(got, want) {
					t.Errorf("missing %q in\n%s", want, got)
				}
			}
			if strings.Count(w.String(), "RESERVE                      done") > 1 {
				t.Errorf("a step printed twice:\n%s", w.String())
			}
		})
	}
}

// TestGrammar runs the command tree as photon does, without a target: Photon's command
// names and aliases resolve, and a wrong or incomplete command line exits 2 before any
// call, saying what is missing (with -n nothing is asked).
func TestGrammar(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	cases := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"-n", "vm", "attach-iso", "vm-1"}, 2, "iso path is required"},
		{[]string{"-n", "vm", "attach-iso"}, 2, "Usage: photon vm attach-iso <id> -p <iso-path> [-n <name>]"},
		{[]string{"-n", "vm", "attach-iso", "vm-1", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"-n", "vm", "iam", "show"}, 2, "Usage: photon vm iam show <id>"},
		{[]string{"-n", "disk", "iam", "add", "d-1", "-r", "viewer"}, 2, "principal is required"},
		{[]string{"-n", "host", "provision"}, 2, "Usage: photon host provision <id>"},
		{[]string{"-n", "system", "enable-service-type", "-k", "KUBERNETES"}, 2, "image id is required"},
		{[]string{"-n", "system", "enable-cluster-type", "-i", "img"}, 2, "service type (kubernetes or harbor) is required"},
		{[]string{"-n", "system", "disable-service-type", "-i", "img"}, 2, "unknown shorthand flag: 'i'"},
		{[]string{"-n", "system", "configure-nsx", "--nsx-address", "10.0.0.1"}, 2, "nsx username is required"},
		{[]string{"-n", "system", "configure-nsx", "--host-uplink-vlan-id", "x"}, 2, "invalid argument"},
		{[]string{"-n", "infrastructure", "image-datastores"}, 2, "datastores is required"},
		{[]string{"-n", "infrastructure", "list-hosts", "extra"}, 2, "unknown arguments [extra]"},
		// Complete command lines get as far as the missing target.
		{[]string{"-n", "system", "vms"}, 2, "no API target"},
		{[]string{"-n", "system", "configure-nsx", "--nsx-address", "a", "--nsx-username", "u", "--nsx-password", "p", "--dns-server-addresses", "1.1.1.1"}, 2, "no API target"},
		{[]string{"-n", "vm", "acquire-floating-ip", "vm-1"}, 2, "no API target"},
		{[]string{"-n", "target", "info"}, 2, "no API target"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			rest, a, err := Prepare(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			a.out, a.errw = &out, &out
			root := &cobra.Command{Use: "photon", SilenceUsage: true, SilenceErrors: true}
			root.AddGroup(Group())
			root.AddCommand(a.Commands()...)
			root.SetFlagErrorFunc(FlagError)
			root.SetArgs(rest)
			var w bytes.Buffer
			if code := Exit(root.ExecuteContext(t.Context()), &w); code != tc.code || !strings.Contains(w.String(), tc.says) {
				t.Fatalf("exit %d %q, want %d %q", code, w.String(), tc.code, tc.says)
			}
		})
	}
}

// TestConfirmed: on a terminal a change Photon asked about waits for y or yes; anything
// else cancels it; -n and -o json never ask.
func TestConfirmed(t *testing.T) {
	cases := []struct {
		input string
		tty   bool
		g     globals
		want  bool
		says  string
	}{
		{"y\n", true, globals{}, true, ""},
		{"YES\n", true, globals{}, true, ""},
		{"n\n", true, globals{}, false, "OK. Canceled"},
		{"", true, globals{}, false, "OK. Canceled"},
		{"", true, globals{nonInteractive: true}, true, ""},
		{"", true, globals{output: "json"}, true, ""},
		{"", false, globals{}, true, ""},
	}
	for _, tc := range cases {
		var out, errw bytes.Buffer
		a := &app{g: tc.g, in: strings.NewReader(tc.input), out: &out, errw: &errw, stdinTTY: tc.tty}
		got, err := a.confirmed()
		asked := strings.Contains(errw.String(), "Are you sure [y/n]? ")
		if err != nil || got != tc.want || !strings.Contains(out.String(), tc.says) || asked != (tc.tty && tc.g == globals{}) {
			t.Errorf("%q tty=%v %+v: %v %v out %q err %q", tc.input, tc.tty, tc.g, got, err, out.String(), errw.String())
		}
	}
}
