package auth

import (
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// refreshEnv is a token endpoint over real Redis, with one user per test.
type refreshEnv struct {
	users *Users
	iss   *Issuer
	srv   *httptest.Server
	rdb   redis.UniversalClient
}

func newRefreshEnv(t *testing.T) *refreshEnv {
	t.Helper()
	rdb, prefix := newRedis(t)
	e := &refreshEnv{users: NewUsers(rdb, prefix), iss: NewIssuer(newKey(t), "https://photon.test", 30*time.Minute), rdb: rdb}
	e.users.cost = bcrypt.MinCost
	e.srv = httptest.NewServer(e.iss.TokenHandler(e.users))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *refreshEnv) put(t *testing.T, name, password string, groups ...string) {
	t.Helper()
	if err := e.users.Put(t.Context(), name, password, groups); err != nil {
		t.Fatal(err)
	}
}

// login runs the password grant as the SDK's GetTokenByPasswordGrant builds it.
func (e *refreshEnv) login(t *testing.T, name, password string) tokenReply {
	t.Helper()
	status, r := postToken(t, e.srv, "POST", fmt.Sprintf("grant_type=password&username=%s&password=%s&scope=%s", name, password, "openid offline_access rs_photon_platform at_groups"))
	if status != 200 {
		t.Fatalf("login %s: %d %+v", name, status, r)
	}
	return r
}

// refresh runs the refresh grant as the SDK's GetTokenByRefreshTokenGrant builds it.
func (e *refreshEnv) refresh(t testing.TB, token string) (int, tokenReply) {
	return postToken(t, e.srv, "POST", fmt.Sprintf("grant_type=refresh_token&refresh_token=%s", token))
}

// mustRefresh refreshes and checks the new access token's principal.
func (e *refreshEnv) mustRefresh(t *testing.T, token, subject string, groups ...string) tokenReply {
	t.Helper()
	status, r := e.refresh(t, token)
	if status != 200 {
		t.Fatalf("refresh: %d %+v", status, r)
	}
	if r.RefreshToken == "" || r.RefreshToken == token || r.IDToken != r.AccessToken || r.ExpiresIn != 1800 {
		t.Errorf("refresh response = %+v", r)
	}
	p, err := e.iss.Verify(r.AccessToken)
	if err != nil {
		t.Fatalf("refreshed access token: %v", err)
	}
	if p.Subject != subject || !slices.Equal(p.Groups, groups) {
		t.Errorf("refreshed principal = %+v, want %s %q", p, subject, groups)
	}
	return r
}

func (e *refreshEnv) mustRefuse(t *testing.T, token, why string) {
	t.Helper()
	if status, r := e.refresh(t, token); status != 400 || r.Error != "invalid_grant" || r.AccessToken != "" {
		t.Errorf("%s: refresh = %d %+v, want 400 invalid_grant", why, status, r)
	}
}

func TestRefreshToken(t *testing.T) {
	t.Parallel()
	e := newRefreshEnv(t)

	t.Run("rotates", func(t *testing.T) {
		t.Parallel()
		e.put(t, "rot", "pw", "g")
		r := e.login(t, "rot", "pw")
		// The SDK writes the token into a form unescaped.
		if url.QueryEscape(r.RefreshToken) != r.RefreshToken {
			t.Errorf("refresh token %q needs escaping in a form", r.RefreshToken)
		}
		for range 3 {
			r = e.mustRefresh(t, r.RefreshToken, "rot", "g")
		}
	})

	t.Run("one use; a replay revokes the family", func(t *testing.T) {
		t.Parallel()
		e.put(t, "replay", "pw")
		first := e.login(t, "replay", "pw")
		other := e.login(t, "replay", "pw") // another session: its own family
		second := e.mustRefresh(t, first.RefreshToken, "replay")
		e.mustRefuse(t, first.RefreshToken, "replayed token")
		e.mustRefuse(t, second.RefreshToken, "successor of a replayed token")
		e.mustRefresh(t, other.RefreshToken, "replay")
	})

	t.Run("groups are read again", func(t *testing.T) {
		t.Parallel()
		e.put(t, "grp", "pw", "old")
		r := e.login(t, "grp", "pw")
		// Put with the same password adds groups and keeps the session; so does a
		// change of membership.
		e.put(t, "grp", "pw", "new", SystemAdminsGroup)
		if _, err := e.users.RemoveMember(t.Context(), "old", "grp"); err != nil {
			t.Fatal(err)
		}
		e.mustRefresh(t, r.RefreshToken, "grp", "new", SystemAdminsGroup)
	})

	t.Run("new password ends the session", func(t *testing.T) {
		t.Parallel()
		e.put(t, "pwchange", "pw")
		r := e.login(t, "pwchange", "pw")
		e.put(t, "pwchange", "pw2")
		e.mustRefuse(t, r.RefreshToken, "after a password change")
	})

	t.Run("deleted user", func(t *testing.T) {
		t.Parallel()
		e.put(t, "gone", "pw")
		r1, r2 := e.login(t, "gone", "pw"), e.login(t, "gone", "pw")
		if err := e.users.Delete(t.Context(), "gone"); err != nil {
			t.Fatal(err)
		}
		e.mustRefuse(t, r1.RefreshToken, "deleted user")
		// Created again with the same password: a new user, the old sessions stay dead.
		e.put(t, "gone", "pw")
		e.mustRefuse(t, r2.RefreshToken, "user deleted and created again")
	})

	t.Run("concurrent use", func(t *testing.T) {
		t.Parallel()
		e.put(t, "race", "pw")
		r := e.login(t, "race", "pw")
		const n = 8
		var (
			wg  sync.WaitGroup
			mu  sync.Mutex
			won []tokenReply
		)
		for range n {
			wg.Go(func() {
				if status, got := e.refresh(t, r.RefreshToken); status == 200 {
					mu.Lock()
					won = append(won, got)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(won) != 1 {
			t.Fatalf("%d of %d concurrent refreshes with one token succeeded, want 1", len(won), n)
		}
		// The others were replays: the winner's successor is revoked with the family.
		e.mustRefuse(t, won[0].RefreshToken, "successor after concurrent replays")
	})

	t.Run("malformed", func(t *testing.T) {
		t.Parallel()
		e.put(t, "mal", "pw")
		r := e.login(t, "mal", "pw")
		family, secret, _ := strings.Cut(r.RefreshToken, ".")
		for _, tok := range []string{".", family, family + ".", "." + secret, family + "." + secret + "X",
			strings.ToLower(r.RefreshToken), "../" + r.RefreshToken, strings.Repeat("A", 300) + "." + secret} {
			e.mustRefuse(t, url.QueryEscape(tok), "token "+tok)
		}
		// A wrong secret for a known family counts as a replay.
		e.mustRefuse(t, r.RefreshToken, "after a wrong secret")
	})

	t.Run("stored as a hash, with a TTL", func(t *testing.T) {
		t.Parallel()
		e.put(t, "store", "pw")
		r := e.login(t, "store", "pw")
		family, secret, _ := strings.Cut(r.RefreshToken, ".")
		k := e.users.familyKey(family)
		h, err := e.rdb.HGetAll(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if h[fieldSubject] != "store" || h[fieldLive] != tokenHash(r.RefreshToken) {
			t.Errorf("family = %v", h)
		}
		for f, v := range h {
			if strings.Contains(v, secret) {
				t.Errorf("field %s holds the token's secret", f)
			}
		}
		ttl, err := e.rdb.PTTL(t.Context(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= DefaultRefreshTTL-time.Minute || ttl > DefaultRefreshTTL {
			t.Errorf("TTL = %v, want about %v", ttl, DefaultRefreshTTL)
		}
	})
}

func TestTokenHandlerRedisDown(t *testing.T) {
	t.Parallel()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	srv := httptest.NewServer(NewIssuer(newKey(t), "https://photon.test", time.Hour).TokenHandler(NewUsers(rdb, "x:")))
	t.Cleanup(srv.Close)
	for _, body := range []string{"grant_type=password&username=a&password=b", "grant_type=refresh_token&refresh_token=A.B"} {
		if status, r := postToken(t, srv, "POST", body); status != 500 || r.Error != "server_error" {
			t.Errorf("%s: %d %+v, want 500 server_error", body, status, r)
		}
	}
}
