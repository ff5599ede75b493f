package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
)

// fakeServices answers the service calls the CLI makes, as the API writes them, and
// records each request: "METHOD path[?query]" and the JSON body of a change.
type fakeServices struct {
	mu    sync.Mutex
	calls []string
	body  map[string]any
}

const (
	k8sCA     = "-----BEGIN CERTIFICATE-----\nK8S\n-----END CERTIFICATE-----"
	harborCA  = "-----BEGIN CERTIFICATE-----\nHARBOR\n-----END CERTIFICATE-----"
	kubeYAML  = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n"
	doneTask  = `{"id":"t1","operation":"%s","state":"COMPLETED","entity":{"id":"%s","kind":"service"}}`
	k8sAnswer = `{"id":"s1","name":"k8s","type":"KUBERNETES","state":"READY","projectID":"p1","workerCount":3,"imageId":"img1",` +
		`"extendedProperties":{"master_ip":"10.0.0.5","load_balancer_ip":"10.0.0.7","container_network":"10.2.0.0/16","ca_cert":%q},` +
		`"nodes":[{"vmId":"v1","role":"master","state":"READY","ip":"10.0.0.5","lastReport":"1700000000000"},{"vmId":"v2","role":"worker","state":"PENDING","ip":"10.0.0.6"}]}`
)

