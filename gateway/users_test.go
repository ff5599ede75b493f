package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/store"
)

// restAs sends a JSON body (nil for none) to path with token and returns the status and
// the decoded answer.
func restAs(t *testing.T, h *harness, token, verb, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	r, err := http.NewRequestWithContext(t.Context(), verb, "http://"+h.gw.HTTPAddr()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	r.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d, not a JSON object: %q", verb, path, res.StatusCode, raw)
	}
	return res.StatusCode, out
}

// tokenReply is the token endpoint's answer.
type tokenReply struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
	Error   string `json:"error"`
}

// grant posts form to the token endpoint, as Photon's clients log in and refresh.
func (h *harness) grant(t testing.TB, form url.Values) (int, tokenReply) {
	t.Helper()
	res, err := http.PostForm("http://"+h.gw.HTTPAddr()+auth.TokenPath, form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tk tokenReply
	json.NewDecoder(res.Body).Decode(&tk)
	return res.StatusCode, tk
}

// jsonOf decodes a JSON object literal of a test table.
func jsonOf(t *testing.T, s string) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("bad want %q: %v", s, err)
	}
	return out
}

// TestUsersREST walks the directory's REST API as a system administrator, step by
// step: each answer is compared whole (or, for errors, by its code).
func TestUsersREST(t *testing.T) {
	h := newHarness(t)
	admin := h.tokens[sys]
	const team = `/v1/system/groups/photon.local%5Cteam`
	steps := []struct {
		verb, path string
		body       any
		status     int
		want       string // the whole answer, or {"code": ...} for an error
	}{
		{"POST", "/v1/system/groups", map[string]any{"name": `photon.local\team`, "description": "the team"},
			200, `{"name":"photon.local\\team","description":"the team","kind":"group"}`},
		{"POST", "/v1/system/groups", map[string]any{"name": `photon.local\team`}, 400, `{"code":"NameTaken"}`},
		{"POST", "/v1/system/groups", map[string]any{"name": "team"}, 400, `{"code":"InvalidEntity"}`},
		{"POST", "/v1/system/users", map[string]any{"name": "alice@photon.local", "password": "correct horse", "groups": []string{`photon.local\team`}},
			200, `{"name":"alice@photon.local","groups":["photon.local\\team"],"kind":"user"}`},
		{"POST", "/v1/system/users", map[string]any{"name": "bob@photon.local", "password": "battery staple"},
			200, `{"name":"bob@photon.local","kind":"user"}`},
		{"POST", "/v1/system/users", map[string]any{"name": "alice@photon.local", "password": "correct horse"}, 400, `{"code":"NameTaken"}`},
		{"POST", "/v1/system/users", map[string]any{"name": "weak@photon.local", "password": "1234567"}, 400, `{"code":"InvalidEntity"}`},
		{"POST", "/v1/system/users", map[string]any{"name": "long@photon.local", "password": strings.Repeat("p", 73)}, 400, `{"code":"InvalidEntity"}`},
		{"POST", "/v1/system/users", map[string]any{"name": "<script>", "password": "correct horse"}, 400, `{"code":"InvalidEntity"}`},
		{"POST", "/v1/system/users", map[string]any{"name": "c@photon.local", "password": "correct horse", "groups": []string{`photon.local\none`}},
			404, `{"code":"NotFound"}`},
		{"GET", "/v1/system/users/alice@photon.local", nil, 200, `{"name":"alice@photon.local","groups":["photon.local\\team"],"kind":"user"}`},
		{"GET", "/v1/system/users/nobody@photon.local", nil, 404, `{"code":"NotFound"}`},
		{"POST", team + "/members", map[string]any{"user": "bob@photon.local"},
			200, `{"name":"photon.local\\team","description":"the team","members":["alice@photon.local","bob@photon.local"],"kind":"group"}`},
		{"POST", team + "/members", map[string]any{"user": "nobody@photon.local"}, 404, `{"code":"NotFound"}`},
		{"GET", "/v1/system/users/bob@photon.local", nil, 200, `{"name":"bob@photon.local","groups":["photon.local\\team"],"kind":"user"}`},
		{"DELETE", team + "/members/alice@photon.local", nil,
			200, `{"name":"photon.local\\team","description":"the team","members":["bob@photon.local"],"kind":"group"}`},
		{"GET", "/v1/system/groups/photon.local%5Cnone", nil, 404, `{"code":"NotFound"}`},
		{"POST", "/v1/system/users/alice@photon.local/password", map[string]any{"password": "new password"}, 200, `{}`},
		{"POST", "/v1/system/users/alice@photon.local/password", map[string]any{"password": "short"}, 400, `{"code":"InvalidEntity"}`},
		{"POST", "/v1/system/users/nobody@photon.local/password", map[string]any{"password": "new password"}, 404, `{"code":"NotFound"}`},
		{"DELETE", "/v1/system/users/bob@photon.local", nil, 200, `{}`},
		{"DELETE", "/v1/system/users/bob@photon.local", nil, 404, `{"code":"NotFound"}`},
		{"GET", team, nil, 200, `{"name":"photon.local\\team","description":"the team","kind":"group"}`},
		{"DELETE", team, nil, 200, `{}`},
		{"DELETE", "/v1/system/groups/photon%5CAdministrators", nil, 400, `{"code":"StateError"}`},
		{"GET", "/v1/user", nil, 200, `{"name":"root","groups":["photon\\Administrators"],"kind":"user"}`},
		{"POST", "/v1/user/password", map[string]any{"currentPassword": "wrong password", "newPassword": "new password"}, 403, `{"code":"AccessForbidden"}`},
		{"POST", "/v1/user/password", map[string]any{"currentPassword": matrixPassword, "newPassword": "short"}, 400, `{"code":"InvalidEntity"}`},
		{"POST", "/v1/user/password", map[string]any{"currentPassword": matrixPassword, "newPassword": "new password"}, 200, `{}`},
	}
	for _, s := range steps {
		st, got := restAs(t, h, admin, s.verb, s.path, s.body)
		want := jsonOf(t, s.want)
		if code, ok := want["code"]; ok {
			if st != s.status || got["code"] != code || got["message"] == "" {
				t.Errorf("%s %s: %d %v, want %d %s", s.verb, s.path, st, got, s.status, s.want)
			}
			continue
		}
		if st != s.status || !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s: %d %v, want %d %s", s.verb, s.path, st, got, s.status, s.want)
		}
	}

	t.Run("pages", func(t *testing.T) {
		var names []string
		pages := 0
		for path := "/v1/system/users?pageSize=2"; path != ""; pages++ {
			st, got := restAs(t, h, admin, "GET", path, nil)
			if st != 200 {
				t.Fatalf("GET %s: %d %v", path, st, got)
			}
			items, _ := got["items"].([]any)
			for _, it := range items {
				names = append(names, it.(map[string]any)["name"].(string))
			}
			path, _ = got["nextPageLink"].(string)
			if path != "" && !strings.HasPrefix(path, "/v1/system/users?") {
				t.Fatalf("nextPageLink %q", path)
			}
		}
		// The harness's five callers and alice.
		if want := []string{"alice", "alice@photon.local", "bert", "pat", "quinn", "root"}; !slices.Equal(names, want) || pages != 3 {
			t.Errorf("%d pages of %v, want 3 of %v", pages, names, want)
		}
		st, got := restAs(t, h, admin, "GET", "/v1/system/groups", nil)
		if items, _ := got["items"].([]any); st != 200 || len(items) != 0 {
			t.Errorf("groups: %d %v", st, got)
		}
	})
}

