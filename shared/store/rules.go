package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/model"
)

// ruleCauseTTL is how long a task's rule depth is kept: longer than any chain runs.
const ruleCauseTTL = 24 * time.Hour

// KindRule is the kind of automation rules.
const KindRule = "rule"

// Rule is an automation rule: when an outbound event matches Filter, each of Actions is
// sent as an inbound event (an API call) as Owner, the user who made the rule, with
// Owner's rights at that time. A rule of a project sees that project's events; a rule of
// no project (system administrators') sees every event.
type Rule struct {
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	TenantID  string       `json:"tenantId,omitempty"`
	ProjectID string       `json:"projectId,omitempty"`
	Owner     model.Caller `json:"owner"`
	Filter    RuleFilter   `json:"filter"`
	Actions   []RuleAction `json:"actions"`
	// MaxPerMinute bounds how often the rule acts (its actions count once per firing).
	MaxPerMinute int   `json:"maxPerMinute"`
	CreatedAt    int64 `json:"createdAt"`
}

// RuleFilter matches outbound events: by type (exact, or a prefix ending in "*"), by
// subject prefix, and by top-level data fields that must equal the given values.
type RuleFilter struct {
	Types         []string          `json:"types"`
	SubjectPrefix string            `json:"subjectPrefix,omitempty"`
	Data          map[string]string `json:"data,omitempty"`
}

// RuleAction is one inbound event a rule sends: its type (an "...requested" type) and
// text/template templates of its subject and JSON data, executed on the matching event.
// ForEach, when set, repeats the action for each item it names ("hostVms": the VMs on
// the host the event is about), the item given to the templates as .Item.
type RuleAction struct {
	Type    string `json:"type"`
	Subject string `json:"subject"`
	Data    string `json:"data,omitempty"`
	ForEach string `json:"forEach,omitempty"`
}

// scope is the scope a rule lives in, for names and lists: its project, or
// SystemScope.
func (r *Rule) scope() string {
	if r.ProjectID == "" {
		return model.SystemScope
	}
	return r.ProjectID
}

func (s *Store) rulesIdx(scope string) string { return s.key("idx", "rules", scope) }
func (s *Store) allRulesIdx() string          { return s.key("idx", "rules") }

// CreateRule writes the rule and its task; names are unique in a project (or among the
// system's rules).
func (s *Store) CreateRule(ctx context.Context, r *Rule, task *model.Task) error {
	b := new(Batch).Unique(s.name(KindRule, r.scope(), r.Name), r.ID, fmt.Sprintf("rule name %q", r.Name)).
		Put(s.entityKey(KindRule, r.ID), r).
		Index(s.rulesIdx(r.scope()), indexMember(r.CreatedAt, r.ID)).
		Index(s.allRulesIdx(), indexMember(r.CreatedAt, r.ID))
	s.bumpVersion(b, KindRule)
	if r.ProjectID != "" {
		b.Require(s.entityKey(model.KindProject, r.ProjectID), "Project #"+r.ProjectID)
	}
	return s.Apply(ctx, s.AddTask(b, task))
}

// DeleteRule deletes the rule and writes its task.
func (s *Store) DeleteRule(ctx context.Context, r *Rule, task *model.Task) error {
	b := new(Batch).Require(s.entityKey(KindRule, r.ID), "Rule #"+r.ID).
		Del(s.entityKey(KindRule, r.ID)).
		DelIfOwner(s.name(KindRule, r.scope(), r.Name), r.ID).
		Unindex(s.rulesIdx(r.scope()), indexMember(r.CreatedAt, r.ID)).
		Unindex(s.allRulesIdx(), indexMember(r.CreatedAt, r.ID))
	return s.Apply(ctx, s.AddTask(s.bumpVersion(b, KindRule), task))
}

// ListRules pages through the rules of a project ("" for the system's).
func (s *Store) ListRules(ctx context.Context, projectID string, size int, cursor string) (Page[Rule], error) {
	scope := projectID
	if scope == "" {
		scope = model.SystemScope
	}
	return List[Rule](ctx, s, s.rulesIdx(scope), KindRule, size, cursor)
}

// AllRules reads every rule, for the engine that runs them.
func (s *Store) AllRules(ctx context.Context) ([]*Rule, error) {
	var out []*Rule
	for cursor := ""; ; {
		page, err := List[Rule](ctx, s, s.allRulesIdx(), KindRule, MaxPageSize, cursor)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Items...)
		if cursor = page.Next; cursor == "" {
			return out, nil
		}
	}
}

// RuleCause records that task was started by a rule's action at depth (1 for an action
// of a rule fired by a user's change), so a chain of rules firing each other stops.
func (s *Store) RuleCause(ctx context.Context, task string, depth int) error {
	return s.rdb.Set(ctx, s.key("rulecause", task), depth, ruleCauseTTL).Err()
}

// RuleDepth is the depth RuleCause recorded for task, 0 when no rule started it.
func (s *Store) RuleDepth(ctx context.Context, task string) (int, error) {
	if task == "" {
		return 0, nil
	}
	n, err := s.rdb.Get(ctx, s.key("rulecause", task)).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}