func (f *fakeServices) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		key += "?" + r.URL.RawQuery
	}
	raw, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.calls = append(f.calls, key)
	if len(raw) > 0 {
		f.body = nil
		_ = json.Unmarshal(raw, &f.body)
	}
	f.mu.Unlock()
	answers := map[string]string{
		"POST /v1/projects/p1/services":             fmt.Sprintf(doneTask, "CREATE_SERVICE", "s1"),
		"GET /v1/projects/p1/services":              `{"items":[` + fmt.Sprintf(k8sAnswer, k8sCA) + `,{"id":"s2","name":"reg","type":"HARBOR","state":"CREATING"}]}`,
		"GET /v1/services/s1":                       fmt.Sprintf(k8sAnswer, k8sCA),
		"GET /v1/services/s2":                       `{"id":"s2","name":"reg","type":"HARBOR","state":"READY","extendedProperties":{"ca_cert":"other","registry_ca_cert":` + fmt.Sprintf("%q", harborCA) + `}}`,
		"GET /v1/services/s3":                       `{"id":"s3","name":"bare","type":"HARBOR","state":"ERROR","errorReason":"no address left","extendedProperties":{"master_ip":"10.0.0.9"}}`,
		"DELETE /v1/services/s1":                    fmt.Sprintf(doneTask, "DELETE_SERVICE", "s1"),
		"GET /v1/services/s1/vms":                   `{"items":[{"id":"v1","name":"k8s-master-0","state":"STARTED"}]}`,
		"POST /v1/services/s1/resize":               fmt.Sprintf(doneTask, "RESIZE_SERVICE", "s1"),
		"POST /v1/services/s1/trigger_maintenance":  fmt.Sprintf(doneTask, "TRIGGER_SERVICE_MAINTENANCE", "s1"),
		"POST /v1/services/s1/change_version":       fmt.Sprintf(doneTask, "CHANGE_SERVICE_VERSION", "s1"),
		"GET /v1/services/s1/tasks?state=COMPLETED": `{"items":[{"id":"t1","operation":"CREATE_SERVICE","state":"COMPLETED","entity":{"id":"s1","kind":"service"}}]}`,
		"GET /v1/services/s1/kubeconfig":            fmt.Sprintf(`{"kubeconfig":%q}`, kubeYAML),
		"GET /v1/system/service-types":              `{"items":[{"type":"KUBERNETES","imageId":"img1"},{"type":"HARBOR","imageId":"img2"}]}`,
	}
	a, ok := answers[key]
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"code":"NotFound","message":"%s"}`, key)
		return
	}
	fmt.Fprint(w, a)
}

// TestServiceCommands runs `service` and `system list-service-types` against a fake
// API: the requests each command line sends, what it prints (-n, default, -o json), the
// files it writes, and the command lines refused (exit 2) before any request.
func TestServiceCommands(t *testing.T) {
	type file struct {
		path, content string
		mode          os.FileMode
	}
	cases := []struct {
		name     string
		args     []string
		before   map[string]string // files written first ($DIR, $HOME expanded)
		code     int
		out      string // stdout: exact with prefix "=", else contained
		calls    []string
		body     map[string]any // body of the last request that had one
		files    []file
		stderrIn string
	}{
		{
			name: "create kubernetes",
			args: []string{"-n", "service", "create", "-n", "k8s", "-k", "kubernetes", "-v", "small", "-W", "big", "-d", "disk", "-w", "sn1", "-c", "3",
				"--batchSize", "2", "--container-network", "10.2.0.0/16", "--etcd1", "10.0.0.9", "--number-of-masters", "2",
				"--ssh-key", "$DIR/id.pub", "--registry-ca-cert", "$DIR/reg.pem"},
			before: map[string]string{"$DIR/id.pub": "ssh-ed25519 AAAA me@host\nsecond line\n", "$DIR/reg.pem": harborCA + "\n"},
			out:    "=s1\n",
			calls:  []string{"POST /v1/projects/p1/services"},
			body: map[string]any{"name": "k8s", "type": "KUBERNETES", "vmFlavor": "small", "workerVmFlavor": "big", "diskFlavor": "disk", "vmNetworkId": "sn1",
				"workerCount": float64(3), "workerBatchExpansionSize": float64(2), "extendedProperties": map[string]any{
					"container_network": "10.2.0.0/16", "etcd_ip1": "10.0.0.9", "number_of_masters": "2", "ssh_key": "ssh-ed25519 AAAA me@host", "registry_ca_cert": harborCA}},
		},
		{
			name:  "create harbor with the cluster alias, network_id and --wait-for-ready",
			args:  []string{"-n", "cluster", "create", "-n", "reg", "-k", "HARBOR", "--network_id", "sn2", "--admin-password", "Secret123", "--wait-for-ready"},
			out:   "=s1\n",
			calls: []string{"POST /v1/projects/p1/services", "GET /v1/services/s1"},
			body:  map[string]any{"name": "reg", "type": "HARBOR", "vmNetworkId": "sn2", "extendedProperties": map[string]any{"admin_password": "Secret123"}},
		},
		{name: "create: weak harbor password", args: []string{"-n", "service", "create", "-n", "reg", "-k", "HARBOR", "--admin-password", "password"}, code: 2, stderrIn: "Harbor password is invalid"},
		{name: "create: unknown type", args: []string{"-n", "service", "create", "-n", "m", "-k", "MESOS"}, code: 2, stderrIn: `unsupported service type "MESOS"`},
		{name: "create: no name", args: []string{"-n", "service", "create", "-k", "KUBERNETES"}, code: 2, stderrIn: "service name is required"},
		{name: "create: etcd3 alone", args: []string{"-n", "service", "create", "-n", "k", "-k", "KUBERNETES", "--etcd3", "10.0.0.3"}, code: 2, stderrIn: "--etcd3 needs --etcd2"},
		{name: "create: no ssh key file", args: []string{"-n", "service", "create", "-n", "k", "-k", "KUBERNETES", "--ssh-key", "$DIR/none"}, code: 1, stderrIn: "ssh key: open"},
		{name: "create: tenant without project", args: []string{"-n", "service", "create", "-n", "k", "-k", "KUBERNETES", "-t", "acme"}, code: 2, stderrIn: "-t needs -p"},
		{
			name:  "show -n: CLI 1.2's line, no certificate, then the nodes",
			args:  []string{"-n", "service", "show", "s1"},
			out:   "=s1\tk8s\tREADY\tKUBERNETES\t3\tcontainer_network:10.2.0.0/16 load_balancer_ip:10.0.0.7 master_ip:10.0.0.5\nv1\tmaster\tREADY\t10.0.0.5\nv2\tworker\tPENDING\t10.0.0.6\n",
			calls: []string{"GET /v1/services/s1"},
		},
		{name: "show -n with an error reason", args: []string{"-n", "service", "show", "s3"}, out: "=s3\tbare\tERROR\tHARBOR\t0\tno address left\tmaster_ip:10.0.0.9\n"},
		{name: "show", args: []string{"service", "show", "s1"}, out: "Kubernetes IP:       10.0.0.7"},
		{name: "show -o json", args: []string{"-o", "json", "service", "show", "s1"}, out: `"projectID":"p1","workerCount":3`},
		{name: "show: no id", args: []string{"-n", "service", "show"}, code: 2, stderrIn: "Usage: photon service show <id>"},
		{name: "list -n", args: []string{"-n", "service", "list"}, out: "=s1\tk8s\tKUBERNETES\tREADY\t3\ns2\treg\tHARBOR\tCREATING\t0\n", calls: []string{"GET /v1/projects/p1/services"}},
		{name: "list -s", args: []string{"service", "list", "-s"}, out: "HARBOR CREATING: 1\nKUBERNETES READY: 1\n"},
		{name: "list-vms", args: []string{"-n", "service", "list-vms", "s1"}, out: "=v1\tk8s-master-0\tSTARTED\n", calls: []string{"GET /v1/services/s1/vms"}},
		{name: "list_vms, CLI 1.2's older name", args: []string{"-n", "service", "list_vms", "s1"}, out: "=v1\tk8s-master-0\tSTARTED\n"},
		{name: "resize <id> <count>", args: []string{"-n", "service", "resize", "s1", "5"}, out: "=s1\n", calls: []string{"POST /v1/services/s1/resize"}, body: map[string]any{"newWorkerCount": float64(5)}},
		{name: "resize -c", args: []string{"-n", "service", "resize", "s1", "-c", "4"}, out: "=s1\n", body: map[string]any{"newWorkerCount": float64(4)}},
		{name: "resize: no count", args: []string{"-n", "service", "resize", "s1"}, code: 2, stderrIn: "new worker count is required"},
		{name: "resize: not a count", args: []string{"-n", "service", "resize", "s1", "0"}, code: 2, stderrIn: "a number above 0"},
		{name: "delete", args: []string{"-n", "service", "delete", "s1"}, out: "=s1\n", calls: []string{"DELETE /v1/services/s1"}},
		{name: "trigger-maintenance", args: []string{"-n", "service", "trigger-maintenance", "s1"}, out: "=s1\n", calls: []string{"POST /v1/services/s1/trigger_maintenance"}, body: map[string]any{}},
		{name: "change-version", args: []string{"-n", "service", "change-version", "s1", "-i", "img2"}, out: "=s1\n", calls: []string{"POST /v1/services/s1/change_version"}, body: map[string]any{"newImageId": "img2"}},
		{name: "change-version: no image", args: []string{"-n", "service", "change-version", "s1"}, code: 2, stderrIn: "new image id for service is required"},
		{name: "tasks", args: []string{"-n", "service", "tasks", "s1", "-s", "COMPLETED"}, out: "=t1\tCOMPLETED\tCREATE_SERVICE\t-\ts1\n", calls: []string{"GET /v1/services/s1/tasks?state=COMPLETED"}},
		{
			name:  "get-kubectl-auth to the default ~/.kube/config",
			args:  []string{"-n", "service", "get-kubectl-auth", "s1"},
			out:   "=$HOME/.kube/config\n",
			calls: []string{"GET /v1/services/s1/kubeconfig"},
			files: []file{{"$HOME/.kube/config", kubeYAML, 0o600}},
		},
		{
			name:   "get-kubectl-auth -f keeps a different file as .bak",
			args:   []string{"service", "get-kubectl-auth", "s1", "-f", "$DIR/k/config", "-u", "admin", "-p", "ignored"},
			before: map[string]string{"$DIR/k/config": "other cluster\n"},
			out:    "The previous $DIR/k/config was kept as $DIR/k/config.bak\nKubeconfig of service s1 written to $DIR/k/config\n",
			files:  []file{{"$DIR/k/config", kubeYAML, 0o600}, {"$DIR/k/config.bak", "other cluster\n", 0}},
		},
		{name: "cert-to-file: a cluster's CA", args: []string{"-n", "service", "cert-to-file", "s1", "$DIR/ca.pem"}, out: "=", files: []file{{"$DIR/ca.pem", k8sCA + "\n", 0o644}}},
		{name: "cert-to-file: registry_ca_cert first", args: []string{"service", "cert-to-file", "s2", "$DIR/h.pem"}, out: "written to $DIR/h.pem", files: []file{{"$DIR/h.pem", harborCA + "\n", 0o644}}},
		{name: "cert-to-file: none", args: []string{"-n", "service", "cert-to-file", "s3", "$DIR/x.pem"}, code: 1, stderrIn: "service s3 has no CA certificate"},
		{name: "cert-to-file: no file", args: []string{"-n", "service", "cert-to-file", "s1"}, code: 2, stderrIn: "Usage: photon service cert-to-file <id> <file>"},
		{name: "system list-service-types", args: []string{"-n", "system", "list-service-types"}, out: "=KUBERNETES\timg1\nHARBOR\timg2\n", calls: []string{"GET /v1/system/service-types"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home, dir := t.TempDir(), t.TempDir()
			t.Setenv("HOME", home)
			expand := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "$DIR", dir), "$HOME", home) }
			fake := &fakeServices{}
			srv := httptest.NewServer(fake)
			defer srv.Close()
			cfg := &Config{CloudTarget: srv.URL, Token: "tok", Project: &Named{Name: "dev", ID: "p1"}}
			if err := cfg.save(); err != nil {
				t.Fatal(err)
			}
			for p, content := range tc.before {
				p = expand(p)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			argv := make([]string, len(tc.args))
			for i, s := range tc.args {
				argv[i] = expand(s)
			}
			rest, a, err := Prepare(argv)
			if err != nil {
				t.Fatal(err)
			}
			var out, errw bytes.Buffer
			a.out, a.errw = &out, &errw
			root := &cobra.Command{Use: "photon", SilenceUsage: true, SilenceErrors: true}
			root.AddGroup(Group())
			root.AddCommand(a.Commands()...)
			root.SetFlagErrorFunc(FlagError)
			root.SetArgs(rest)
			code := Exit(root.ExecuteContext(t.Context()), &errw)
			if code != tc.code || !strings.Contains(errw.String(), tc.stderrIn) {
				t.Fatalf("exit %d, stderr %q; want %d with %q (stdout %q)", code, errw.String(), tc.code, tc.stderrIn, out.String())
			}
			if want, exact := strings.CutPrefix(expand(tc.out), "="); exact && out.String() != want || !exact && !strings.Contains(out.String(), want) {
				t.Fatalf("stdout\n%q\nwant %q", out.String(), expand(tc.out))
			}
			fake.mu.Lock()
			defer fake.mu.Unlock()
			if tc.code == 2 && len(fake.calls) > 0 {
				t.Fatalf("a refused command line made requests: %v", fake.calls)
			}
			if tc.calls != nil && !reflect.DeepEqual(fake.calls, tc.calls) {
				t.Fatalf("requests %v, want %v", fake.calls, tc.calls)
			}
			if tc.body != nil && !reflect.DeepEqual(fake.body, tc.body) {
				t.Fatalf("body\n%v\nwant\n%v", fake.body, tc.body)
			}
			for _, f := range tc.files {
				p := expand(f.path)
				raw, err := os.ReadFile(p)
				if err != nil || string(raw) != f.content {
					t.Fatalf("%s: %q %v, want %q", p, raw, err, f.content)
				}
				if st, _ := os.Stat(p); f.mode != 0 && st.Mode().Perm() != f.mode {
					t.Fatalf("%s: mode %v, want %v", p, st.Mode().Perm(), f.mode)
				}
			}
		})
	}
}

func TestHarborPassword(t *testing.T) {
	cases := map[string]bool{"Secret123": true, "Ab1defg": true, "Ab1def": false, "secret123": false, "SECRET123": false, "Secretabc": false, "Secret 123": false}
	for p, want := range cases {
		if got := harborPassword(p); got != want {
			t.Errorf("harborPassword(%q) = %v, want %v", p, got, want)
		}
	}
}
