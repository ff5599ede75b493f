package devcloud_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
)

// The requests below are those Photon's Go SDK (its last release line) sends, built the
// way it builds them: bodies are json.Marshal of structs with the SDK's field names, tags
// and order (so the bytes are the SDK's, fields it always sends included), POST/PUT/PATCH
// carry Content-Type application/json even when empty, every call but the auth ones
// carries "Authorization: Bearer <token>", the token calls go to https://{endpoint}:{port}
// named by GET /v1/system/auth with the SDK's unescaped form body, and an image upload is
// the SDK's hand-built multipart stream (its length unknown, so sent chunked). The answers
// are decoded as the SDK does (encoding/json, unknown fields ignored) into structs that
// mirror the SDK's, and the fields the SDK or the CLI read are checked for presence and
// JSON type.

type sdkQuotaLineItem struct {
	Unit  string  `json:"unit"`
	Value float64 `json:"value"`
	Key   string  `json:"key"`
}

type sdkQuotaStatusLineItem struct {
	Unit  string  `json:"unit"`
	Limit float64 `json:"limit"`
	Usage float64 `json:"usage"`
}

type sdkQuota struct {
	QuotaLineItems map[string]sdkQuotaStatusLineItem `json:"quotaItems"`
}

type sdkEntity struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
}

type sdkApiError struct {
	Code    string         `json:"code"`
	Data    map[string]any `json:"data"`
	Message string         `json:"message"`
}

type sdkStep struct {
	ID                 string         `json:"id"`
	Operation          string         `json:"operation,omitempty"`
	State              string         `json:"state"`
	StartedTime        int64          `json:"startedTime"`
	EndTime            int64          `json:"endTime,omitempty"`
	QueuedTime         int64          `json:"queuedTime"`
	Sequence           int            `json:"sequence,omitempty"`
	ResourceProperties map[string]any `json:"resourceProperties,omitempty"`
	Errors             []sdkApiError  `json:"errors,omitempty"`
	Warnings           []sdkApiError  `json:"warnings,omitempty"`
	Options            map[string]any `json:"options,omitempty"`
	SelfLink           string         `json:"selfLink,omitempty"`
}

type sdkTask struct {
	ID                 string    `json:"id"`
	Operation          string    `json:"operation,omitempty"`
	State              string    `json:"state"`
	StartedTime        int64     `json:"startedTime"`
	EndTime            int64     `json:"endTime,omitempty"`
	QueuedTime         int64     `json:"queuedTime"`
	Entity             sdkEntity `json:"entity,omitempty"`
	SelfLink           string    `json:"selfLink,omitempty"`
	Steps              []sdkStep `json:"steps,omitempty"`
	ResourceProperties any       `json:"resourceProperties,omitempty"`
}

type sdkTaskList struct {
	Items []sdkTask `json:"items"`
}

type sdkAuthInfo struct {
	Password       string   `json:"password,omitempty"`
	Endpoint       string   `json:"endpoint,omitempty"`
	Tenant         string   `json:"tenant,omitempty"`
	Port           int      `json:"port,omitempty"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
	Username       string   `json:"username,omitempty"`
	Enabled        bool     `json:"enabled"`
}

type sdkTokenOptions struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IdToken      string `json:"id_token"`
	TokenType    string `json:"token_type"`
}

type sdkLightwaveCert struct {
	Value string `json:"encoded"`
}

type sdkInfo struct {
	BaseVersion   string `json:"baseVersion"`
	FullVersion   string `json:"fullVersion"`
	GitCommitHash string `json:"gitCommitHash"`
	NetworkType   string `json:"networkType"`
}

type sdkSecurityGroup struct {
	Name      string `json:"name"`
	Inherited bool   `json:"inherited"`
}

type sdkBaseCompact struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

type sdkTenant struct {
	Projects       []sdkBaseCompact   `json:"projects"`
	Kind           string             `json:"kind"`
	Name           string             `json:"name"`
	ID             string             `json:"id"`
	SelfLink       string             `json:"selfLink"`
	Tags           []string           `json:"tags"`
	SecurityGroups []sdkSecurityGroup `json:"securityGroups"`
	ResourceQuota  sdkQuota           `json:"quota,omitempty"`
}

type sdkTenants struct {
	Items []sdkTenant `json:"items"`
}

type sdkTenantCreateSpec struct {
	Name           string   `json:"name"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
	ResourceQuota  sdkQuota `json:"quota,omitempty"`
}

type sdkProjectCreateSpec struct {
	Name                       string   `json:"name"`
	SecurityGroups             []string `json:"securityGroups,omitempty"`
	DefaultRouterPrivateIpCidr string   `json:"defaultRouterPrivateIpCidr,omitempty"`
	ResourceQuota              sdkQuota `json:"quota,omitempty"`
}

type sdkProjectCompact struct {
	Kind           string             `json:"kind"`
	Name           string             `json:"name"`
	ID             string             `json:"id"`
	Tags           []string           `json:"tags"`
	SelfLink       string             `json:"selfLink"`
	SecurityGroups []sdkSecurityGroup `json:"securityGroups"`
	ResourceQuota  sdkQuota           `json:"quota,omitempty"`
}

type sdkQuotaSpec map[string]sdkQuotaStatusLineItem

type sdkFlavorCreateSpec struct {
	Cost []sdkQuotaLineItem `json:"cost"`
	Kind string             `json:"kind"`
	Name string             `json:"name"`
}

type sdkFlavor struct {
	Cost     []sdkQuotaLineItem `json:"cost"`
	Kind     string             `json:"kind"`
	Name     string             `json:"name"`
	ID       string             `json:"id"`
	Tags     []string           `json:"tags"`
	SelfLink string             `json:"selfLink"`
	State    string             `json:"state"`
}

type sdkFlavorList struct {
	Items []sdkFlavor `json:"items"`
}

