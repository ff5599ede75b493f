package gateway_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSDKRoutes drives the routes of the SDK's last release line over REST, in order
// (a step may rely on the ones before it), and checks each answer's status and shape.
func TestSDKRoutes(t *testing.T) {
	h := newHarness(t)
	w := h.world(t)
	rest := newRESTClient(h)
	type step struct {
		name        string
		who         string
		verb, path  string
		body        string
		status      int      // 0: 2xx
		code        string   // the ApiError code of a refusal
		contains    []string // in the answer
		notContains []string
	}
	steps := []step{
		// Networks are routers.
		{name: "network get", who: userA1, verb: "GET", path: "/v1/networks/" + w.router,
			contains: []string{`"routingType":"ROUTED"`, `"cidr":"`, `"id":"` + w.router + `"`}},
		{name: "project networks", who: userA1, verb: "GET", path: "/v1/projects/" + w.p1 + "/networks",
			contains: []string{`"id":"` + w.router + `"`}},
		{name: "network subnets", who: userA1, verb: "GET", path: "/v1/networks/" + w.router + "/subnets",
			contains: []string{`"id":"` + w.subnet + `"`}},
		{name: "network of another project", who: userA2, verb: "GET", path: "/v1/networks/" + w.router, status: 404, code: "NotFound"},
		{name: "network create, isolated", who: userA1, verb: "POST", path: "/v1/projects/" + w.p1 + "/networks",
			body: `{"name":"n","routingType":"ISOLATED","privateIpCidr":"10.20.0.0/16"}`, status: 400, code: "InvalidEntity"},
		{name: "network create", who: userA1, verb: "POST", path: "/v1/projects/" + w.p1 + "/networks",
			body: `{"name":"n","routingType":"ROUTED","description":"d","privateIpCidr":"10.20.0.0/16"}`, contains: []string{`"operation":"CREATE_ROUTER"`}},
		// PATCH beside PUT; a wrong verb is 405 MethodNotAllowed.
		{name: "router patch", who: userA1, verb: "PATCH", path: "/v1/routers/" + w.router, body: `{"name":"r2"}`,
			contains: []string{`"operation":"UPDATE_ROUTER"`, `"state":"COMPLETED"`}},
		{name: "network patch", who: userA1, verb: "PATCH", path: "/v1/networks/" + w.router, body: `{"name":"r8"}`,
			contains: []string{`"operation":"UPDATE_ROUTER"`}},
		{name: "subnet patch", who: userA1, verb: "PATCH", path: "/v1/subnets/" + w.subnet, body: `{"name":"s9"}`,
			contains: []string{`"operation":"UPDATE_SUBNET"`}},
		{name: "wrong verb", who: sys, verb: "PUT", path: "/v1/flavors", body: `{}`, status: 405, code: "MethodNotAllowed"},
		{name: "wrong verb outside the REST mux", who: sys, verb: "DELETE", path: "/openapi.json", status: 405, code: "MethodNotAllowed"},
		{name: "no such path outside the REST mux", who: sys, verb: "GET", path: "/nowhere", status: 404, code: "NotFound"},
		// VM IAM in the SDK's shape; read in its default shape (bindings) and in entries.
		{name: "vm iam set bindings", who: adminA, verb: "POST", path: "/v1/vms/" + w.vm + "/iam",
			body: `[{"role":"viewer","subjects":["quinn","acme\\auditors"]}]`, contains: []string{`"operation":"SET_IAM_POLICY"`}},
		{name: "vm iam get", who: userA1, verb: "GET", path: "/v1/vms/" + w.vm + "/iam",
			contains: []string{`[{"role":"viewer","subjects":["quinn","acme\\auditors"]}]`}},
		{name: "vm iam get entries", who: userA1, verb: "GET", path: "/v1/vms/" + w.vm + "/iam?shape=entries",
			contains: []string{`{"principal":"quinn","roles":["viewer"]}`}},
		{name: "vm iam get bad shape", who: userA1, verb: "GET", path: "/v1/vms/" + w.vm + "/iam?shape=yaml", status: 400, code: "InvalidEntity"},
		// What a VM's policy grants: quinn (a user of another project) now sees the VM,
		// and may not operate it.
		{name: "vm viewer reads", who: userA2, verb: "GET", path: "/v1/vms/" + w.vm, contains: []string{`"id":"` + w.vm + `"`}},
		{name: "vm viewer may not stop", who: userA2, verb: "POST", path: "/v1/vms/" + w.vm + "/stop", status: 404, code: "NotFound"},
		{name: "vm viewer may not set iam", who: userA2, verb: "POST", path: "/v1/vms/" + w.vm + "/iam", body: `[]`, status: 403, code: "AccessForbidden"},
		{name: "project user may not set vm iam", who: userA1, verb: "POST", path: "/v1/vms/" + w.vm + "/iam", body: `[]`, status: 403, code: "AccessForbidden"},
		{name: "vm iam deltas", who: adminA, verb: "PATCH", path: "/v1/vms/" + w.vm + "/iam",
			body:     `[{"action":"REMOVE","role":"viewer","subject":"quinn"},{"action":"ADD","role":"owner","subject":"zoe"}]`,
			contains: []string{`"operation":"MODIFY_IAM_POLICY"`}},
		{name: "vm iam after deltas", who: userA1, verb: "GET", path: "/v1/vms/" + w.vm + "/iam",
			contains: []string{`{"role":"owner","subjects":["zoe"]}`, `{"role":"viewer","subjects":["acme\\auditors"]}`}, notContains: []string{"quinn"}},
		{name: "vm hidden again", who: userA2, verb: "GET", path: "/v1/vms/" + w.vm, status: 404, code: "NotFound"},
		{name: "both shapes in one entry", who: adminA, verb: "POST", path: "/v1/disks/" + w.disk + "/iam",
			body: `[{"principal":"a","roles":["viewer"],"role":"owner","subjects":["b"]}]`, status: 400, code: "InvalidEntity"},
		{name: "disk iam entries shape", who: adminA, verb: "POST", path: "/v1/disks/" + w.disk + "/iam",
			body: `[{"principal":"a","roles":["viewer","contributor"]}]`},
		{name: "disk iam get", who: userA1, verb: "GET", path: "/v1/disks/" + w.disk + "/iam",
			contains: []string{`[{"principal":"a","roles":["viewer","contributor"]}]`}},
		{name: "disk iam get bindings", who: userA1, verb: "GET", path: "/v1/disks/" + w.disk + "/iam?shape=bindings",
			contains: []string{`{"role":"contributor","subjects":["a"]}`, `{"role":"viewer","subjects":["a"]}`}},
		// Tenants keep Photon 1.2's shape until a change comes in the SDK's; a read answers
		// in the shape the policy was last written in.
		{name: "tenant delta object", who: sys, verb: "PATCH", path: "/v1/tenants/" + w.tenantA + "/iam",
			body: `{"principal":"carl","action":"ADD","role":"viewer"}`},
		{name: "tenant iam get after an object delta", who: sys, verb: "GET", path: "/v1/tenants/" + w.tenantA + "/iam",
			contains: []string{`{"principal":"carl","roles":["viewer"]}`}},
		{name: "tenant delta array", who: sys, verb: "PATCH", path: "/v1/tenants/" + w.tenantA + "/iam",
			body: `[{"action":"ADD","role":"contributor","subject":"carl"}]`},
		{name: "tenant iam get after an array delta", who: sys, verb: "GET", path: "/v1/tenants/" + w.tenantA + "/iam",
			contains: []string{`{"role":"contributor","subjects":["carl"]}`}},
		{name: "tenant iam get entries", who: sys, verb: "GET", path: "/v1/tenants/" + w.tenantA + "/iam?shape=entries",
			contains: []string{`{"principal":"carl","roles":["viewer","contributor"]}`}},
		{name: "delta of no shape", who: sys, verb: "PATCH", path: "/v1/tenants/" + w.tenantA + "/iam", body: `"add"`, status: 400, code: "InvalidJson"},
		{name: "empty delta list", who: sys, verb: "PATCH", path: "/v1/tenants/" + w.tenantA + "/iam", body: `[]`, status: 400, code: "InvalidEntity"},
		// Deployment.
		{name: "info", who: userA1, verb: "GET", path: "/v1/info", contains: []string{`"fullVersion":"`, `"networkType":"PHYSICAL"`}},
		{name: "system vms", who: sys, verb: "GET", path: "/v1/system/vms", notContains: []string{`"id"`}},
		{name: "system vms, not admin", who: adminA, verb: "GET", path: "/v1/system/vms", status: 403, code: "AccessForbidden"},
		{name: "flavor tasks", who: sys, verb: "GET", path: "/v1/flavors/" + w.flavor + "/tasks", contains: []string{`"operation":"CREATE_FLAVOR"`}},
		{name: "enable service type, bad type", who: sys, verb: "POST", path: "/v1/system/enable-service-type",
			body: `{"type":"MESOS"}`, status: 400, code: "InvalidEntity"},
		{name: "enable service type", who: sys, verb: "POST", path: "/v1/system/enable-service-type",
			body: `{"type":"KUBERNETES","imageId":"` + w.publicImage + `"}`, contains: []string{`"operation":"ENABLE_SERVICE_TYPE"`, `"state":"COMPLETED"`}},
		{name: "enable service type, no image", who: sys, verb: "POST", path: "/v1/system/enable-service-type",
			body: `{"type":"HARBOR"}`, status: 400, code: "InvalidEntity"},
		{name: "disable service type, no such image", who: sys, verb: "POST", path: "/v1/system/disable-service-type",
			body: `{"type":"HARBOR","imageId":"nope"}`, status: 404, code: "NotFound"},
		{name: "configure nsx", who: sys, verb: "POST", path: "/v1/system/configure-nsx",
			body: `{"nsxAddress":"10.0.0.1","floatingIpRootRange":{"start":"1.1.1.1","end":"1.1.1.9"}}`, status: 501, code: "NotImplemented"},
		{name: "image datastores", who: sys, verb: "POST", path: "/v1/infrastructure/image-datastores", body: `{"items":["ds1"]}`, status: 501, code: "NotImplemented"},
		{name: "sync hosts config", who: sys, verb: "POST", path: "/v1/infrastructure/sync-hosts-config",
			contains: []string{`"operation":"SYNC_HOSTS_CONFIG"`, `"state":"COMPLETED"`, `"hosts":"1"`}},
		// Floating IPs: no pool, none to release (the chains are driven end to end by
		// the dev cloud's TestFloatingIP).
		{name: "acquire floating ip, no pool", who: userA1, verb: "POST", path: "/v1/vms/" + w.vm + "/acquire_floating_ip",
			body: `{"networkId":""}`, status: 400, code: "StateError"},
		{name: "release floating ip, none", who: userA1, verb: "DELETE", path: "/v1/vms/" + w.vm + "/release_floating_ip", status: 400, code: "StateError"},
		{name: "acquire floating ip, another project", who: userA2, verb: "POST", path: "/v1/vms/" + w.vm + "/acquire_floating_ip",
			body: `{}`, status: 404, code: "NotFound"},
		{name: "host provision", who: sys, verb: "POST", path: "/v1/hosts/" + w.host + "/provision",
			contains: []string{`"operation":"PROVISION_HOST"`, `"state":"COMPLETED"`, `"hostd":"registered"`}},
		{name: "host provision, not admin", who: adminA, verb: "POST", path: "/v1/infrastructure/hosts/" + w.host + "/provision", status: 403, code: "AccessForbidden"},
		// Operation names the SDK expects.
		{name: "zone create", who: sys, verb: "POST", path: "/v1/zones", body: `{"name":"z-sdk"}`, contains: []string{`"operation":"CREATE_ZONE"`}},
		{name: "quota delete", who: sys, verb: "DELETE", path: "/v1/tenants/" + w.tenantA + "/quota",
			body: `{"vm.count":{"unit":"COUNT","limit":1}}`, contains: []string{`"operation":"DELETE_QUOTA"`}},
	}
	for _, s := range steps {
		var body []byte
		if s.body != "" {
			body = []byte(s.body)
		}
		out, err := rest.send(t, s.who, s.verb, s.path, "application/json", body)
		switch {
		case s.status == 0 && err != nil:
			t.Errorf("%s: %s %s: %v", s.name, s.verb, s.path, err)
			continue
		case s.status != 0:
			var e struct{ Code string }
			json.Unmarshal(out, &e)
			got := status.Convert(err).Message()
			if c := status.Code(err); c == codes.NotFound {
				got = "404 " + got
			} else if c == codes.PermissionDenied {
				got = "403 " + got
			}
			if err == nil || !strings.HasPrefix(got, strconv.Itoa(s.status)+" ") || e.Code != s.code {
				t.Errorf("%s: %s %s: got %v %s, want %d %s", s.name, s.verb, s.path, err, out, s.status, s.code)
			}
			continue
		}
		for _, c := range s.contains {
			if !strings.Contains(string(out), c) {
				t.Errorf("%s: %s %s: %s lacks %s", s.name, s.verb, s.path, out, c)
			}
		}
		for _, c := range s.notContains {
			if strings.Contains(string(out), c) {
				t.Errorf("%s: %s %s: %s has %s", s.name, s.verb, s.path, out, c)
			}
		}
	}
}
