package gateway

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/photon-cloud/photon/shared/policy"
)

// TestOneRuleForMutation: authorization, the pause and the audit log read one table,
// derived from the descriptors, and a REST request's verb agrees with its method's.
func TestOneRuleForMutation(t *testing.T) {
	cases := []struct {
		method      string
		mutates     bool
		need        policy.Role
		whilePaused bool
	}{
		{"/photon.v1.Vms/CreateVm", true, policy.Contributor, false},
		{"/photon.v1.Vms/DeleteVm", true, policy.Contributor, false},
		{"/photon.v1.Vms/GetVm", false, policy.Viewer, false},
		{"/photon.v1.Vms/ListVms", false, policy.Viewer, false},
		{"/photon.v1.Vms/GetMksTicket", false, policy.Contributor, false}, // a GET that starts a chain
		{"/photon.v1.System/PauseSystem", true, policy.Contributor, false},
		{"/photon.v1.System/ResumeSystem", true, policy.Contributor, true},
		{"/photon.v1.Events/PublishEvent", true, policy.Contributor, false},
		{"/photon.v1.Nothing/Unknown", true, policy.Contributor, false},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			m := methodOf(tc.method)
			if m.Mutates != tc.mutates || m.Need != tc.need || m.WhilePaused != tc.whilePaused {
				t.Fatalf("methodOf = %+v, want mutates %v, need %v, while paused %v", m, tc.mutates, tc.need, tc.whilePaused)
			}
		})
	}
	t.Run("every method's REST binding says the same", func(t *testing.T) {
		if len(methods().byName) < 50 {
			t.Fatalf("only %d methods in the table", len(methods().byName))
		}
		for name, m := range methods().byName {
			d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(strings.ReplaceAll(name[1:], "/", ".")))
			if err != nil {
				t.Fatal(err)
			}
			verb, path := binding(d.(protoreflect.MethodDescriptor))
			if path == "" {
				continue // served over REST by a handler of its own (PublishEvent: POST /v1/events)
			}
			path = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(path, "x")
			rc := restCall(httptest.NewRequest(verb, path, nil))
			if rc.Mutates != m.Mutates || rc.refusedWhilePaused() != m.refusedWhilePaused() {
				t.Errorf("%s (%s %s): REST says %+v, gRPC %+v", name, verb, path, rc, m)
			}
		}
	})
	t.Run("uploads and inbound events are mutations", func(t *testing.T) {
		for _, p := range []string{"/v1/images", "/v1/vms/x/attach_iso", "/v1/events"} {
			if rc := restCall(httptest.NewRequest("POST", p, nil)); !rc.refusedWhilePaused() {
				t.Errorf("POST %s is taken while paused", p)
			}
		}
	})
}
