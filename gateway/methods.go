package gateway

import (
	"net/http"
	"sync"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/policy"
)

// apiMethod is what the gateway decides about an API method, derived once from its
// descriptor: authorization (Need), the pause (Mutates, WhilePaused) and the audit log
// (Mutates) read it from here, over gRPC and REST alike.
type apiMethod struct {
	// Mutates: the method changes something. It is one whose REST binding (the
	// google.api.http annotation) is not a GET, so that a REST request's verb says the
	// same as its method's descriptor.
	Mutates bool
	// Need is the role the method needs on the tenant, project or image it names:
	// contributor for a mutation or a method that answers with a Task (it starts a chain,
	// as GetMksTicket does), viewer for the rest. Methods that need more (owner, system
	// administrator) say so where they are served, on top of this.
	Need policy.Role
	// WhilePaused: a mutation a paused system still takes (resuming it).
	WhilePaused bool
}

// whilePaused are the mutations a paused system takes.
var whilePaused = map[string]bool{"/photon.v1.System/ResumeSystem": true}

// mutatingVerb is the rule of Mutates, for a REST request not yet routed to its method
// (uploads and inbound events are POSTs, and mutations too).
func mutatingVerb(verb string) bool {
	switch verb {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

type methodTable struct {
	byName map[string]apiMethod
	// pausedPaths are the REST paths of the WhilePaused methods, by verb and path.
	pausedPaths map[string]bool
	// byRoute names the gRPC method ("photon.v1.Vms/CreateVm") of each REST route, by verb
	// and path template as the binding writes it ("POST /v1/projects/{id}/vms"),
	// additional bindings included: the method label of a REST call's metrics.
	byRoute map[string]string
}

var methods = sync.OnceValue(func() methodTable {
	t := methodTable{byName: map[string]apiMethod{}, pausedPaths: map[string]bool{}, byRoute: map[string]string{}}
	task := (&pb.Task{}).ProtoReflect().Descriptor().FullName()
	protoregistry.GlobalFiles.RangeFilesByPackage("photon.v1", func(f protoreflect.FileDescriptor) bool {
		for i := range f.Services().Len() {
			s := f.Services().Get(i)
			for j := range s.Methods().Len() {
				md := s.Methods().Get(j)
				name := "/" + string(s.FullName()) + "/" + string(md.Name())
				verb, path := binding(md)
				m := apiMethod{Mutates: mutatingVerb(verb), Need: policy.Viewer, WhilePaused: whilePaused[name]}
				if m.Mutates || md.Output().FullName() == task {
					m.Need = policy.Contributor
				}
				if m.WhilePaused {
					t.pausedPaths[verb+" "+path] = true
				}
				t.byName[name] = m
				for _, route := range routes(md) {
					t.byRoute[route] = name[1:]
				}
			}
		}
		return true
	})
	return t
})

// binding is a method's REST verb and path; a method without one is a POST (it is
// reached over gRPC only, and is taken for a mutation).
func binding(md protoreflect.MethodDescriptor) (verb, path string) {
	r, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	return ruleBinding(r)
}

// ruleBinding is the verb and path of one HTTP rule (POST and "" for none).
func ruleBinding(r *annotations.HttpRule) (verb, path string) {
	switch p := r.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	}
	return http.MethodPost, ""
}

// routes are a method's REST bindings, "VERB /path/{var}", the additional ones too.
func routes(md protoreflect.MethodDescriptor) []string {
	r, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	if r == nil {
		return nil
	}
	var out []string
	for _, b := range append([]*annotations.HttpRule{r}, r.GetAdditionalBindings()...) {
		if verb, path := ruleBinding(b); path != "" {
			out = append(out, verb+" "+path)
		}
	}
	return out
}

// methodOf is what the gateway decides about the gRPC method fullMethod
// ("/photon.v1.Vms/StartVm"); a method it does not know is a mutation that needs
// contributor. The tokenless probes (health, reflection) change nothing.
func methodOf(fullMethod string) apiMethod {
	if m, ok := methods().byName[fullMethod]; ok {
		return m
	}
	if tokenless[fullMethod] {
		return apiMethod{Need: policy.Viewer}
	}
	return apiMethod{Mutates: true, Need: policy.Contributor}
}

// restCall is methodOf for a REST request before it is routed: its verb says whether
// it mutates, and its path whether a paused system takes it.
func restCall(r *http.Request) apiMethod {
	m := apiMethod{Mutates: mutatingVerb(r.Method), Need: policy.Viewer,
		WhilePaused: methods().pausedPaths[r.Method+" "+r.URL.Path]}
	if m.Mutates {
		m.Need = policy.Contributor
	}
	return m
}

// refusedWhilePaused reports whether a paused system refuses m.
func (m apiMethod) refusedWhilePaused() bool { return m.Mutates && !m.WhilePaused }

// servedOtherwise reports whether mux serves r's path with another method than r's, by a
// pattern of its own (not the catch-all "/").
func servedOtherwise(mux *http.ServeMux, r *http.Request) bool {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := mux.Handler(other); pattern != "" && pattern != "/" {
			return true
		}
	}
	return false
}
