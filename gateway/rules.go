package gateway

import (
	"context"
	"fmt"
	"strings"
	"text/template"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/errs"
	"github.com/photon-cloud/photon/shared/model"
	"github.com/photon-cloud/photon/shared/notify/rules"
	"github.com/photon-cloud/photon/shared/store"
)

// Rule limits.
const (
	// DefaultRuleRate is how often a rule acts at most, a minute, unless it says.
	DefaultRuleRate = 10
	maxRuleRate     = 600
	maxRuleActions  = 10
)

type rulesSvc struct {
	pb.UnimplementedRulesServer
	*core
}

// ruleScope checks the caller may manage (want contributor) or see (viewer) the rules of
// project id ("" for the system's, which are system administrators').
func (s *rulesSvc) ruleScope(ctx context.Context, projectID string) (*model.Project, error) {
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
		task := s.store.NewTask(taskID(ctx), "CREATE_RULE", model.Entity{ID: r.ID, Kind: store.KindRule}, caller(ctx), nil)
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
		if act.ForEach != "" && act.ForEach != rules.ForEachHostVMs {
			return nil, errs.Invalid("action %d: forEach is %q or empty", i, rules.ForEachHostVMs).WithData("field", "actions.forEach")
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
		task := s.store.NewTask(taskID(ctx), "DELETE_RULE", model.Entity{ID: r.ID, Kind: store.KindRule}, caller(ctx), nil)
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

// ActAs sends inbound event e as rule r's owner, with the owner's rights now, so the
// call is authorized, rate limited and audited as the owner's own (rules.Actor; the rule
// engine of shared/notify/rules calls it). started learns the id of the task the call
// makes before the task is written.
func (s *Server) ActAs(ctx context.Context, r *store.Rule, e cloudevents.Event, started func(task string)) error {
	p, err := s.core.withSystemRoles(ctx, auth.Principal{Subject: r.Owner.Subject, Groups: r.Owner.Groups})
	if err != nil {
		return fmt.Errorf("rule %s: the owner's roles: %w", r.ID, err)
	}
	actx := context.WithValue(auth.WithPrincipal(ctx, p), taskHookKey{}, started)
	tk, err := s.publish(actx, e)
	s.auditRule(r, e, tk, err)
	return err
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
