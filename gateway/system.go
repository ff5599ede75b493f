package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/photon-cloud/photon/events"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/store"
)

// System operations, as Photon names them in Tasks.
const (
	OpPauseSystem          = "PAUSE_SYSTEM"
	OpPauseBackgroundTasks = "PAUSE_BACKGROUND_TASKS"
	OpResumeSystem         = "RESUME_SYSTEM"
)

// Component statuses of GET /v1/system/status, as Photon reported them.
const (
	StatusReady        = "READY"
	StatusPartialError = "PARTIAL_ERROR"
	StatusError        = "ERROR"
	StatusUnreachable  = "UNREACHABLE"
)

// A Check reports the health of one component for GET /v1/system/status: nil is READY.
type Check func(ctx context.Context) error

// SystemID is the id of the one deployment record, Photon's "system".
const SystemID = "system"

type system struct {
	pb.UnimplementedSystemServer
	*core
	checks map[string]Check
	// httpAddr is where REST is served, for the auth endpoint in the info record.
	httpAddr func() string
}

func (s *system) GetSystemInfo(ctx context.Context, _ *pb.SystemRequest) (*pb.SystemInfo, error) {
	state, err := s.store.SystemState(ctx)
	if err != nil {
		return nil, err
	}
	hosts, err := s.store.ListHosts(ctx)
	if err != nil {
		return nil, err
	}
	// The image datastores are those that hold images.
	withImages := map[string]bool{}
	for _, h := range hosts {
		for _, d := range h.Datastores {
			if len(d.Images) > 0 {
				withImages[d.Name] = true
			}
		}
	}
	out := &pb.SystemInfo{Id: SystemID, Kind: "deployment", State: state, SelfLink: "/v1/system/info",
		Auth: &pb.SystemAuthInfo{Enabled: true}, Stats: &pb.SystemStatsInfo{},
		NetworkConfiguration: &pb.SystemNetworkConfiguration{}}
	for name := range withImages {
		out.ImageDatastores = append(out.ImageDatastores, name)
	}
	sort.Strings(out.ImageDatastores)
	if host, port, err := net.SplitHostPort(s.httpAddr()); err == nil {
		p, _ := strconv.Atoi(port)
		out.Auth.Endpoint, out.Auth.Port = host, int32(p)
	}
	var commit string
	out.BaseVersion, out.FullVersion, commit = buildVersion()
	out.GitCommitHash = &commit
	_, nsx := s.checks[ComponentNSX]
	out.NetworkConfiguration.SdnEnabled = nsx
	out.NetworkType = networkType(nsx)
	return out, nil
}

// Network types of /v1/system/info and /v1/info, as Photon named them.
const (
	NetworkSoftwareDefined = "SOFTWARE_DEFINED" // NSX
	NetworkPhysical        = "PHYSICAL"         // port groups
)

// networkType is the network type of a deployment with or without NSX.
func networkType(nsx bool) string {
	if nsx {
		return NetworkSoftwareDefined
	}
	return NetworkPhysical
}

// buildVersion is the running binary's version from its build information: the module
// version (base, without the leading v; "dev" for a build from a work tree), the VCS
// revision, and both together (full, with "-dirty" when the tree had changes).
func buildVersion() (base, full, commit string) {
	base = "dev"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return base, base, ""
	}
	if v := strings.TrimPrefix(bi.Main.Version, "v"); v != "" && v != "(devel)" {
		base = v
	}
	dirty := ""
	for _, st := range bi.Settings {
		switch st.Key {
		case "vcs.revision":
			commit = st.Value
		case "vcs.modified":
			if st.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	full = base
	if commit != "" {
		full += "-" + commit[:min(len(commit), 12)] + dirty
	}
	return base, full, commit
}

// ComponentNSX is the name of the NSX Manager's check, when networking goes through NSX.
const ComponentNSX = "NSX"

// GetSystemStatus checks Redis, the function runtime's event backlog, the hosts and every
// configured Check, each with a deadline, and sums them up.
func (s *system) GetSystemStatus(ctx context.Context, _ *pb.SystemRequest) (*pb.SystemStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var comps []*pb.SystemComponent
	start := time.Now()
	if err := s.store.Ping(ctx); err != nil {
		comps = append(comps, &pb.SystemComponent{Component: "REDIS", Status: StatusUnreachable, Message: err.Error()})
	} else {
		comps = append(comps, &pb.SystemComponent{Component: "REDIS", Status: StatusReady,
			Stats: map[string]string{"pingMs": fmt.Sprintf("%.2f", float64(time.Since(start).Microseconds())/1000)}})
	}
	comps = append(comps, s.functionsStatus(ctx), s.hostsStatus(ctx))
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := &pb.SystemComponent{Component: n, Status: StatusReady}
		if err := s.checks[n](ctx); err != nil {
			c.Status, c.Message = StatusUnreachable, err.Error()
		}
		comps = append(comps, c)
	}
	out := &pb.SystemStatus{Status: StatusReady, Components: comps}
	for _, c := range comps {
		switch {
		case c.Component == "REDIS" && c.Status != StatusReady:
			out.Status = StatusError // nothing works without the store
		case c.Status != StatusReady && out.Status == StatusReady:
			out.Status = StatusPartialError
		}
	}
	return out, nil
}

