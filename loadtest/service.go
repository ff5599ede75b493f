package loadtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Service measures one Kubernetes service's create: from the API call to READY, each
// step of its chain, and the create chains of its node VMs (its sub-tasks).
type Service struct {
	Client  *Client
	Fixture Fixture
	// Workers and Batch are the cluster's worker count and workerBatchExpansionSize (0:
	// all at once).
	Workers, Batch int
	// Poll is how often the task is read (default 50 ms).
	Poll time.Duration
}

// ServiceResult is what a service create measured.
type ServiceResult struct {
	Workers, Nodes int
	State          string
	Elapsed        time.Duration
	// Steps are the service chain's steps in order, with how long each took.
	Steps []StepTime
	// NodeP50 and NodeP99 are the node VMs' create chains, end to end.
	NodeP50, NodeP99 time.Duration
}

// StepTime is how long one step of a chain took.
type StepTime struct {
	Operation string
	Took      time.Duration
}

// ResultLine is the RESULT line of a service run.
func (r ServiceResult) ResultLine() string {
	var b strings.Builder
	fmt.Fprintf(&b, "RESULT service workers=%d nodes=%d state=%s seconds=%.1f node_p50_ms=%d node_p99_ms=%d",
		r.Workers, r.Nodes, r.State, r.Elapsed.Seconds(), r.NodeP50.Milliseconds(), r.NodeP99.Milliseconds())
	for _, s := range r.Steps {
		fmt.Fprintf(&b, " %s_ms=%d", strings.ToLower(s.Operation), s.Took.Milliseconds())
	}
	return b.String()
}

// Do makes a routed subnet, enables KUBERNETES with the fixture's image, creates the
// service and waits for its task.
func (s Service) Do(ctx context.Context) (ServiceResult, error) {
	res := ServiceResult{Workers: s.Workers}
	var tk struct {
		Entity struct{ ID string } `json:"entity"`
		ID     string              `json:"id"`
	}
	wait := func(id string) (*Task, error) { return s.wait(ctx, id) }
	if err := s.Client.Do(ctx, "POST", "/v1/projects/"+s.Fixture.Project+"/networks", map[string]any{"name": s.Fixture.Name,
		"routingType": "ROUTED", "privateIpCidr": "10.0.0.0/16"}, &tk); err != nil {
		return res, err
	}
	if _, err := wait(tk.ID); err != nil {
		return res, err
	}
	if err := s.Client.Do(ctx, "POST", "/v1/networks/"+tk.Entity.ID+"/subnets", map[string]any{"name": s.Fixture.Name,
		"privateIpCidr": "10.0.0.0/20"}, &tk); err != nil {
		return res, err
	}
	if _, err := wait(tk.ID); err != nil {
		return res, err
	}
	subnet := tk.Entity.ID
	if err := s.Client.Do(ctx, "POST", "/v1/system/enable-service-type", map[string]any{"type": "KUBERNETES", "imageId": s.Fixture.Image}, nil); err != nil {
		return res, err
	}
	spec := map[string]any{"name": s.Fixture.Name, "type": "KUBERNETES", "vmFlavor": s.Fixture.Name + "-tiny",
		"diskFlavor": s.Fixture.Name + "-disk", "vmNetworkId": subnet, "workerCount": s.Workers, "workerBatchExpansionSize": s.Batch}
	t0 := time.Now()
	if err := s.Client.Do(ctx, "POST", "/v1/projects/"+s.Fixture.Project+"/services", spec, &tk); err != nil {
		return res, err
	}
	t, err := wait(tk.ID)
	if err != nil {
		return res, err
	}
	res.Elapsed, res.State = time.Since(t0), t.State
	for _, st := range t.Steps {
		res.Steps = append(res.Steps, StepTime{st.Operation, time.Duration(st.EndTime-st.StartedTime) * time.Millisecond})
	}
	nodes, err := s.Client.SubTasks(ctx, tk.ID)
	if err != nil {
		return res, err
	}
	var took []time.Duration
	for _, n := range nodes {
		if n.Done() {
			took = append(took, time.Duration(n.EndTime-n.QueuedTime)*time.Millisecond)
		}
	}
	slices.Sort(took)
	res.Nodes = len(took)
	if len(took) > 0 {
		res.NodeP50, res.NodeP99 = took[len(took)/2], took[min(len(took)-1, len(took)*99/100)]
	}
	return res, nil
}

// wait polls task id until it ends.
func (s Service) wait(ctx context.Context, id string) (*Task, error) {
	poll := s.Poll
	if poll <= 0 {
		poll = 50 * time.Millisecond
	}
	for {
		t, err := s.Client.GetTask(ctx, id)
		if err != nil {
			return nil, err
		}
		if t.Done() {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
	}
}