type sdkImage struct {
	Size     int64    `json:"size"`
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	State    string   `json:"state"`
	ID       string   `json:"id"`
	Tags     []string `json:"tags"`
	SelfLink string   `json:"selfLink"`
	Settings []struct {
		Name         string `json:"name"`
		DefaultValue string `json:"defaultValue"`
	} `json:"settings"`
	ReplicationType     string `json:"replicationType"`
	ReplicationProgress string `json:"replicationProgress"`
	SeedingProgress     string `json:"seedingProgress"`
}

type sdkLocalitySpec struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

type sdkAttachedDisk struct {
	Flavor     string `json:"flavor"`
	Kind       string `json:"kind"`
	CapacityGB int    `json:"capacityGb,omitempty"`
	Name       string `json:"name"`
	State      string `json:"state"`
	ID         string `json:"id,omitempty"`
	BootDisk   bool   `json:"bootDisk"`
}

type sdkVmCreateSpec struct {
	Flavor        string            `json:"flavor"`
	SourceImageID string            `json:"sourceImageId"`
	AttachedDisks []sdkAttachedDisk `json:"attachedDisks"`
	Affinities    []sdkLocalitySpec `json:"affinities,omitempty"`
	Name          string            `json:"name"`
	Tags          []string          `json:"tags,omitempty"`
	Subnets       []string          `json:"subnets,omitempty"`
	Environment   map[string]string `json:"environment,omitempty"`
}

type sdkISO struct {
	Size int64  `json:"size,omitempty"`
	Kind string `json:"kind,omitempty"`
	Name string `json:"name"`
	ID   string `json:"id"`
}

type sdkVM struct {
	SourceImageID string             `json:"sourceImageId,omitempty"`
	Cost          []sdkQuotaLineItem `json:"cost"`
	Kind          string             `json:"kind"`
	AttachedDisks []sdkAttachedDisk  `json:"attachedDisks"`
	Datastore     string             `json:"datastore,omitempty"`
	AttachedISOs  []sdkISO           `json:"attachedIsos,omitempty"`
	Tags          []string           `json:"tags,omitempty"`
	Metadata      map[string]string  `json:"metadata,omitempty"`
	SelfLink      string             `json:"selfLink,omitempty"`
	Flavor        string             `json:"flavor"`
	Host          string             `json:"host,omitempty"`
	Name          string             `json:"name"`
	State         string             `json:"state"`
	ID            string             `json:"id"`
	FloatingIp    string             `json:"floatingIp"`
}

type sdkVMs struct {
	Items []sdkVM `json:"items"`
}

type sdkVmMetadata struct {
	Metadata map[string]string `json:"metadata"`
}

type sdkVmTag struct {
	Tag string `json:"value"`
}

type sdkVmDiskOperation struct {
	DiskID    string         `json:"diskId"`
	Arguments map[string]any `json:"arguments,omitempty"`
}

type sdkDiskCreateSpec struct {
	Flavor     string            `json:"flavor"`
	Kind       string            `json:"kind"`
	CapacityGB int               `json:"capacityGb"`
	Affinities []sdkLocalitySpec `json:"affinities,omitempty"`
	Name       string            `json:"name"`
	Tags       []string          `json:"tags,omitempty"`
}

type sdkPersistentDisk struct {
	Flavor     string             `json:"flavor"`
	Cost       []sdkQuotaLineItem `json:"cost"`
	Kind       string             `json:"kind"`
	Datastore  string             `json:"datastore,omitempty"`
	CapacityGB int                `json:"capacityGb,omitempty"`
	Name       string             `json:"name"`
	State      string             `json:"state"`
	ID         string             `json:"id"`
	VMs        []string           `json:"vms"`
	Tags       []string           `json:"tags,omitempty"`
	SelfLink   string             `json:"selfLink,omitempty"`
}

type sdkRouterCreateSpec struct {
	Name          string `json:"name"`
	PrivateIpCidr string `json:"privateIpCidr"`
}

type sdkRouter struct {
	ID            string `json:"id"`
	Kind          string `json:"kind"`
	Name          string `json:"name"`
	PrivateIpCidr string `json:"privateIpCidr"`
	IsDefault     bool   `json:"isDefault"`
}

type sdkRouters struct {
	Items []sdkRouter `json:"items"`
}

type sdkNameUpdateSpec struct {
	Name string `json:"name"`
}

// sdkPortGroups is the SDK's PortGroups: the last line names its Go field Names; the wire
// name is the one Photon's subnets answer with.
type sdkPortGroups struct {
	Names []string `json:"portGroups"`
}

type sdkSubnetCreateSpec struct {
	Name               string        `json:"name"`
	Description        string        `json:"description"`
	PrivateIpCidr      string        `json:"privateIpCidr"`
	Type               string        `json:"type"`
	PortGroups         sdkPortGroups `json:"portGroups"`
	DnsServerAddresses []string      `json:"dnsServerAddresses"`
}

type sdkSubnet struct {
	ID                 string            `json:"id"`
	Kind               string            `json:"kind"`
	Name               string            `json:"name"`
	Description        string            `json:"description,omitempty"`
	PrivateIpCidr      string            `json:"privateIpCidr"`
	ReservedIps        map[string]string `json:"reservedIps"`
	State              string            `json:"state"`
	IsDefault          bool              `json:"isDefault"`
	PortGroups         sdkPortGroups     `json:"portGroups"`
	DnsServerAddresses []string          `json:"dnsServerAddresses"`
}

type sdkSubnets struct {
	Items []sdkSubnet `json:"items"`
}

type sdkNetworkCreateSpec struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	PortGroups  []string `json:"portGroups"`
}