// backlogger is a broker that can tell how many events wait for a subscriber.
type backlogger interface {
	Backlog(ctx context.Context, subscriber string) (int64, error)
}

func (s *system) functionsStatus(ctx context.Context) *pb.SystemComponent {
	c := &pb.SystemComponent{Component: "FUNCTIONS", Status: StatusReady, Stats: map[string]string{}}
	b, ok := s.broker.(backlogger)
	if !ok {
		c.Message = "the broker reports no backlog"
		return c
	}
	var total int64
	for _, fn := range events.Functions() {
		n, err := b.Backlog(ctx, fn)
		if err != nil {
			c.Status, c.Message = StatusUnreachable, err.Error()
			return c
		}
		c.Stats[fn] = strconv.FormatInt(n, 10)
		total += n
	}
	c.Message = fmt.Sprintf("%d events waiting", total)
	return c
}

func (s *system) hostsStatus(ctx context.Context) *pb.SystemComponent {
	c := &pb.SystemComponent{Component: "HOSTS", Status: StatusReady, Stats: map[string]string{}}
	hosts, err := s.store.ListHosts(ctx)
	if err != nil {
		c.Status, c.Message = StatusUnreachable, err.Error()
		return c
	}
	by := map[string]int{}
	for _, h := range hosts {
		by[h.State]++
	}
	var parts []string
	for st, n := range by {
		c.Stats[st] = strconv.Itoa(n)
		parts = append(parts, fmt.Sprintf("%d %s", n, st))
	}
	sort.Strings(parts)
	c.Message = fmt.Sprintf("%d hosts", len(hosts))
	if len(parts) > 0 {
		c.Message += ": " + strings.Join(parts, ", ")
	}
	switch {
	case by[model.HostError] > 0 && by[model.HostReady] == 0:
		c.Status = StatusError
	case by[model.HostError] > 0:
		c.Status = StatusPartialError
	}
	return c
}

// GetSystemUsage counts what the whole cloud holds (tenants, projects, VMs, hosts): for
// system administrators only, as the counts span every tenant.
func (s *system) GetSystemUsage(ctx context.Context, _ *pb.SystemRequest) (*pb.SystemUsage, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	u, err := s.store.Usage(ctx)
	if err != nil {
		return nil, err
	}
	return &pb.SystemUsage{NumberHosts: int32(u.Hosts), NumberVms: int32(u.VMs), NumberTenants: int32(u.Tenants),
		NumberProjects: int32(u.Projects), NumberDatastores: int32(u.Datastores), NumberServices: int32(u.Services)}, nil
}

func (s *system) PauseSystem(ctx context.Context, _ *pb.SystemRequest) (*pb.Task, error) {
	return s.setState(ctx, OpPauseSystem, store.SystemPaused)
}

func (s *system) PauseBackgroundTasks(ctx context.Context, _ *pb.SystemRequest) (*pb.Task, error) {
	return s.setState(ctx, OpPauseBackgroundTasks, store.SystemBackgroundPaused)
}

func (s *system) ResumeSystem(ctx context.Context, _ *pb.SystemRequest) (*pb.Task, error) {
	return s.setState(ctx, OpResumeSystem, store.SystemReady)
}

// setState sets the system state and records it as a completed task on the system.
func (s *system) setState(ctx context.Context, op, state string) (*pb.Task, error) {
	if err := requireSystemAdmin(ctx); err != nil {
		return nil, err
	}
	old, err := s.store.SystemState(ctx)
	if err != nil {
		return nil, err
	}
	task := s.store.NewTask(taskID(ctx), op, model.Entity{ID: SystemID, Kind: "deployment"}, caller(ctx), nil)
	task.Properties = map[string]string{"previousState": old, "state": state}
	if err := s.store.Apply(ctx, s.store.AddTask(new(store.Batch), task)); err != nil {
		return nil, err
	}
	if _, err := s.store.SetSystemState(ctx, state); err != nil {
		return nil, err
	}
	s.settings.forget()
	return taskPB(task), nil
}

// mutable refuses a mutation while the system is paused.
func (c *core) mutable(ctx context.Context) error {
	state, _, err := c.settings.get(ctx, c.store)
	if err != nil {
		return err
	}
	if state == store.SystemPaused {
		return errs.New(errs.CodeSystemPaused, "the system is paused: no changes are taken until it is resumed (POST /v1/system/resume)")
	}
	return nil
}

// available answers GET /v1/available, for load balancers: no token needed.
func available(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{}"))
}
