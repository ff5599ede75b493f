package gateway

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/gateway/rest"
	"github.com/photon-cloud/photon/shared/errs"
)

// An inbound event asks for one API call: its type names the call, its subject the
// entity the call acts on (a project for creates), its data the call's body as the REST
// API takes it. The call runs as the event's sender with their token, so it is
// authorized, rate limited and audited exactly like the API call itself.
type inboundCall struct {
	// doc says what the event does, for the catalogue.
	doc string
	// body is the request's body message (nil: the event carries no data).
	body func() proto.Message
	call func(ctx context.Context, s *Server, subject string, body proto.Message) (*pb.Task, error)
}

// InboundSuffix ends the type of every event that asks for an operation.
const InboundSuffix = ".requested"

// vmVerb is the inbound call of a VM verb that takes no body.
func vmVerb(doc string, verb func(*vms, context.Context, *pb.IdRequest) (*pb.Task, error)) inboundCall {
	return inboundCall{doc: doc, call: func(ctx context.Context, s *Server, subject string, _ proto.Message) (*pb.Task, error) {
		return verb(s.services.vms, ctx, &pb.IdRequest{Id: subject})
	}}
}

// inbound maps event types to the calls they stand for.
var inbound = map[string]inboundCall{
	"io.photon.vm.create.requested": {doc: "create a VM in project <subject>; data: a VmCreateSpec",
		body: func() proto.Message { return &pb.VmCreateSpec{} },
		call: func(ctx context.Context, s *Server, subject string, body proto.Message) (*pb.Task, error) {
			return s.services.vms.CreateVm(ctx, &pb.CreateVmRequest{ProjectId: subject, Spec: body.(*pb.VmCreateSpec)})
		}},
	"io.photon.vm.delete.requested":  vmVerb("delete VM <subject>", (*vms).DeleteVm),
	"io.photon.vm.start.requested":   vmVerb("start VM <subject>", (*vms).StartVm),
	"io.photon.vm.stop.requested":    vmVerb("stop VM <subject>", (*vms).StopVm),
	"io.photon.vm.restart.requested": vmVerb("restart VM <subject>", (*vms).RestartVm),
	"io.photon.vm.suspend.requested": vmVerb("suspend VM <subject>", (*vms).SuspendVm),
	"io.photon.vm.resume.requested":  vmVerb("resume VM <subject>", (*vms).ResumeVm),
	"io.photon.vm.tag.requested": {doc: "add a tag to VM <subject>; data: {\"value\"}",
		body: func() proto.Message { return &pb.VmTag{} },
		call: func(ctx context.Context, s *Server, subject string, body proto.Message) (*pb.Task, error) {
			return s.services.vms.AddVmTag(ctx, &pb.AddVmTagRequest{Id: subject, Tag: body.(*pb.VmTag)})
		}},
	"io.photon.vm.metadata.requested": {doc: "set VM <subject>'s metadata; data: {\"metadata\": {k: v}}",
		body: func() proto.Message { return &pb.VmMetadata{} },
		call: func(ctx context.Context, s *Server, subject string, body proto.Message) (*pb.Task, error) {
			return s.services.vms.SetVmMetadata(ctx, &pb.SetVmMetadataRequest{Id: subject, Metadata: body.(*pb.VmMetadata)})
		}},
	"io.photon.disk.create.requested": {doc: "create a persistent disk in project <subject>; data: a DiskCreateSpec",
		body: func() proto.Message { return &pb.DiskCreateSpec{} },
		call: func(ctx context.Context, s *Server, subject string, body proto.Message) (*pb.Task, error) {
			return s.services.disks.CreateDisk(ctx, &pb.CreateDiskRequest{ProjectId: subject, Spec: body.(*pb.DiskCreateSpec)})
		}},
	"io.photon.disk.delete.requested": {doc: "delete persistent disk <subject>",
		call: func(ctx context.Context, s *Server, subject string, _ proto.Message) (*pb.Task, error) {
			return s.services.disks.DeleteDisk(ctx, &pb.IdRequest{Id: subject})
		}},
}

