package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/redis/go-redis/v9"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/store"
)

// Rule limits.
const (
	// MaxRuleDepth stops rules firing each other: an action of a rule fired by a change
	// that a rule's action made is one level deeper, and no rule fires at this depth.
	MaxRuleDepth = 3
	// DefaultRuleRate is how often a rule acts at most, a minute, unless it says.
	DefaultRuleRate = 10
	maxRuleRate     = 600
	maxRuleActions  = 10
	// forEachHostVMs repeats an action for each VM on the event's host.
	forEachHostVMs = "hostVms"
)

// OutboundStream is the stream of outbound events (the event catalogue) that rules
// consume, each entry's field "ce" a structured-mode CloudEvent.
const OutboundStream = "events:out"

type rulesSvc struct {
	pb.UnimplementedRulesServer
	*core
}

// ruleScope checks the caller may manage (want contributor) or see (viewer) the rules of
// project id ("" for the system's, which are system administrators').
func (s *rulesSvc) ruleScope(ctx context.Context, projectID string) (*store.Project, error) {
	if projectID == "" {
		return nil, requireSystemAdmin(ctx)
	}
	p, _, err := s.projectFor(ctx, projectID)
	return p, err
}

// rule reads a rule the caller may see (or, in a method that changes it, change).
func (s *rulesSvc) rule(ctx context.Context, id string) (*store.Rule, error) {
	r, err := store.Get[store.Rule](ctx, s.store, store.KindRule, id)
	if err != nil {
		return nil, err
	}
	if _, err := s.ruleScope(ctx, r.ProjectID); err != nil {
		if r.ProjectID == "" {
			return nil, errs.NotFound("Rule", id) // another's system rule is not there
		}
		return nil, err
	}
	return r, nil
}

