package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
)

// The servers below inject the faults the client must ride out; the client against the
// real API is exercised by cmd/photon/devcloud's TestCLIWalkthrough.

// TestRetries: a dropped connection, a 503 and a 429 are retried with the same
// Idempotency-Key; other 4xx are not retried.
func TestRetries(t *testing.T) {
	cases := []struct {
		name     string
		faults   []int // per attempt: 0 drops the connection, else that status
		wantErr  string
		tries    int // Options.Attempts
		attempts int // made
	}{
		{"drop, 503, 429, then ok", []int{0, 503, 429}, "", 5, 4},
		{"400 is final", []int{400}, "InvalidEntity", 5, 1},
		{"503 until out of attempts", []int{503, 503, 503}, "ServiceUnavailable", 3, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var keys []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				n := len(keys)
				keys = append(keys, r.Header.Get("Idempotency-Key"))
				mu.Unlock()
				if n < len(tc.faults) {
					switch f := tc.faults[n]; f {
					case 0:
						conn, _, _ := w.(http.Hijacker).Hijack()
						conn.Close()
					case 400:
						w.WriteHeader(f)
						fmt.Fprint(w, `{"code":"InvalidEntity","message":"bad","data":{}}`)
					default:
						w.Header().Set("Retry-After", "0")
						w.WriteHeader(f)
						fmt.Fprintf(w, `{"code":"%s","message":"busy","data":{}}`, map[int]string{503: "ServiceUnavailable", 429: "TooManyRequests"}[f])
					}
					return
				}
				w.WriteHeader(http.StatusCreated)
				fmt.Fprint(w, `{"id":"t1","operation":"CREATE_TENANT","state":"QUEUED","queuedTime":1700000000000,"unknownField":1}`)
			}))
			defer srv.Close()
			c, err := New(Options{URL: srv.URL, Token: "tok", Attempts: tc.tries, MaxBackoff: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			task, err := c.CreateTenant(t.Context(), &pb.TenantCreateSpec{Name: "acme"})
			var ae *APIError
			switch {
			case tc.wantErr == "" && (err != nil || task.GetId() != "t1" || task.GetQueuedTime() != 1700000000000):
				t.Fatalf("got %v, %v", task, err)
			case tc.wantErr != "" && (!errors.As(err, &ae) || ae.Code != tc.wantErr):
				t.Fatalf("got %v, want %s", err, tc.wantErr)
			}
			if len(keys) != tc.attempts {
				t.Fatalf("%d attempts, want %d", len(keys), tc.attempts)
			}
			for _, k := range keys {
				if k == "" || k != keys[0] {
					t.Fatalf("idempotency keys %q: want one, on every attempt", keys)
				}
			}
		})
	}
}

// TestRefresh: a 401 trades the refresh token for a new pair once, tells OnToken, and
// retries the call with the new access token; a token near its expiry is refreshed
// before the call.
func TestRefresh(t *testing.T) {
	var mu sync.Mutex
	grants := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case TokenPath:
			if r.PostFormValue("grant_type") != "refresh_token" || r.PostFormValue("refresh_token") != fmt.Sprintf("r%d", grants) {
				w.WriteHeader(400)
				fmt.Fprint(w, `{"error":"invalid_grant","error_description":"used up"}`)
				return
			}
			grants++
			fmt.Fprintf(w, `{"access_token":"a%d","refresh_token":"r%d","expires_in":3600}`, grants, grants)
		default:
			if r.Header.Get("Authorization") != fmt.Sprintf("Bearer a%d", grants) {
				w.WriteHeader(401)
				fmt.Fprint(w, `{"code":"ExpiredAuthToken","message":"expired","data":{}}`)
				return
			}
			fmt.Fprint(w, `{"id":"x","name":"acme"}`)
		}
	}))
	defer srv.Close()
	var saved []Token
	c, err := New(Options{URL: srv.URL, Token: "stale", RefreshToken: "r0", OnToken: func(t Token) { saved = append(saved, t) }})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetTenant(t.Context(), "x")
	if err != nil || got.GetName() != "acme" {
		t.Fatalf("get after refresh: %v %v", got, err)
	}
	if len(saved) != 1 || saved[0].Access != "a1" || saved[0].Refresh != "r1" || time.Until(saved[0].Expiry) < 59*time.Minute {
		t.Fatalf("tokens saved: %+v", saved)
	}
	// Near expiry: refreshed before the call, not after a 401.
	c.mu.Lock()
	c.tok.Expiry = time.Now().Add(10 * time.Second)
	c.mu.Unlock()
	if _, err := c.GetTenant(t.Context(), "x"); err != nil || len(saved) != 2 || saved[1].Access != "a2" {
		t.Fatalf("refresh before expiry: %v %+v", err, saved)
	}
}

// TestWait: Wait reports each new state of the task and ends a failed one with its
// step's error.
func TestWait(t *testing.T) {
	var mu sync.Mutex
	polls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		polls++
		switch {
		case polls < 3:
			fmt.Fprint(w, `{"id":"t","operation":"CREATE_VM","state":"STARTED","steps":[{"operation":"RESERVE","state":"STARTED"}]}`)
		default:
			fmt.Fprint(w, `{"id":"t","operation":"CREATE_VM","state":"ERROR","steps":[{"operation":"RESERVE","state":"ERROR","errors":[{"code":"QuotaError","message":"over quota"}]}]}`)
		}
	}))
	defer srv.Close()
	c, err := New(Options{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	task, err := c.Wait(t.Context(), "t", func(t *pb.Task) { seen = append(seen, t.GetState()) })
	var tf *TaskFailed
	if !errors.As(err, &tf) || tf.Err.Code != "QuotaError" || task.GetState() != TaskError {
		t.Fatalf("got %v, %v", task, err)
	}
	if len(seen) != 2 || seen[0] != "STARTED" || seen[1] != "ERROR" || polls != 3 {
		t.Fatalf("changes seen %v after %d polls: want STARTED once, then ERROR", seen, polls)
	}
}

func TestExpiryOf(t *testing.T) {
	// {"alg":"none"}.{"sub":"bob","exp":1700000000}.
	jwt := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJib2IiLCJleHAiOjE3MDAwMDAwMDB9.x"
	if got := expiryOf(jwt); !got.Equal(time.Unix(1700000000, 0)) {
		t.Fatalf("expiry %v", got)
	}
	if Subject(jwt) != "bob" || Subject("nope") != "" || !expiryOf("a.b").IsZero() {
		t.Fatal("subject or malformed token")
	}
}