// InboundTypes lists the event types POST /v1/events takes, with what each does.
func InboundTypes() map[string]string {
	out := make(map[string]string, len(inbound))
	for t, c := range inbound {
		out[t] = c.doc
	}
	return out
}

// publish starts the operation event e asks for, as the caller in ctx.
func (s *Server) publish(ctx context.Context, e cloudevents.Event) (*pb.Task, error) {
	if err := e.Validate(); err != nil {
		return nil, errs.Invalid("not a CloudEvent: %v", err)
	}
	c, ok := inbound[e.Type()]
	if !ok {
		return nil, errs.Invalid("event type %q starts no operation; types: %s", e.Type(),
			strings.Join(slices.Sorted(maps.Keys(inbound)), ", ")).WithData("field", "type")
	}
	if e.Subject() == "" {
		return nil, errs.Invalid("a %s event names the entity it acts on in its subject", e.Type()).WithData("field", "subject")
	}
	var body proto.Message
	if c.body != nil {
		body = c.body()
		if len(e.Data()) == 0 {
			return nil, errs.Invalid("a %s event carries data", e.Type()).WithData("field", "data")
		}
		if err := (rest.Marshaler{}).Unmarshal(e.Data(), body); err != nil {
			return nil, errs.New(errs.CodeInvalidJSON, "the data of a %s event: %v", e.Type(), err)
		}
	}
	// The event's source and id name it: a redelivery is an idempotent retry.
	md, _ := metadata.FromIncomingContext(ctx)
	md = metadata.Join(md, metadata.Pairs("idempotency-key", "event:"+e.Source()+":"+e.ID()))
	return c.call(metadata.NewIncomingContext(ctx, md), s, e.Subject(), body)
}

// PublishEvent is the gRPC side of POST /v1/events.
func (s *eventsSvc) PublishEvent(ctx context.Context, req *pb.CloudEvent) (*pb.Task, error) {
	e := cloudevents.NewEvent(cloudevents.VersionV1)
	if v := req.GetSpecVersion(); v != "" {
		e.SetSpecVersion(v)
	}
	e.SetID(req.GetId())
	e.SetSource(req.GetSource())
	e.SetType(req.GetType())
	if req.GetSubject() != "" {
		e.SetSubject(req.GetSubject())
	}
	for k, v := range req.GetAttributes() {
		if err := e.Context.SetExtension(k, v); err != nil {
			return nil, errs.Invalid("attribute %q: %v", k, err)
		}
	}
	switch d := req.GetData().(type) {
	case *pb.CloudEvent_TextData:
		_ = e.SetData(cloudevents.ApplicationJSON, []byte(d.TextData))
	case *pb.CloudEvent_BinaryData:
		_ = e.SetData(cloudevents.ApplicationJSON, d.BinaryData)
	}
	return s.srv.publish(ctx, e)
}

type eventsSvc struct {
	pb.UnimplementedEventsServer
	srv *Server
}

// maxEventBytes bounds an inbound event.
const maxEventBytes = 1 << 20

// publishHTTP serves POST /v1/events: a CloudEvent in binary or structured content mode.
func (s *Server) publishHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxEventBytes)
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		rest.ErrorHandler(r.Context(), nil, &rest.Marshaler{}, w, r, errs.Invalid("not a CloudEvent: %v", err))
		return
	}
	tk, err := s.publish(r.Context(), *e)
	if err != nil {
		rest.ErrorHandler(r.Context(), nil, &rest.Marshaler{}, w, r, err)
		return
	}
	b, err := (rest.Marshaler{}).Marshal(tk)
	if err != nil {
		rest.ErrorHandler(r.Context(), nil, &rest.Marshaler{}, w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(b)
}