func (s *rulesSvc) CreateRule(ctx context.Context, req *pb.CreateRuleRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		p, err := s.ruleScope(ctx, req.GetProjectId())
		if err != nil {
			return nil, err
		}
		r, err := ruleOf(req.GetSpec())
		if err != nil {
			return nil, err
		}
		r.ID, r.Owner, r.CreatedAt = newID(), caller(ctx), s.store.Now()
		if p != nil {
			r.ProjectID, r.TenantID = p.ID, p.TenantID
		}
		task := s.store.NewTask(taskID(ctx), "CREATE_RULE", store.Entity{ID: r.ID, Kind: store.KindRule}, caller(ctx), nil)
		task.TenantID, task.ProjectID = r.TenantID, r.ProjectID
		if err := s.store.CreateRule(ctx, r, task); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

// ruleOf checks a rule spec: a name, a filter on at least one type, one to ten actions
// whose types start operations and whose templates parse.
func ruleOf(spec *pb.RuleSpec) (*store.Rule, error) {
	r := &store.Rule{Name: strings.TrimSpace(spec.GetName()), MaxPerMinute: int(spec.GetMaxPerMinute()),
		Filter: store.RuleFilter{Types: spec.GetFilter().GetTypes(), SubjectPrefix: spec.GetFilter().GetSubjectPrefix(), Data: spec.GetFilter().GetData()}}
	switch {
	case r.Name == "":
		return nil, errs.Invalid("a rule needs a name").WithData("field", "name")
	case len(r.Filter.Types) == 0:
		return nil, errs.Invalid("a rule's filter names at least one event type").WithData("field", "filter.types")
	case len(spec.GetActions()) == 0 || len(spec.GetActions()) > maxRuleActions:
		return nil, errs.Invalid("a rule has 1 to %d actions", maxRuleActions).WithData("field", "actions")
	case r.MaxPerMinute < 0 || r.MaxPerMinute > maxRuleRate:
		return nil, errs.Invalid("maxPerMinute is 1 to %d (0: %d)", maxRuleRate, DefaultRuleRate).WithData("field", "maxPerMinute")
	}
	if r.MaxPerMinute == 0 {
		r.MaxPerMinute = DefaultRuleRate
	}
	for i, a := range spec.GetActions() {
		act := store.RuleAction{Type: a.GetType(), Subject: a.GetSubject(), Data: a.GetData(), ForEach: a.GetForEach()}
		if _, ok := inbound[act.Type]; !ok {
			return nil, errs.Invalid("action %d: %q starts no operation (see POST /v1/events)", i, act.Type).WithData("field", "actions.type")
		}
		if act.ForEach != "" && act.ForEach != forEachHostVMs {
			return nil, errs.Invalid("action %d: forEach is %q or empty", i, forEachHostVMs).WithData("field", "actions.forEach")
		}
		for _, t := range []string{act.Subject, act.Data} {
			if _, err := template.New("").Option("missingkey=error").Parse(t); err != nil {
				return nil, errs.Invalid("action %d: %v", i, err).WithData("field", "actions")
			}
		}
		if act.Subject == "" {
			return nil, errs.Invalid("action %d needs a subject template, e.g. {{.Subject}}", i).WithData("field", "actions.subject")
		}
		r.Actions = append(r.Actions, act)
	}
	return r, nil
}

func (s *rulesSvc) ListRules(ctx context.Context, req *pb.ListRulesRequest) (*pb.RuleList, error) {
	if _, err := s.ruleScope(ctx, req.GetProjectId()); err != nil {
		return nil, err
	}
	page, err := s.store.ListRules(ctx, req.GetProjectId(), int(req.GetPageSize()), req.GetPageLink())
	if err != nil {
		return nil, err
	}
	path := "/v1/rules"
	if req.GetProjectId() != "" {
		path = "/v1/projects/" + req.GetProjectId() + "/rules"
	}
	out := &pb.RuleList{NextPageLink: pageLink(path, req.GetPageSize(), page.Next)}
	for _, r := range page.Items {
		out.Items = append(out.Items, rulePB(r))
	}
	return out, nil
}

func (s *rulesSvc) GetRule(ctx context.Context, req *pb.IdRequest) (*pb.Rule, error) {
	r, err := s.rule(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return rulePB(r), nil
}

func (s *rulesSvc) DeleteRule(ctx context.Context, req *pb.IdRequest) (*pb.Task, error) {
	return s.idempotent(ctx, func(ctx context.Context) (*pb.Task, error) {
		r, err := s.rule(ctx, req.GetId())
		if err != nil {
			return nil, err
		}
		task := s.store.NewTask(taskID(ctx), "DELETE_RULE", store.Entity{ID: r.ID, Kind: store.KindRule}, caller(ctx), nil)
		task.TenantID, task.ProjectID = r.TenantID, r.ProjectID
		if err := s.store.DeleteRule(ctx, r, task); err != nil {
			return nil, err
		}
		return taskPB(task), nil
	})
}

func rulePB(r *store.Rule) *pb.Rule {
	out := &pb.Rule{Id: r.ID, Kind: store.KindRule, Name: r.Name, ProjectId: r.ProjectID, Owner: r.Owner.Subject,
		MaxPerMinute: int32(r.MaxPerMinute), SelfLink: "/v1/rules/" + r.ID,
		Filter: &pb.RuleFilter{Types: r.Filter.Types, SubjectPrefix: r.Filter.SubjectPrefix, Data: r.Filter.Data}}
	for _, a := range r.Actions {
		out.Actions = append(out.Actions, &pb.RuleAction{Type: a.Type, Subject: a.Subject, Data: a.Data, ForEach: a.ForEach})
	}
	return out
}

// runRules fires the rules on the outbound events, until ctx ends: it reads the stream
// in its consumer group "rules" (so gateways share the work and an event fires its rules
// once), acts, and acknowledges.
func (s *Server) runRules(ctx context.Context) {
	rdb, stream, group := s.core.store.Client(), s.core.store.Key(OutboundStream), "rules"
	consumer := "gateway-" + newID()
	if err := rdb.XGroupCreateMkStream(ctx, stream, group, "$").Err(); err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		s.opts.Logger.Error("rules: create consumer group", "err", err)
	}
	var rules []*store.Rule
	loaded := "-" // the version of rules; "-" is none yet
	for ctx.Err() == nil {
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: consumer,
			Streams: []string{stream, ">"}, Count: 64, Block: time.Second}).Result()
		if errors.Is(err, redis.Nil) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			s.opts.Logger.Warn("rules: read events", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		// The rules as they are now: their version is read for each batch of events and
		// the rules again when it changed, so a rule acts on the events that follow its
		// creation and not on those after its deletion.
		ver, err := s.core.store.Version(ctx, store.KindRule)
		if err == nil && ver != loaded {
			var rs []*store.Rule
			if rs, err = s.core.store.AllRules(ctx); err == nil {
				rules, loaded = rs, ver
			}
		}
		if err != nil {
			s.opts.Logger.Warn("rules: read rules", "err", err)
			continue // the batch stays pending, for a restart
		}
		for _, msg := range res[0].Messages {
			if raw, ok := msg.Values["ce"].(string); ok {
				var e cloudevents.Event
				if err := json.Unmarshal([]byte(raw), &e); err == nil {
					s.fire(ctx, rules, e)
				}
			}
			rdb.XAck(ctx, stream, group, msg.ID)
		}
	}
}

// fire runs the actions of the rules e matches.
func (s *Server) fire(ctx context.Context, rules []*store.Rule, e cloudevents.Event) {
	depth := -1
	for _, r := range rules {
		if !ruleMatches(r, e) {
			continue
		}
		if depth < 0 {
			task, _ := e.Extensions()["taskid"].(string)
			d, err := s.core.store.RuleDepth(ctx, task)
			if err != nil {
				s.opts.Logger.Warn("rules: read depth", "err", err)
				return
			}
			depth = d
		}
		if depth >= MaxRuleDepth {
			s.opts.Logger.Warn("rules: not fired: too deep", "rule", r.ID, "event", e.ID(), "depth", depth)
			continue
		}
		ok, err := s.core.store.Allow(ctx, store.RateCheck{Key: "rule:" + r.ID,
			Limit: store.RateLimit{Rate: float64(r.MaxPerMinute) / 60, Burst: r.MaxPerMinute}})
		if err != nil || !ok.OK {
			s.opts.Logger.Warn("rules: not fired: over its rate", "rule", r.ID, "event", e.ID(), "err", err)
			continue
		}
		s.act(ctx, r, e, depth+1)
	}
}

