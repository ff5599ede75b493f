package loadtest

import (
	"context"
	"encoding/json"
	"net/url"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// GRPC talks to Photon's gRPC API with a bearer token.
type GRPC struct {
	Conn  *grpc.ClientConn
	Token string
}

func (g *GRPC) ctx(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+g.Token)
}

// CreateVMs implements API over gRPC; the spec is the REST JSON body.
func (g *GRPC) CreateVMs(ctx context.Context, project string, spec map[string]any) (*Task, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	var s pb.VmCreateSpec
	if err := protojson.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	t, err := pb.NewVmsClient(g.Conn).CreateVm(g.ctx(ctx), &pb.CreateVmRequest{ProjectId: project, Spec: &s})
	if err != nil {
		return nil, busy(err)
	}
	return taskOf(t)
}

// GetTask implements API over gRPC.
func (g *GRPC) GetTask(ctx context.Context, id string) (*Task, error) {
	t, err := pb.NewTasksClient(g.Conn).GetTask(g.ctx(ctx), &pb.IdRequest{Id: id})
	if err != nil {
		return nil, err
	}
	return taskOf(t)
}

// SubTasks implements API over gRPC.
func (g *GRPC) SubTasks(ctx context.Context, parent string) ([]*Task, error) {
	var out []*Task
	req := &pb.ListTasksRequest{ParentId: parent, PageSize: 1000}
	for {
		l, err := pb.NewTasksClient(g.Conn).ListTasks(g.ctx(ctx), req)
		if err != nil {
			return nil, err
		}
		for _, t := range l.GetItems() {
			tk, err := taskOf(t)
			if err != nil {
				return nil, err
			}
			out = append(out, tk)
		}
		// The link is a REST path; its pageLink parameter is the cursor.
		if req.PageLink = pageLinkOf(l.GetNextPageLink()); req.PageLink == "" {
			return out, nil
		}
	}
}

// taskOf reads a gRPC task as the REST JSON the load test decodes.
func taskOf(t *pb.Task) (*Task, error) {
	tk := &Task{ID: t.GetId(), State: t.GetState(), QueuedTime: t.GetQueuedTime(), EndTime: t.GetEndTime()}
	for _, s := range t.GetSteps() {
		step := Step{Operation: s.GetOperation(), State: s.GetState(), StartedTime: s.GetStartedTime(), EndTime: s.GetEndTime()}
		for _, e := range s.GetErrors() {
			step.Errors = append(step.Errors, StepError{Code: e.GetCode(), Message: e.GetMessage()})
		}
		tk.Steps = append(tk.Steps, step)
	}
	if p := t.GetProgress(); p != nil {
		tk.Progress = &struct {
			Total     int `json:"total"`
			Completed int `json:"completed"`
			Failed    int `json:"failed"`
			InFlight  int `json:"inFlight"`
		}{int(p.GetTotal()), int(p.GetCompleted()), int(p.GetFailed()), int(p.GetInFlight())}
	}
	return tk, nil
}

// pageLinkOf is the cursor in a nextPageLink.
func pageLinkOf(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return u.Query().Get("pageLink")
}

// busy turns RESOURCE_EXHAUSTED with a RetryInfo into a BusyError.
func busy(err error) error {
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		return err
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return &BusyError{RetryAfter: max(ri.GetRetryDelay().AsDuration(), 10*time.Millisecond)}
		}
	}
	return err
}
