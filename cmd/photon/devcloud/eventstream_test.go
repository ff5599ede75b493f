package devcloud_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/photon-cloud/photon/cmd/photon/devcloud"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// sse is one open GET /v1/events/stream: its events as they come.
type sse struct {
	events chan sseEvent
	stop   context.CancelFunc
}

type sseEvent struct {
	ID, Type  string
	Subject   string `json:"subject"`
	ProjectID string `json:"projectid"`
}

// stream opens the event stream with c's token and returns once the server has
// subscribed (its first comment came).
func (c *client) stream(query string) *sse {
	c.t.Helper()
	ctx, cancel := context.WithCancel(c.t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.base+"/v1/events/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		c.t.Fatalf("event stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sse{events: make(chan sseEvent, 1024), stop: cancel}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() && sc.Text() != "" { // the opening comment block
	}
	go func() {
		defer res.Body.Close()
		defer close(s.events)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				e.ID = line[4:]
			case strings.HasPrefix(line, "event: "):
				e.Type = line[7:]
			case strings.HasPrefix(line, "data: "):
				json.Unmarshal([]byte(line[6:]), &e)
			case line == "" && e.ID != "":
				s.events <- e
				e = sseEvent{}
			}
		}
	}()
	return s
}

// until reads events until one of type typ about subject comes, and returns those read.
func (s *sse) until(t *testing.T, typ, subject string) []sseEvent {
	t.Helper()
	var seen []sseEvent
	deadline := time.After(60 * time.Second)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				t.Fatalf("stream ended before %s of %s", typ, subject)
			}
			seen = append(seen, e)
			if e.Type == typ && e.Subject == subject {
				return seen
			}
		case <-deadline:
			t.Fatalf("no %s of %s within a minute", typ, subject)
		}
	}
}

// TestEventStream reads the outbound events live over SSE: a VM's events reach the
// system administrator and a user of its project, not a user of another project; the
// stream refuses a caller without a token and ends when the client goes away.
func TestEventStream(t *testing.T) {
	t.Parallel()
	c, admin := cloud(t, 1)
	f := setup(t, admin, 10)
	other := admin.create("/v1/tenants/"+f.tenant+"/projects", map[string]any{"name": "other"}).Entity.ID
	admin.mutate("POST", "/v1/projects/"+f.project+"/set_security_groups", map[string]any{"items": []string{"acme\\devs"}}, "SET_PROJECT_SECURITY_GROUPS")
	admin.mutate("POST", "/v1/projects/"+other+"/set_security_groups", map[string]any{"items": []string{"acme\\ops"}}, "SET_PROJECT_SECURITY_GROUPS")
	dave := as(t, admin, c.Issuer, "dave", "acme\\devs")
	erin := as(t, admin, c.Issuer, "erin", "acme\\ops")

	anon := *admin
	anon.token = ""
	if st := anon.do("GET", "/v1/events/stream", nil, nil); st != http.StatusUnauthorized {
		t.Fatalf("a stream without a token: %d", st)
	}
	if st := erin.do("GET", "/v1/events/stream?projectId="+f.project, nil, nil); st != http.StatusNotFound {
		t.Fatalf("erin's stream of dave's project: %d", st)
	}

	streams := map[string]*sse{"admin": admin.stream(""), "dave": dave.stream(""), "erin": erin.stream(""),
		"dave's project": dave.stream("?projectId=" + f.project + "&types=io.photon.vm.")}
	vmID := admin.create("/v1/projects/"+f.project+"/vms", vmSpec(f, "live")).Entity.ID
	// Then one in erin's project: events come in commit order, so once erin has seen hers
	// she would have seen the first VM's, were she shown them.
	sentinel := admin.create("/v1/projects/"+other+"/vms", vmSpec(fixture{f.tenant, other, f.image}, "hers")).Entity.ID

	cases := []struct {
		reader       string
		until        string // the VM whose vm.started ends the read
		wantVM       bool   // the first VM's events are among those read
		onlyVMEvents bool
	}{
		{"admin", vmID, true, false},
		{"dave", vmID, true, false},
		{"dave's project", vmID, true, true},
		{"erin", sentinel, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.reader, func(t *testing.T) {
			seen := streams[tc.reader].until(t, "io.photon.vm.started", tc.until)
			var got bool
			for _, e := range seen {
				got = got || e.Subject == vmID
				if tc.onlyVMEvents && (!strings.HasPrefix(e.Type, "io.photon.vm.") || e.ProjectID != f.project) {
					t.Fatalf("a filtered stream sent %+v", e)
				}
				if e.ProjectID != "" && e.ProjectID != f.project && e.ProjectID != other {
					t.Fatalf("an event of an unknown project: %+v", e)
				}
			}
			if got != tc.wantVM {
				t.Fatalf("%s saw the VM's events: %v, want %v", tc.reader, got, tc.wantVM)
			}
		})
	}

	for _, s := range streams {
		s.stop()
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Feed.Readers() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d readers left after every client went away", c.Feed.Readers())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestEventStreamEndsWithItsGateway: a gateway that closes ends the event streams open on
// it at once (their clients reconnect elsewhere after the last event they saw), rather
// than holding its shutdown for a stream's lifetime.
func TestEventStreamEndsWithItsGateway(t *testing.T) {
	t.Parallel()
	o := devcloud.Options{RedisURL: storetest.URL(t), Prefix: storetest.Prefix(t),
		Hosts: 1, HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", AdminPassword: "s3cret", Heartbeat: time.Second}
	c, err := devcloud.Start(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			c.Close(context.WithoutCancel(t.Context()))
		}
	})
	admin := &client{t: t, base: "http://" + c.Gateway.HTTPAddr()}
	admin.token = admin.login("admin", "s3cret")
	streams := []*sse{admin.stream(""), admin.stream("?types=io.photon.vm.")}

	// A gateway that waits for the streams would still be waiting when this ends.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	closed = true
	if err := c.Close(ctx); err != nil {
		t.Fatalf("close with event streams open: %v", err)
	}
	for i, s := range streams {
		for open := true; open; {
			select {
			case _, open = <-s.events:
			case <-ctx.Done():
				t.Fatalf("stream %d still open after its gateway closed", i)
			}
		}
	}
}