// ruleMatches reports whether e is one of r's events: in its scope, of a type, subject
// and data it filters for.
func ruleMatches(r *store.Rule, e cloudevents.Event) bool {
	if p, _ := e.Extensions()["projectid"].(string); r.ProjectID != "" && p != r.ProjectID {
		return false
	}
	if !slices.ContainsFunc(r.Filter.Types, func(t string) bool { return store.TypeMatches(t, e.Type()) }) ||
		!strings.HasPrefix(e.Subject(), r.Filter.SubjectPrefix) {
		return false
	}
	if len(r.Filter.Data) > 0 {
		var data map[string]any
		if json.Unmarshal(e.Data(), &data) != nil {
			return false
		}
		for k, v := range r.Filter.Data {
			if fmt.Sprint(data[k]) != v {
				return false
			}
		}
	}
	return true
}

// act sends r's actions for e as r's owner; the tasks they start are recorded at depth.
func (s *Server) act(ctx context.Context, r *store.Rule, e cloudevents.Event, depth int) {
	p, err := s.core.withSystemRoles(ctx, auth.Principal{Subject: r.Owner.Subject, Groups: r.Owner.Groups})
	if err != nil {
		s.opts.Logger.Warn("rules: owner's roles", "rule", r.ID, "err", err)
		return
	}
	actx := auth.WithPrincipal(ctx, p)
	actx = context.WithValue(actx, taskHookKey{}, func(task string) {
		if err := s.core.store.RuleCause(ctx, task, depth); err != nil {
			s.opts.Logger.Warn("rules: record depth", "rule", r.ID, "task", task, "err", err)
		}
	})
	var data map[string]any
	_ = json.Unmarshal(e.Data(), &data)
	view := map[string]any{"Type": e.Type(), "Subject": e.Subject(), "ID": e.ID(), "Data": data, "Ext": e.Extensions()}
	for i, a := range r.Actions {
		items := []string{""}
		if a.ForEach == forEachHostVMs {
			vms, err := s.core.store.VMsOnHost(ctx, e.Subject())
			if err != nil {
				s.opts.Logger.Warn("rules: host's VMs", "rule", r.ID, "host", e.Subject(), "err", err)
				continue
			}
			items = items[:0]
			for _, vm := range vms {
				items = append(items, vm.ID)
			}
		}
		for _, item := range items {
			view["Item"] = item
			out, err := ruleEvent(r, i, a, e, item, view)
			if err == nil {
				var tk *pb.Task
				tk, err = s.publish(actx, out)
				s.auditRule(r, out, tk, err)
			}
			if err != nil {
				s.opts.Logger.Warn("rules: action failed", "rule", r.ID, "action", i, "event", e.ID(), "err", err)
			}
		}
	}
}

// ruleEvent renders action i of r for event e (and item): an inbound event whose id
// derives from the rule, the event, the action and the item, so a redelivery of e
// starts nothing twice.
func ruleEvent(r *store.Rule, i int, a store.RuleAction, e cloudevents.Event, item string, view map[string]any) (cloudevents.Event, error) {
	render := func(t string) (string, error) {
		tpl, err := template.New("").Option("missingkey=error").Parse(t)
		if err != nil {
			return "", err
		}
		var b bytes.Buffer
		err = tpl.Execute(&b, view)
		return b.String(), err
	}
	out := cloudevents.NewEvent()
	subject, err := render(a.Subject)
	if err != nil {
		return out, err
	}
	h := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d/%s", r.ID, e.ID(), i, item)))
	out.SetID(hex.EncodeToString(h[:16]))
	out.SetSource("photon/rules/" + r.ID)
	out.SetType(a.Type)
	out.SetSubject(subject)
	if a.Data != "" {
		data, err := render(a.Data)
		if err != nil {
			return out, err
		}
		if err := out.SetData(cloudevents.ApplicationJSON, []byte(data)); err != nil {
			return out, err
		}
	}
	return out, nil
}

// auditRule records a rule's action in the audit log, as the API calls it stands for.
func (s *Server) auditRule(r *store.Rule, e cloudevents.Event, tk *pb.Task, err error) {
	ev := store.AuditEvent{Time: time.Now(), Subject: r.Owner.Subject, Groups: r.Owner.Groups, Method: e.Type(),
		Path: e.Subject(), TenantID: r.TenantID, ProjectID: r.ProjectID, Source: "rule " + r.ID, Protocol: "rule",
		Outcome: store.AuditAllowed, Status: 201}
	if err != nil {
		ae := errs.As(err)
		ev.Code, ev.Message, ev.Status, ev.Outcome = ae.Code, ae.Message, ae.HTTPStatus(), store.AuditFailed
		if ev.Status == 401 || ev.Status == 403 || ev.Status == 429 {
			ev.Outcome = store.AuditDenied
		}
	} else {
		ev.TaskID, ev.EntityID = tk.GetId(), tk.GetEntity().GetId()
	}
	s.audit.Record(ev)
}