type sdkNetwork struct {
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	State       string   `json:"state"`
	ID          string   `json:"id"`
	PortGroups  []string `json:"portGroups"`
	Tags        []string `json:"tags,omitempty"`
	SelfLink    string   `json:"selfLink"`
	IsDefault   bool     `json:"isDefault"`
}

type sdkNetworks struct {
	Items []sdkNetwork `json:"items"`
}

type sdkRoleBinding struct {
	Role     string   `json:"role"`
	Subjects []string `json:"subjects"`
}

type sdkRoleBindingDelta struct {
	Subject string `json:"subject"`
	Action  string `json:"action"`
	Role    string `json:"role"`
}

type sdkZone struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	State    string `json:"state"`
	ID       string `json:"id"`
	SelfLink string `json:"selfLink"`
}

type sdkZoneCreateSpec struct {
	Name string `json:"name"`
}

type sdkHost struct {
	Username   string            `json:"username"`
	Password   string            `json:"password"`
	Address    string            `json:"address"`
	Kind       string            `json:"kind"`
	ID         string            `json:"id"`
	Zone       string            `json:"zone,omitempty"`
	Tags       []string          `json:"usageTags"`
	Metadata   map[string]string `json:"metadata,omitempty"`
	SelfLink   string            `json:"selfLink"`
	State      string            `json:"state"`
	EsxVersion string            `json:"esxVersion"`
}

type sdkHosts struct {
	Items []sdkHost `json:"items"`
}

// sdkRequest is one request as the SDK puts it on the wire.
type sdkRequest struct {
	method, url string
	contentType string    // "" sends none, as the SDK's GET and DELETE
	body        io.Reader // nil sends none
	token       bool      // Authorization: Bearer <token>
	insecure    bool      // TLS without verification, as ClientOptions.IgnoreCertificate (target set -c)
	roots       *x509.CertPool
}

// sdkReplay holds one dev cloud and what earlier rows created.
type sdkReplay struct {
	base     string // the SDK's endpoint: the API's URL
	token    string
	auth     sdkAuthInfo
	authBase string // https://{endpoint}:{port}, as AuthAPI.getAuthEndpoint builds it
	roots    *x509.CertPool
	refresh  string
	ids      map[string]string
}

// api is a request to the SDK's endpoint with the SDK's headers for method: a body and
// Content-Type on POST, PUT and PATCH (empty bodies included), and on the one DELETE that
// carries a body (restClient.SendRequestCommon, for a quota exclusion).
func (r *sdkReplay) api(method, path string, body []byte) sdkRequest {
	rq := sdkRequest{method: method, url: r.base + path, token: true}
	if method == "POST" || method == "PUT" || method == "PATCH" || body != nil {
		rq.contentType = "application/json"
		rq.body = bytes.NewReader(body)
	}
	return rq
}

// send puts rq on the wire and returns the status and the raw answer.
func (r *sdkReplay) send(t *testing.T, rq sdkRequest) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), rq.method, rq.url, rq.body)
	if err != nil {
		t.Fatal(err)
	}
	if rq.contentType != "" {
		req.Header.Add("Content-Type", rq.contentType)
	}
	if rq.token && r.token != "" {
		req.Header.Add("Authorization", "Bearer "+r.token)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: rq.insecure, RootCAs: rq.roots}}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr, Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.url, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", rq.method, rq.url, err)
	}
	return res.StatusCode, raw
}

// ok checks the answer as the SDK's getError does (any 2xx) and decodes it as the SDK
// does into out.
func (r *sdkReplay) ok(t *testing.T, rq sdkRequest, out any) []byte {
	t.Helper()
	st, raw := r.send(t, rq)
	if st/100 != 2 {
		var e sdkApiError
		json.Unmarshal(raw, &e)
		t.Fatalf("%s %s: HTTP %d %s: %s", rq.method, rq.url, st, e.Code, messageOr(e.Message, raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: the SDK's types cannot decode %s: %v", rq.method, rq.url, clip(raw), err)
		}
	}
	return raw
}

// task sends a request answered by a task, then waits for it as TasksAPI.Wait does
// (GET /v1/tasks/{id} every TaskPollDelay, 100 ms, until COMPLETED or ERROR).
func (r *sdkReplay) task(t *testing.T, rq sdkRequest) sdkTask {
	t.Helper()
	var tk sdkTask
	raw := r.ok(t, rq, &tk)
	jsonType(t, raw, "string", "id")
	jsonType(t, raw, "string", "state")
	if tk.ID == "" {
		t.Fatalf("%s %s: the task has no id: %s", rq.method, rq.url, clip(raw))
	}
	return r.wait(t, tk.ID)
}

func (r *sdkReplay) wait(t *testing.T, id string) sdkTask {
	t.Helper()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(90 * time.Second)
	for {
		var tk sdkTask
		raw := r.ok(t, r.api("GET", "/v1/tasks/"+id, nil), &tk)
		jsonType(t, raw, "string", "state")
		switch tk.State {
		case "COMPLETED":
			return tk
		case "ERROR":
			for _, s := range tk.Steps {
				for _, e := range s.Errors {
					t.Fatalf("task %s (%s) ended in ERROR at step %s: %s %s", id, tk.Operation, s.Operation, e.Code, e.Message)
				}
			}
			t.Fatalf("task %s (%s) ended in ERROR", id, tk.Operation)
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("task %s (%s) still %s", id, tk.Operation, tk.State)
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		}
	}
}

// need returns the id an earlier row saved under key.
func (r *sdkReplay) need(t *testing.T, key string) string {
	t.Helper()
	id := r.ids[key]
	if id == "" {
		t.Fatalf("needs the %s of an earlier row, which did not produce it", key)
	}
	return id
}

// upload builds ImagesAPI.CreateFromFile's request: restClient.createMultiReader's parts
// (the params, then the file part) joined by io.MultiReader, so the length is unknown and
// the body goes chunked; the boundary is 30 random bytes in hex.
func (r *sdkReplay) upload(path, filename string, data []byte, params map[string]string) sdkRequest {
	var buf [30]byte
	rand.Read(buf[:])
	boundary := hex.EncodeToString(buf[:])
	quote := strings.NewReplacer("\\", "\\\\", `"`, "\\\"")
	var parts []io.Reader
	for k, v := range params {
		parts = append(parts, strings.NewReader(fmt.Sprintf("\r\n--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s",
			boundary, quote.Replace(k), v)))
	}
	start := fmt.Sprintf("\r\n--%s\r\n", boundary) +
		fmt.Sprintf("Content-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n", quote.Replace(filename)) +
		"Content-Type: application/octet-stream\r\n\r\n"
	parts = append(parts, strings.NewReader(start), bytes.NewReader(data), strings.NewReader(fmt.Sprintf("\r\n--%s--", boundary)))
	return sdkRequest{method: "POST", url: r.base + path, token: true,
		contentType: "multipart/form-data; boundary=" + boundary, body: io.MultiReader(parts...)}
}

// jsonType checks that the answer has a value of JSON type kind (string, number, bool,
// array, object) at path.
func jsonType(t *testing.T, raw []byte, kind string, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("answer %s: %v", clip(raw), err)
	}
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %s is not an object in %s", strings.Join(path, "."), k, clip(raw))
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s is absent from %s", strings.Join(path, "."), clip(raw))
		}
	}
	got := "null"
	switch v.(type) {
	case string:
		got = "string"
	case float64:
		got = "number"
	case bool:
		got = "bool"
	case []any:
		got = "array"
	case map[string]any:
		got = "object"
	}
	if got != kind {
		t.Fatalf("%s is a JSON %s, the SDK reads a %s: %s", strings.Join(path, "."), got, kind, clip(raw))
	}
	return v
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// clip shortens an answer for a failure message.
func clip(raw []byte) string {
	if len(raw) > 400 {
		return string(raw[:400]) + "…"
	}
	return string(raw)
}