// TestUserJourney is the directory as a new user meets it: an administrator makes the
// user, who logs in with the password grant and sees nothing; a group that holds a
// project's role through IAM takes the user in, and after a refresh the user sees that
// project's VMs and no other project's. The user changes their own password (a wrong
// current one is DENIED in the audit log), and once deleted can refresh no more. Every
// change is in the audit log.
func TestUserJourney(t *testing.T) {
	h := newHarness(t)
	start := time.Now()
	w := h.world(t) // tenant A with projects p1 (a VM) and p2
	p2vm := h.must(t, m("Vms", "CreateVm"), &pb.CreateVmRequest{ProjectId: w.p2, Spec: &pb.VmCreateSpec{Name: "other", Flavor: "small",
		SourceImageId: w.publicImage, AttachedDisks: []*pb.AttachedDisk{{Name: "boot", Kind: "ephemeral-disk", Flavor: "disk", BootDisk: true}}}})
	admin := h.tokens[sys]
	const carol, team = "carol@photon.local", `photon.local\team`
	must := func(verb, path string, body any) map[string]any {
		t.Helper()
		st, out := restAs(t, h, admin, verb, path, body)
		if st != 200 && st != 201 {
			t.Fatalf("%s %s: %d %v", verb, path, st, out)
		}
		return out
	}
	must("POST", "/v1/system/groups", map[string]any{"name": team})
	must("POST", "/v1/system/users", map[string]any{"name": carol, "password": "correct horse"})

	grant := func(form url.Values) (int, tokenReply) { return h.grant(t, form) }
	login := func(password string) (int, tokenReply) {
		return grant(url.Values{"grant_type": {"password"}, "username": {carol}, "password": {password}, "scope": {"openid offline_access"}})
	}
	refresh := func(token string) (int, tokenReply) {
		return grant(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}})
	}
	st, tk := login("correct horse")
	if st != 200 || tk.Access == "" {
		t.Fatalf("login: %d", st)
	}
	// sees lists the VMs of each project the token sees, by project.
	sees := func(token string) map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for _, p := range []string{w.p1, w.p2, w.pb} {
			st, got := restAs(t, h, token, "GET", "/v1/projects/"+p+"/vms", nil)
			if st != 200 {
				continue
			}
			items, _ := got["items"].([]any)
			for _, it := range items {
				out[p] = append(out[p], it.(map[string]any)["id"].(string))
			}
		}
		return out
	}
	if got := sees(tk.Access); len(got) != 0 {
		t.Fatalf("carol sees %v before she has any role", got)
	}
	must("POST", "/v1/projects/"+w.p1+"/iam", []map[string]any{{"principal": team, "roles": []string{"contributor"}}})
	must("POST", "/v1/system/groups/"+url.PathEscape(team)+"/members", map[string]any{"user": carol})
	// Her token names the groups she had at login; the refreshed one names the new one.
	if got := sees(tk.Access); len(got) != 0 {
		t.Fatalf("carol's old token sees %v", got)
	}
	st, tk = refresh(tk.Refresh)
	if st != 200 {
		t.Fatalf("refresh: %d", st)
	}
	if got, want := sees(tk.Access), map[string][]string{w.p1: {w.vm}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("carol sees %v, want %v (p2's VM is %s)", got, want, p2vm)
	}
	st, got := restAs(t, h, tk.Access, "GET", "/v1/tenants/"+w.tenantA+"/projects", nil)
	if items, _ := got["items"].([]any); st != 200 || len(items) != 1 || items[0].(map[string]any)["id"] != w.p1 {
		t.Errorf("carol's projects: %d %v", st, got)
	}
	if st, got := restAs(t, h, tk.Access, "GET", "/v1/user", nil); st != 200 || !reflect.DeepEqual(got, jsonOf(t, `{"name":"carol@photon.local","groups":["photon.local\\team"],"kind":"user"}`)) {
		t.Errorf("GET /v1/user: %d %v", st, got)
	}
	if st, _ := restAs(t, h, tk.Access, "GET", "/v1/system/users", nil); st != 403 {
		t.Errorf("carol lists users: %d", st)
	}

	// Her own password: a wrong current one is refused, the right one changes it and
	// ends her refresh tokens.
	if st, got := restAs(t, h, tk.Access, "POST", "/v1/user/password", map[string]any{"currentPassword": "wrong horse", "newPassword": "battery staple"}); st != 403 {
		t.Fatalf("wrong current password: %d %v", st, got)
	}
	if st, got := restAs(t, h, tk.Access, "POST", "/v1/user/password", map[string]any{"currentPassword": "correct horse", "newPassword": "battery staple"}); st != 200 {
		t.Fatalf("own change: %d %v", st, got)
	}
	if st, _ := refresh(tk.Refresh); st != 400 {
		t.Errorf("refresh after the change: %d, want 400", st)
	}
	if st, _ := login("correct horse"); st != 400 {
		t.Errorf("login with the old password: %d", st)
	}
	st, tk = login("battery staple")
	if st != 200 {
		t.Fatalf("login with the new password: %d", st)
	}

	// Deleted: no refresh; the access token she holds lives until it expires.
	must("DELETE", "/v1/system/users/"+carol, nil)
	if st, _ := refresh(tk.Refresh); st != 400 {
		t.Errorf("refresh of a deleted user: %d, want 400", st)
	}
	if got := sees(tk.Access); len(got) != 1 {
		t.Errorf("the deleted user's access token sees %v until it expires", got)
	}
	if g := must("GET", "/v1/system/groups/"+url.PathEscape(team), nil); g["members"] != nil {
		t.Errorf("the deleted user is still a member: %v", g)
	}

	want := []struct{ subject, method, outcome string }{
		{"root", "POST /v1/system/groups", store.AuditAllowed},
		{"root", "POST /v1/system/users", store.AuditAllowed},
		{carol, "POST /openidconnect/token", store.AuditAllowed},
		{"root", "POST /v1/projects/" + w.p1 + "/iam", store.AuditAllowed},
		{"root", "POST /v1/system/groups/photon.local\\team/members", store.AuditAllowed},
		{"(refresh token)", "POST /openidconnect/token", store.AuditAllowed},
		{carol, "GET /v1/system/users", store.AuditDenied},
		{carol, "POST /v1/user/password", store.AuditDenied},
		{carol, "POST /v1/user/password", store.AuditAllowed},
		{"(refresh token)", "POST /openidconnect/token", store.AuditDenied},
		{carol, "POST /openidconnect/token", store.AuditDenied},
		{carol, "POST /openidconnect/token", store.AuditAllowed},
		{"root", "DELETE /v1/system/users/" + carol, store.AuditAllowed},
		{"(refresh token)", "POST /openidconnect/token", store.AuditDenied},
	}
	var events []*pb.AuditEvent
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		out, err := h.invoke(t, sys, m("Audit", "ListAuditEvents"), &pb.ListAuditEventsRequest{Since: start.UnixMilli(), PageSize: 1000})
		if err != nil {
			t.Fatal(err)
		}
		// The world was made over gRPC: keep the REST calls of the journey.
		events = slices.DeleteFunc(out.(*pb.AuditEventList).GetItems(), func(e *pb.AuditEvent) bool { return e.GetProtocol() == "grpc" })
		if len(events) >= len(want) {
			break
		}
	}
	slices.Reverse(events)
	var gotLog, wantLog []string
	for _, e := range events {
		gotLog = append(gotLog, e.GetSubject()+" "+e.GetMethod()+" "+e.GetOutcome())
	}
	for _, w := range want {
		wantLog = append(wantLog, w.subject+" "+w.method+" "+w.outcome)
	}
	if !slices.Equal(gotLog, wantLog) {
		t.Errorf("audit log:\n%s\nwant:\n%s", strings.Join(gotLog, "\n"), strings.Join(wantLog, "\n"))
	}
}

