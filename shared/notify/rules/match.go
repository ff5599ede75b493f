package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/template"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/photon-cloud/photon/shared/store"
)

// matches reports whether e is one of r's events: in its scope, of a type, subject and
// data it filters for.
func matches(r *store.Rule, e cloudevents.Event) bool {
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

// action renders action i of r for event e (and item): an inbound event whose id
// derives from the rule, the event, the action and the item, so a redelivery of e
// starts nothing twice.
func action(r *store.Rule, i int, a store.RuleAction, e cloudevents.Event, item string, view map[string]any) (cloudevents.Event, error) {
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