// messageOr is an ApiError's message, or the raw answer when it has none.
func messageOr(msg string, raw []byte) string {
	if msg == "" {
		return clip(raw)
	}
	return msg
}

// TestSDKReplay replays, on one dev cloud, the requests of the main flows of Photon's Go
// SDK (its last release line) byte for byte, and makes the checks the SDK and the CLI
// make on the answers. A row that fails names what Photon does differently.
func TestSDKReplay(t *testing.T) {
	t.Parallel()
	c, admin := cloud(t, 1)
	disk := newVsphere(t, c.Sims[0].URL).read("LocalDS_0", devcloud.DefaultImage)
	r := &sdkReplay{base: admin.base, token: admin.token, ids: map[string]string{}}

	rows := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"AuthAPI.Get GET /v1/system/auth", func(t *testing.T) {
			rq := sdkRequest{method: "GET", url: r.base + "/v1/system/auth"}
			raw := r.ok(t, rq, &r.auth)
			jsonType(t, raw, "bool", "enabled")
			jsonType(t, raw, "string", "endpoint")
			jsonType(t, raw, "number", "port")
			port := r.auth.Port
			if port == 0 {
				port = 443
			}
			r.authBase = fmt.Sprintf("https://%s:%d", r.auth.Endpoint, port)
		}},
		{"lightwave GetRootCerts GET https://auth/afd/vecs/ssl", func(t *testing.T) {
			if r.authBase == "" {
				t.Fatal("needs the auth endpoint of an earlier row")
			}
			var certs []sdkLightwaveCert
			raw := r.ok(t, sdkRequest{method: "GET", url: r.authBase + "/afd/vecs/ssl", insecure: true}, &certs)
			jsonType(t, raw, "array")
			if len(certs) == 0 {
				t.Fatalf("no certificates: %s", clip(raw))
			}
			pool := x509.NewCertPool()
			for _, c := range certs {
				block, _ := pem.Decode([]byte(c.Value))
				if block == nil {
					t.Fatalf("not PEM: %q", c.Value)
				}
				cert, err := x509.ParseCertificate(block.Bytes)
				if err != nil {
					t.Fatal(err)
				}
				pool.AddCert(cert)
			}
			r.roots = pool
		}},
		{"AuthAPI.GetTokensByPassword POST https://auth/openidconnect/token", func(t *testing.T) {
			if r.authBase == "" {
				t.Fatal("needs the auth endpoint of an earlier row")
			}
			rq := sdkRequest{method: "POST", url: r.authBase + "/openidconnect/token", insecure: r.roots == nil, roots: r.roots,
				contentType: "application/x-www-form-urlencoded",
				body:        strings.NewReader("grant_type=password&username=admin&password=s3cret&scope=openid offline_access rs_esxcloud at_groups")}
			var tok sdkTokenOptions
			raw := r.ok(t, rq, &tok)
			jsonType(t, raw, "string", "access_token")
			jsonType(t, raw, "number", "expires_in")
			jsonType(t, raw, "string", "refresh_token")
			r.token, r.refresh = tok.AccessToken, tok.RefreshToken
		}},
		{"AuthAPI.GetTokensByRefreshToken POST https://auth/openidconnect/token", func(t *testing.T) {
			if r.refresh == "" {
				t.Fatal("needs the refresh token of an earlier row")
			}
			rq := sdkRequest{method: "POST", url: r.authBase + "/openidconnect/token", insecure: r.roots == nil, roots: r.roots,
				contentType: "application/x-www-form-urlencoded",
				body:        strings.NewReader("grant_type=refresh_token&refresh_token=" + r.refresh)}
			var tok sdkTokenOptions
			raw := r.ok(t, rq, &tok)
			jsonType(t, raw, "string", "access_token")
		}},
		{"InfoAPI.Get GET /v1/info", func(t *testing.T) {
			var info sdkInfo
			raw := r.ok(t, r.api("GET", "/v1/info", nil), &info)
			for _, k := range []string{"baseVersion", "fullVersion", "gitCommitHash", "networkType"} {
				jsonType(t, raw, "string", k)
			}
		}},
		{"SystemAPI.GetSystemInfo GET /v1/system/info", func(t *testing.T) {
			raw := r.ok(t, r.api("GET", "/v1/system/info", nil), nil)
			for _, k := range []string{"baseVersion", "fullVersion", "gitCommitHash", "networkType"} {
				jsonType(t, raw, "string", k)
			}
		}},
		{"TenantsAPI.Create POST /v1/tenants", func(t *testing.T) {
			tk := r.task(t, r.api("POST", "/v1/tenants", mustJSON(t, sdkTenantCreateSpec{Name: "sdk-tenant"})))
			r.ids["tenant"] = tk.Entity.ID
		}},
		{"TenantsAPI.GetAll GET /v1/tenants", func(t *testing.T) {
			id := r.need(t, "tenant")
			var list sdkTenants
			raw := r.ok(t, r.api("GET", "/v1/tenants", nil), &list)
			jsonType(t, raw, "array", "items")
			for _, tn := range list.Items {
				if tn.ID == id && tn.Name == "sdk-tenant" {
					return
				}
			}
			t.Fatalf("tenant %s not listed: %s", id, clip(raw))
		}},
		{"TenantsAPI.CreateProject POST /v1/tenants/{id}/projects (defaultRouterPrivateIpCidr, quota)", func(t *testing.T) {
			spec := sdkProjectCreateSpec{Name: "sdk-project", DefaultRouterPrivateIpCidr: "192.168.0.0/16",
				ResourceQuota: sdkQuota{QuotaLineItems: map[string]sdkQuotaStatusLineItem{
					"vm.count":  {Unit: "COUNT", Limit: 10},
					"vm.memory": {Unit: "GB", Limit: 64},
				}}}
			tk := r.task(t, r.api("POST", "/v1/tenants/"+r.need(t, "tenant")+"/projects", mustJSON(t, spec)))
			r.ids["project"] = tk.Entity.ID
		}},
		{"TenantsAPI.CreateProject POST /v1/tenants/{id}/projects (defaultRouterPrivateIpCidr left empty, omitted)", func(t *testing.T) {
			spec := sdkProjectCreateSpec{Name: "sdk-project-2", ResourceQuota: sdkQuota{QuotaLineItems: map[string]sdkQuotaStatusLineItem{
				"vm.count":  {Unit: "COUNT", Limit: 10},
				"vm.memory": {Unit: "GB", Limit: 64},
			}}}
			tk := r.task(t, r.api("POST", "/v1/tenants/"+r.need(t, "tenant")+"/projects", mustJSON(t, spec)))
			if r.ids["project"] == "" {
				r.ids["project"] = tk.Entity.ID // the rows below then use this one
			}
		}},
		{"ProjectsAPI.Get GET /v1/projects/{id}", func(t *testing.T) {
			var p sdkProjectCompact
			raw := r.ok(t, r.api("GET", "/v1/projects/"+r.need(t, "project"), nil), &p)
			jsonType(t, raw, "string", "name")
			jsonType(t, raw, "object", "quota", "quotaItems")
		}},
		{"ProjectsAPI.GetQuota GET /v1/projects/{id}/quota", func(t *testing.T) {
			var q sdkQuota
			raw := r.ok(t, r.api("GET", "/v1/projects/"+r.need(t, "project")+"/quota", nil), &q)
			jsonType(t, raw, "number", "quotaItems", "vm.count", "limit")
			if q.QuotaLineItems["vm.count"].Limit != 10 {
				t.Fatalf("vm.count limit: %s", clip(raw))
			}
		}},
		{"ProjectsAPI.UpdateQuota PATCH /v1/projects/{id}/quota", func(t *testing.T) {
			spec := sdkQuotaSpec{"vm.count": {Unit: "COUNT", Limit: 20}}
			r.task(t, r.api("PATCH", "/v1/projects/"+r.need(t, "project")+"/quota", mustJSON(t, spec)))
		}},
		{"FlavorsAPI.Create POST /v1/flavors", func(t *testing.T) {
			for _, f := range []sdkFlavorCreateSpec{
				{Name: "sdk-vm", Kind: "vm", Cost: []sdkQuotaLineItem{{Unit: "COUNT", Value: 1, Key: "vm.cpu"}, {Unit: "GB", Value: 2, Key: "vm.memory"}}},
				{Name: "sdk-eph", Kind: "ephemeral-disk", Cost: []sdkQuotaLineItem{{Unit: "COUNT", Value: 1, Key: "ephemeral-disk"}}},
				{Name: "sdk-pd", Kind: "persistent-disk", Cost: []sdkQuotaLineItem{{Unit: "COUNT", Value: 1, Key: "persistent-disk.count"}}},
			} {
				r.ids["flavor:"+f.Name] = r.task(t, r.api("POST", "/v1/flavors", mustJSON(t, f))).Entity.ID
			}
		}},
		{"FlavorsAPI.GetAll GET /v1/flavors?name=sdk-vm", func(t *testing.T) {
			var list sdkFlavorList
			raw := r.ok(t, r.api("GET", "/v1/flavors?name=sdk-vm", nil), &list)
			if len(list.Items) != 1 || list.Items[0].Kind != "vm" {
				t.Fatalf("flavors named sdk-vm: %s", clip(raw))
			}
			jsonType(t, raw, "array", "items")
		}},
		{"FlavorsAPI.GetTasks GET /v1/flavors/{id}/tasks", func(t *testing.T) {
			var list sdkTaskList
			raw := r.ok(t, r.api("GET", "/v1/flavors/"+r.need(t, "flavor:sdk-vm")+"/tasks", nil), &list)
			jsonType(t, raw, "array", "items")
			if len(list.Items) == 0 || list.Items[0].Operation != "CREATE_FLAVOR" {
				t.Fatalf("flavor tasks: %s", clip(raw))
			}
		}},
		{"ImagesAPI.CreateFromFile POST /v1/images (multipart, chunked)", func(t *testing.T) {
			tk := r.task(t, r.upload("/v1/images", "sdk-tiny.vmdk", disk, map[string]string{"ImageReplication": "EAGER"}))
			r.ids["image"] = tk.Entity.ID
		}},
		{"ImagesAPI.Get GET /v1/images/{id} (named by its file)", func(t *testing.T) {
			var im sdkImage
			raw := r.ok(t, r.api("GET", "/v1/images/"+r.need(t, "image"), nil), &im)
			jsonType(t, raw, "string", "state")
			jsonType(t, raw, "number", "size")
			if im.Name != "sdk-tiny.vmdk" {
				t.Fatalf("image name %q, Photon named an upload by its file name %q", im.Name, "sdk-tiny.vmdk")
			}
		}},
		{"ProjectsAPI.CreateVM POST /v1/projects/{id}/vms (left STOPPED)", func(t *testing.T) {
			spec := sdkVmCreateSpec{Flavor: "sdk-vm", SourceImageID: r.need(t, "image"), Name: "sdk-vm",
				AttachedDisks: []sdkAttachedDisk{{Flavor: "sdk-eph", Kind: "ephemeral-disk", Name: "boot", BootDisk: true}}}
			tk := r.task(t, r.api("POST", "/v1/projects/"+r.need(t, "project")+"/vms", mustJSON(t, spec)))
			r.ids["vm"] = tk.Entity.ID
			var v sdkVM
			raw := r.ok(t, r.api("GET", "/v1/vms/"+tk.Entity.ID, nil), &v)
			jsonType(t, raw, "array", "attachedDisks")
			if v.State != "STOPPED" {
				t.Fatalf("a new VM is %s; Photon left it STOPPED until `vm start`", v.State)
			}
		}},
		{"VmAPI.Start POST /v1/vms/{id}/start", func(t *testing.T) {
			r.task(t, r.api("POST", "/v1/vms/"+r.need(t, "vm")+"/start", []byte{}))
			var v sdkVM
			r.ok(t, r.api("GET", "/v1/vms/"+r.ids["vm"], nil), &v)
			if v.State != "STARTED" {
				t.Fatalf("after start the VM is %s", v.State)
			}
		}},
		{"VmAPI.GetNetworks GET /v1/vms/{id}/subnets (networkConnections an array)", func(t *testing.T) {
			var tk sdkTask
			r.ok(t, r.api("GET", "/v1/vms/"+r.need(t, "vm")+"/subnets", nil), &tk)
			tk = r.wait(t, tk.ID)
			raw := mustJSON(t, tk)
			jsonType(t, raw, "array", "resourceProperties", "networkConnections")
		}},
		{"VmAPI.SetMetadata POST /v1/vms/{id}/set_metadata (answered completed)", func(t *testing.T) {
			var tk sdkTask
			r.ok(t, r.api("POST", "/v1/vms/"+r.need(t, "vm")+"/set_metadata",
				mustJSON(t, sdkVmMetadata{Metadata: map[string]string{"owner": "sdk"}})), &tk)
			// No wait: the change is made, and the next row (a call on the same VM) is accepted.
			if tk.State != "COMPLETED" {
				t.Fatalf("set_metadata answered a %s task; Photon answered it COMPLETED", tk.State)
			}
		}},
		{"VmAPI.SetTag POST /v1/vms/{id}/tags (answered completed)", func(t *testing.T) {
			var tk sdkTask
			r.ok(t, r.api("POST", "/v1/vms/"+r.need(t, "vm")+"/tags", mustJSON(t, sdkVmTag{Tag: "sdk"})), &tk)
			if tk.State != "COMPLETED" {
				t.Fatalf("tags answered a %s task; Photon answered it COMPLETED", tk.State)
			}
			var v sdkVM
			r.ok(t, r.api("GET", "/v1/vms/"+r.ids["vm"], nil), &v)
			if !slices.Contains(v.Tags, "sdk") || v.Metadata["owner"] != "sdk" {
				t.Fatalf("right after the calls the VM has tags %q, metadata %v", v.Tags, v.Metadata)
			}
		}},
		{"ProjectsAPI.CreateDisk POST /v1/projects/{id}/disks", func(t *testing.T) {
			spec := sdkDiskCreateSpec{Flavor: "sdk-pd", Kind: "persistent-disk", CapacityGB: 1, Name: "sdk-disk"}
			tk := r.task(t, r.api("POST", "/v1/projects/"+r.need(t, "project")+"/disks", mustJSON(t, spec)))
			r.ids["disk"] = tk.Entity.ID
			var d sdkPersistentDisk
			raw := r.ok(t, r.api("GET", "/v1/disks/"+tk.Entity.ID, nil), &d)
			jsonType(t, raw, "string", "state")
		}},
		{"VmAPI.AttachDisk and DetachDisk POST /v1/vms/{id}/attach_disk, detach_disk", func(t *testing.T) {
			vm, disk := r.need(t, "vm"), r.need(t, "disk")
			op := mustJSON(t, sdkVmDiskOperation{DiskID: disk})
			r.task(t, r.api("POST", "/v1/vms/"+vm+"/attach_disk", op))
			r.task(t, r.api("POST", "/v1/vms/"+vm+"/detach_disk", op))
		}},
		{"VmAPI.Stop POST /v1/vms/{id}/stop", func(t *testing.T) {
			r.task(t, r.api("POST", "/v1/vms/"+r.need(t, "vm")+"/stop", []byte{}))
			var v sdkVM
			r.ok(t, r.api("GET", "/v1/vms/"+r.ids["vm"], nil), &v)
			if v.State != "STOPPED" {
				t.Fatalf("after stop the VM is %s", v.State)
			}
		}},
		{"ProjectsAPI.GetVMs GET /v1/projects/{id}/vms", func(t *testing.T) {
			var list sdkVMs
			raw := r.ok(t, r.api("GET", "/v1/projects/"+r.need(t, "project")+"/vms", nil), &list)
			jsonType(t, raw, "array", "items")
			if len(list.Items) != 1 {
				t.Fatalf("project VMs: %s", clip(raw))
			}
		}},
		{"ProjectsAPI.GetIam GET /v1/projects/{id}/iam ([]RoleBinding)", func(t *testing.T) {
			var policy []*sdkRoleBinding
			raw := r.ok(t, r.api("GET", "/v1/projects/"+r.need(t, "project")+"/iam", nil), &policy)
			jsonType(t, raw, "array")
		}},
		{"ProjectsAPI.SetIam POST /v1/projects/{id}/iam ([]RoleBinding)", func(t *testing.T) {
			policy := []*sdkRoleBinding{{Role: "contributor", Subjects: []string{"alice@photon.local"}}}
			r.task(t, r.api("POST", "/v1/projects/"+r.need(t, "project")+"/iam", mustJSON(t, policy)))
			var got []*sdkRoleBinding
			raw := r.ok(t, r.api("GET", "/v1/projects/"+r.ids["project"]+"/iam", nil), &got)
			jsonType(t, raw, "array")
			if len(got) != 1 || got[0].Role != "contributor" || len(got[0].Subjects) != 1 {
				t.Fatalf("policy after set: %s", clip(raw))
			}
		}},
		{"ProjectsAPI.ModifyIam PATCH /v1/projects/{id}/iam ([]RoleBindingDelta)", func(t *testing.T) {
			delta := []*sdkRoleBindingDelta{{Subject: "bob@photon.local", Action: "ADD", Role: "viewer"}}
			r.task(t, r.api("PATCH", "/v1/projects/"+r.need(t, "project")+"/iam", mustJSON(t, delta)))
		}},
		{"ProjectsAPI.CreateRouter POST /v1/projects/{id}/routers", func(t *testing.T) {
			spec := sdkRouterCreateSpec{Name: "sdk-router", PrivateIpCidr: "10.1.0.0/16"}
			tk := r.task(t, r.api("POST", "/v1/projects/"+r.need(t, "project")+"/routers", mustJSON(t, spec)))
			r.ids["router"] = tk.Entity.ID
			var rt sdkRouter
			raw := r.ok(t, r.api("GET", "/v1/routers/"+tk.Entity.ID, nil), &rt)
			jsonType(t, raw, "string", "privateIpCidr")
		}},
		{"RoutersAPI.UpdateRouter PATCH /v1/routers/{id}", func(t *testing.T) {
			r.task(t, r.api("PATCH", "/v1/routers/"+r.need(t, "router"), mustJSON(t, sdkNameUpdateSpec{Name: "sdk-router-2"})))
		}},
		{"RoutersAPI.CreateSubnet POST /v1/routers/{id}/subnets (portGroups, dnsServerAddresses, type)", func(t *testing.T) {
			spec := sdkSubnetCreateSpec{Name: "sdk-subnet", Description: "replayed", PrivateIpCidr: "10.1.1.0/24", Type: "NAT",
				PortGroups: sdkPortGroups{Names: []string{"helloWorld"}}, DnsServerAddresses: []string{}}
			tk := r.task(t, r.api("POST", "/v1/routers/"+r.need(t, "router")+"/subnets", mustJSON(t, spec)))
			r.ids["subnet"] = tk.Entity.ID
		}},
		{"RoutersAPI.CreateSubnet POST /v1/routers/{id}/subnets (the mid line's body: name, description, privateIpCidr, type)", func(t *testing.T) {
			spec := struct {
				Name          string `json:"name"`
				Description   string `json:"description"`
				PrivateIpCidr string `json:"privateIpCidr"`
				Type          string `json:"type"`
			}{"sdk-subnet-b", "replayed", "10.1.2.0/24", "NAT"}
			tk := r.task(t, r.api("POST", "/v1/routers/"+r.need(t, "router")+"/subnets", mustJSON(t, spec)))
			if r.ids["subnet"] == "" {
				r.ids["subnet"] = tk.Entity.ID // the rows below then use this one
			}
		}},
		{"SubnetsAPI.Get GET /v1/subnets/{id}", func(t *testing.T) {
			var s sdkSubnet
			raw := r.ok(t, r.api("GET", "/v1/subnets/"+r.need(t, "subnet"), nil), &s)
			jsonType(t, raw, "string", "privateIpCidr")
			jsonType(t, raw, "object", "reservedIps")
		}},
		{"SubnetsAPI.Update PATCH /v1/subnets/{id}", func(t *testing.T) {
			r.task(t, r.api("PATCH", "/v1/subnets/"+r.need(t, "subnet"), mustJSON(t, sdkNameUpdateSpec{Name: "sdk-subnet-2"})))
		}},
		{"SubnetsAPI.GetAll GET /v1/subnets", func(t *testing.T) {
			id := r.need(t, "subnet")
			var list sdkSubnets
			raw := r.ok(t, r.api("GET", "/v1/subnets", nil), &list)
			jsonType(t, raw, "array", "items")
			for _, s := range list.Items {
				if s.ID == id {
					return
				}
			}
			t.Fatalf("subnet %s not listed: %s", id, clip(raw))
		}},
		{"RoutersAPI.GetSubnets GET /v1/routers/{id}/subnets", func(t *testing.T) {
			var list sdkSubnets
			raw := r.ok(t, r.api("GET", "/v1/routers/"+r.need(t, "router")+"/subnets", nil), &list)
			jsonType(t, raw, "array", "items")
		}},
		{"ProjectsAPI.CreateNetwork POST /v1/projects/{id}/networks", func(t *testing.T) {
			spec := sdkNetworkCreateSpec{Name: "sdk-network", Description: "replayed", PortGroups: []string{"VM Network"}}
			tk := r.task(t, r.api("POST", "/v1/projects/"+r.need(t, "project")+"/networks", mustJSON(t, spec)))
			r.ids["network"] = tk.Entity.ID
		}},
		{"ProjectsAPI.GetNetworks GET /v1/projects/{id}/networks", func(t *testing.T) {
			var list sdkNetworks
			raw := r.ok(t, r.api("GET", "/v1/projects/"+r.need(t, "project")+"/networks", nil), &list)
			jsonType(t, raw, "array", "items")
		}},
		{"NetworksAPI.Get and GetSubnets GET /v1/networks/{id}[/subnets]", func(t *testing.T) {
			id := r.need(t, "network")
			var n sdkNetwork
			r.ok(t, r.api("GET", "/v1/networks/"+id, nil), &n)
			var list sdkSubnets
			raw := r.ok(t, r.api("GET", "/v1/networks/"+id+"/subnets", nil), &list)
			jsonType(t, raw, "array", "items")
		}},
		{"InfraHostsAPI.GetHosts GET /v1/infrastructure/hosts (zone)", func(t *testing.T) {
			var list sdkHosts
			raw := r.ok(t, r.api("GET", "/v1/infrastructure/hosts", nil), &list)
			if len(list.Items) == 0 {
				t.Fatalf("no hosts: %s", clip(raw))
			}
			jsonType(t, raw, "array", "items")
			// HostsAPI.SetAvailabilityZone; the host then answers its zone as the SDK reads it.
			host := list.Items[0].ID
			zone := r.task(t, r.api("POST", "/v1/zones", mustJSON(t, sdkZoneCreateSpec{Name: "sdk-host-zone"}))).Entity.ID
			r.task(t, r.api("POST", "/v1/hosts/"+host+"/set_availability_zone", mustJSON(t, map[string]string{"availabilityZoneId": zone})))
			raw = r.ok(t, r.api("GET", "/v1/infrastructure/hosts/"+host, nil), nil)
			if got := jsonType(t, raw, "string", "zone"); got != zone {
				t.Fatalf("host zone %v, want %s", got, zone)
			}
		}},
		{"TasksAPI.GetAll GET /v1/tasks?entityKind=vm&state=COMPLETED", func(t *testing.T) {
			var list sdkTaskList
			raw := r.ok(t, r.api("GET", "/v1/tasks?state=COMPLETED&entityKind=vm", nil), &list)
			jsonType(t, raw, "array", "items")
			if len(list.Items) == 0 {
				t.Fatalf("no completed vm tasks: %s", clip(raw))
			}
		}},
		{"VmAPI.GetTasks GET /v1/vms/{id}/tasks", func(t *testing.T) {
			var list sdkTaskList
			raw := r.ok(t, r.api("GET", "/v1/vms/"+r.need(t, "vm")+"/tasks", nil), &list)
			jsonType(t, raw, "array", "items")
		}},
		{"VmAPI.Delete DELETE /v1/vms/{id}", func(t *testing.T) {
			r.task(t, r.api("DELETE", "/v1/vms/"+r.need(t, "vm"), nil))
		}},
		{"DisksAPI.Delete DELETE /v1/disks/{id}", func(t *testing.T) {
			r.task(t, r.api("DELETE", "/v1/disks/"+r.need(t, "disk"), nil))
		}},
		{"ProjectsAPI.ExcludeQuota DELETE /v1/projects/{id}/quota (task DELETE_QUOTA)", func(t *testing.T) {
			spec := sdkQuotaSpec{"vm.memory": {Unit: "GB", Limit: 64}}
			tk := r.task(t, r.api("DELETE", "/v1/projects/"+r.need(t, "project")+"/quota", mustJSON(t, spec)))
			if tk.Operation != "DELETE_QUOTA" {
				t.Fatalf("the quota exclusion ran as %s; Photon named it DELETE_QUOTA", tk.Operation)
			}
		}},
		{"ZonesAPI.Create and Delete POST /v1/zones, DELETE /v1/zones/{id} (tasks CREATE_ZONE, DELETE_ZONE)", func(t *testing.T) {
			tk := r.task(t, r.api("POST", "/v1/zones", mustJSON(t, sdkZoneCreateSpec{Name: "sdk-zone"})))
			var z sdkZone
			raw := r.ok(t, r.api("GET", "/v1/zones/"+tk.Entity.ID, nil), &z)
			jsonType(t, raw, "string", "name")
			del := r.task(t, r.api("DELETE", "/v1/zones/"+tk.Entity.ID, nil))
			if tk.Operation != "CREATE_ZONE" || del.Operation != "DELETE_ZONE" {
				t.Fatalf("zone tasks ran as %s and %s; Photon named them CREATE_ZONE and DELETE_ZONE", tk.Operation, del.Operation)
			}
		}},
		{"SystemAPI.GetSystemVms GET /v1/system/vms", func(t *testing.T) {
			var list sdkVMs
			raw := r.ok(t, r.api("GET", "/v1/system/vms", nil), &list)
			jsonType(t, raw, "array", "items")
		}},
	}
	var summary []string
	for _, row := range rows {
		ok := t.Run(row.name, row.run)
		res := "works"
		if !ok {
			res = "FAILS"
		}
		summary = append(summary, res+"\t"+row.name)
	}
	t.Logf("SDK replay:\n%s", strings.Join(summary, "\n"))
}