// TestLoginLimitREST: wrong passwords for one user name, at the token endpoint or in
// an own password change, are bounded together; past the bound the token endpoint
// answers 429 with Retry-After, even to the right password, and the audit log has
// every try as DENIED.
func TestLoginLimitREST(t *testing.T) {
	h := newHarness(t, func(o *gateway.Options) { o.Users.SetLoginLimit(auth.LoginLimit{Failures: 3, Window: time.Minute}) })
	base := "http://" + h.gw.HTTPAddr()
	try := func(password string) *http.Response {
		t.Helper()
		res, err := http.PostForm(base+auth.TokenPath, url.Values{"grant_type": {"password"}, "username": {"pat"}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	if res := try("guess one"); res.StatusCode != 400 {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	if st, got := restAs(t, h, h.tokens[userA1], "POST", "/v1/user/password", map[string]any{"currentPassword": "guess two", "newPassword": "new password"}); st != 403 {
		t.Fatalf("wrong current password: %d %v", st, got)
	}
	if res := try("guess three"); res.StatusCode != 400 {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	res := try(matrixPassword)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("the right password past the bound: %d (Retry-After %q)", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if st, got := restAs(t, h, h.tokens[userA1], "POST", "/v1/user/password", map[string]any{"currentPassword": matrixPassword, "newPassword": "new password"}); st != 429 {
		t.Fatalf("own change past the bound: %d %v", st, got)
	}
	// Another user name is not held back.
	res, err := http.PostForm(base+auth.TokenPath, url.Values{"grant_type": {"password"}, "username": {"quinn"}, "password": {matrixPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("another user: %d", res.StatusCode)
	}
	var denied int
	for deadline := time.Now().Add(10 * time.Second); denied < 5 && time.Now().Before(deadline); {
		out, err := h.invoke(t, sys, m("Audit", "ListAuditEvents"), &pb.ListAuditEventsRequest{Subject: "pat", Outcome: store.AuditDenied})
		if err != nil {
			t.Fatal(err)
		}
		denied = len(out.(*pb.AuditEventList).GetItems())
	}
	if denied != 5 {
		t.Errorf("%d of pat's tries are DENIED in the audit log, want 5", denied)
	}
}
