package auth

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/photon-cloud/photon/shared/errs"
)

func newDirectory(t *testing.T) (*Users, redis.UniversalClient) {
	t.Helper()
	rdb, prefix := newRedis(t)
	return NewUsers(rdb, prefix).WithCost(bcrypt.MinCost), rdb
}

// consistent fails t unless every user is in the member list of each of its groups and
// every member of a group has it among its groups, and both indexes name exactly the
// records there are.
func consistent(t *testing.T, u *Users) {
	t.Helper()
	ctx := t.Context()
	users, _, err := u.List(ctx, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	groups, _, err := u.ListGroups(ctx, 1000, "")
	if err != nil {
		t.Fatal(err)
	}
	members := map[string][]string{}
	for _, g := range groups {
		members[g.Name] = g.Members
	}
	for _, us := range users {
		for _, g := range us.Groups {
			if m, ok := members[g]; !ok || !slices.Contains(m, us.Name) {
				t.Errorf("%s has group %s, whose members are %v (group exists: %t)", us.Name, g, m, ok)
			}
		}
	}
	for _, g := range groups {
		for _, m := range g.Members {
			us, err := u.Get(ctx, m)
			if err != nil || !slices.Contains(us.Groups, g.Name) {
				t.Errorf("group %s lists %s, whose groups are %v (%v)", g.Name, m, us.Groups, err)
			}
		}
	}
	for _, idx := range []struct{ key, kind string }{{u.usersIdx(), "user:"}, {u.groupsIdx(), "group:"}} {
		names, err := u.rdb.ZRange(ctx, idx.key, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if u.rdb.Exists(ctx, u.prefix+idx.kind+n).Val() != 1 {
				t.Errorf("index %s names %s, which has no record", idx.key, n)
			}
		}
	}
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	u, _ := newDirectory(t)
	ctx := t.Context()
	if _, err := u.CreateGroup(ctx, `photon.local\ops`, "operators"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Create(ctx, "taken@photon.local", "long enough", nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, user, password string
		groups               []string
		code                 string // "" for success
	}{
		{"plain", "alice@photon.local", "correct horse", nil, ""},
		{"with a group", "bob@photon.local", "correct horse", []string{`photon.local\ops`}, ""},
		{"dots and dashes", "c.d-e_f@sub.example-1.com", "correct horse", nil, ""},
		{"eight characters, more bytes", "g@photon.local", "ééééééé1", nil, ""},
		{"72 bytes", "h@photon.local", strings.Repeat("x", 72), nil, ""},
		{"taken", "taken@photon.local", "correct horse", nil, errs.CodeNameTaken},
		{"no domain", "alice", "correct horse", nil, errs.CodeInvalidEntity},
		{"group form", `photon.local\alice`, "correct horse", nil, errs.CodeInvalidEntity},
		{"markup", "<script>@x.com", "correct horse", nil, errs.CodeInvalidEntity},
		{"NUL", "a\x00b@x.com", "correct horse", nil, errs.CodeInvalidEntity},
		{"too long", strings.Repeat("a", 60) + "@" + strings.Repeat("b", 70) + ".com", "correct horse", nil, errs.CodeInvalidEntity},
		{"empty", "", "correct horse", nil, errs.CodeInvalidEntity},
		{"short password", "i@photon.local", "seven77", nil, errs.CodeInvalidEntity},
		{"73-byte password", "j@photon.local", strings.Repeat("x", 73), nil, errs.CodeInvalidEntity},
		{"unknown group", "k@photon.local", "correct horse", []string{`photon.local\nobody`}, errs.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := u.Create(t.Context(), tt.user, tt.password, tt.groups)
			if codeOf(err) != tt.code || (tt.code == "" && err != nil) {
				t.Fatalf("Create = %v, want code %q", err, tt.code)
			}
			if tt.code != "" {
				if tt.code != errs.CodeNameTaken {
					if _, err := u.Get(t.Context(), tt.user); codeOf(err) != errs.CodeNotFound {
						t.Errorf("a refused user was made: Get = %v", err)
					}
				}
				return
			}
			if got.Name != tt.user || !slices.Equal(got.Groups, tt.groups) {
				t.Errorf("Create = %+v", got)
			}
			p, err := u.Check(t.Context(), tt.user, tt.password)
			if err != nil || !slices.Equal(p.Groups, tt.groups) {
				t.Errorf("Check = %+v, %v", p, err)
			}
		})
	}
	t.Run("consistent", func(t *testing.T) { consistent(t, u) })
}

func TestListPages(t *testing.T) {
	t.Parallel()
	u, _ := newDirectory(t)
	ctx := t.Context()
	var want []string
	for i := range 25 {
		n := fmt.Sprintf("user%02d@photon.local", i)
		want = append(want, n)
		if err := u.Put(ctx, n, "pw", nil); err != nil {
			t.Fatal(err)
		}
		g := fmt.Sprintf(`photon.local\g%02d`, i)
		if _, err := u.CreateGroup(ctx, g, ""); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		size  int
		pages int
	}{{10, 3}, {25, 1}, {24, 2}, {1, 25}, {0, 1}, {5000, 1}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			t.Parallel()
			users, pages := walk(t, u.List, tt.size, func(us User) string { return us.Name })
			if pages != tt.pages || !slices.Equal(users, want) {
				t.Errorf("%d pages of users %v, want %d pages of %v", pages, users, tt.pages, want)
			}
			groups, _ := walk(t, u.ListGroups, tt.size, func(g Group) string { return g.Name })
			if len(groups) != 25 || !slices.IsSorted(groups) {
				t.Errorf("groups %v", groups)
			}
		})
	}
	t.Run("bad cursor", func(t *testing.T) {
		if _, _, err := u.List(t.Context(), 10, "!!"); codeOf(err) != errs.CodeInvalidEntity {
			t.Errorf("List with a bad cursor = %v, want InvalidEntity", err)
		}
	})
}

// walk reads every page of a list of size, and returns the names in it and the number
// of pages.
func walk[T any](t *testing.T, list func(context.Context, int, string) ([]T, string, error), size int, name func(T) string) ([]string, int) {
	t.Helper()
	var names []string
	for cursor, pages := "", 1; ; pages++ {
		page, next, err := list(t.Context(), size, cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page {
			names = append(names, name(it))
		}
		if cursor = next; cursor == "" {
			return names, pages
		}
	}
}

func TestMembership(t *testing.T) {
	t.Parallel()
	u, _ := newDirectory(t)
	ctx := t.Context()
	const ops, dev = `photon.local\ops`, `photon.local\dev`
	for _, g := range []string{ops, dev} {
		if _, err := u.CreateGroup(ctx, g, "the "+g); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"ann@photon.local", "ben@photon.local"} {
		if _, err := u.Create(ctx, n, "correct horse", nil); err != nil {
			t.Fatal(err)
		}
	}
	groupsOf := func(name string) []string {
		us, err := u.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return us.Groups
	}
	membersOf := func(name string) []string {
		g, err := u.GetGroup(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return g.Members
	}
	// Steps run in order; each says what both sides look like after it.
	steps := []struct {
		name    string
		do      func() error
		code    string
		ann     []string // ann's groups after
		members []string // ops's members after
	}{
		{"add ann to ops", func() error { _, err := u.AddMember(ctx, ops, "ann@photon.local"); return err }, "", []string{ops}, []string{"ann@photon.local"}},
		{"add again", func() error { _, err := u.AddMember(ctx, ops, "ann@photon.local"); return err }, "", []string{ops}, []string{"ann@photon.local"}},
		{"add ben to ops", func() error { _, err := u.AddMember(ctx, ops, "ben@photon.local"); return err }, "", []string{ops}, []string{"ann@photon.local", "ben@photon.local"}},
		{"add ann to dev", func() error { _, err := u.AddMember(ctx, dev, "ann@photon.local"); return err }, "", []string{ops, dev}, []string{"ann@photon.local", "ben@photon.local"}},
		{"add a stranger", func() error { _, err := u.AddMember(ctx, ops, "zed@photon.local"); return err }, errs.CodeNotFound, []string{ops, dev}, []string{"ann@photon.local", "ben@photon.local"}},
		{"add to no group", func() error { _, err := u.AddMember(ctx, `photon.local\none`, "ann@photon.local"); return err }, errs.CodeNotFound, []string{ops, dev}, []string{"ann@photon.local", "ben@photon.local"}},
		{"remove ann from ops", func() error { _, err := u.RemoveMember(ctx, ops, "ann@photon.local"); return err }, "", []string{dev}, []string{"ben@photon.local"}},
		{"remove again", func() error { _, err := u.RemoveMember(ctx, ops, "ann@photon.local"); return err }, "", []string{dev}, []string{"ben@photon.local"}},
		{"re-add ann", func() error { _, err := u.AddMember(ctx, ops, "ann@photon.local"); return err }, "", []string{dev, ops}, []string{"ann@photon.local", "ben@photon.local"}},
		{"delete dev", func() error { return u.DeleteGroup(ctx, dev) }, "", []string{ops}, []string{"ann@photon.local", "ben@photon.local"}},
		{"delete ben", func() error { return u.Delete(ctx, "ben@photon.local") }, "", []string{ops}, []string{"ann@photon.local"}},
		{"delete ben again", func() error { return u.Delete(ctx, "ben@photon.local") }, errs.CodeNotFound, []string{ops}, []string{"ann@photon.local"}},
		{"delete the administrators", func() error { return u.DeleteGroup(ctx, SystemAdminsGroup) }, errs.CodeStateError, []string{ops}, []string{"ann@photon.local"}},
		{"create ops again", func() error { _, err := u.CreateGroup(ctx, ops, ""); return err }, errs.CodeNameTaken, []string{ops}, []string{"ann@photon.local"}},
		{"bad group name", func() error { _, err := u.CreateGroup(ctx, "ops@photon.local", ""); return err }, errs.CodeInvalidEntity, []string{ops}, []string{"ann@photon.local"}},
		{"long description", func() error {
			_, err := u.CreateGroup(ctx, `x\y`, strings.Repeat("d", MaxDescriptionLen+1))
			return err
		}, errs.CodeInvalidEntity, []string{ops}, []string{"ann@photon.local"}},
	}
	for _, s := range steps {
		err := s.do()
		if codeOf(err) != s.code || (s.code == "" && err != nil) {
			t.Fatalf("%s: %v, want code %q", s.name, err, s.code)
		}
		if got := groupsOf("ann@photon.local"); !slices.Equal(got, s.ann) {
			t.Errorf("%s: ann's groups %v, want %v", s.name, got, s.ann)
		}
		if got := membersOf(ops); !slices.Equal(got, s.members) {
			t.Errorf("%s: ops's members %v, want %v", s.name, got, s.members)
		}
		consistent(t, u)
	}
	if _, err := u.GetGroup(ctx, dev); codeOf(err) != errs.CodeNotFound {
		t.Errorf("deleted group: GetGroup = %v", err)
	}
	// A deleted user's groups are gone from its tokens at its next login or refresh.
	if p, err := u.Check(ctx, "ann@photon.local", "correct horse"); err != nil || !slices.Equal(p.Groups, []string{ops}) {
		t.Errorf("Check = %+v, %v", p, err)
	}
}

// TestMembershipConcurrent runs membership changes, group deletions and user deletions
// at once from several clients: the two sides agree at the end whatever interleaving
// Redis chose.
func TestMembershipConcurrent(t *testing.T) {
	t.Parallel()
	u, _ := newDirectory(t)
	ctx := t.Context()
	groups := []string{`d\g0`, `d\g1`, `d\g2`, `d\g3`}
	users := []string{"u0@d", "u1@d", "u2@d", "u3@d", "u4@d", "u5@d"}
	for _, g := range groups {
		if _, err := u.CreateGroup(ctx, g, ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range users {
		if err := u.Put(ctx, n, "pw", nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 200 {
				g, n := groups[r.IntN(len(groups))], users[r.IntN(len(users))]
				var err error
				switch r.IntN(10) {
				case 0:
					err = u.DeleteGroup(ctx, g)
				case 1:
					_, err = u.CreateGroup(ctx, g, "")
				case 2:
					err = u.Delete(ctx, n)
				case 3:
					err = u.Put(ctx, n, "pw", []string{g})
				case 4, 5, 6:
					_, err = u.AddMember(ctx, g, n)
				default:
					_, err = u.RemoveMember(ctx, g, n)
				}
				var pe *errs.Error
				if err != nil && !errors.As(err, &pe) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	consistent(t, u)
}

func TestPasswords(t *testing.T) {
	t.Parallel()
	u, _ := newDirectory(t)
	ctx := t.Context()
	const old, next = "correct horse", "battery staple"

	// user makes a user with password old and logs it in: its refresh token.
	user := func(t *testing.T, name string) string {
		t.Helper()
		if _, err := u.Create(ctx, name, old, nil); err != nil {
			t.Fatal(err)
		}
		_, refresh, err := u.login(ctx, name, old)
		if err != nil {
			t.Fatal(err)
		}
		return refresh
	}
	tests := []struct {
		name    string
		do      func(name string) error
		code    string // of do's error
		bad     bool   // do's error is ErrBadCredentials
		refresh bool   // the refresh token still works after
		works   string // the password that logs in after ("" for none)
	}{
		{"reset", func(n string) error { return u.ResetPassword(ctx, n, next) }, "", false, false, next},
		{"reset to the same password", func(n string) error { return u.ResetPassword(ctx, n, old) }, "", false, false, old},
		{"reset to a weak one", func(n string) error { return u.ResetPassword(ctx, n, "short") }, errs.CodeInvalidEntity, false, true, old},
		{"reset of nobody", func(string) error { return u.ResetPassword(ctx, "nobody@photon.local", next) }, errs.CodeNotFound, false, true, old},
		{"own change", func(n string) error { return u.ChangePassword(ctx, n, old, next) }, "", false, false, next},
		{"own change, wrong current", func(n string) error { return u.ChangePassword(ctx, n, "wrong horse", next) }, "", true, true, old},
		{"own change, weak new", func(n string) error { return u.ChangePassword(ctx, n, old, "1234567") }, errs.CodeInvalidEntity, false, true, old},
		{"own change, not in the directory", func(string) error { return u.ChangePassword(ctx, "ext@corp", old, next) }, errs.CodeStateError, false, true, old},
		{"delete", func(n string) error { return u.Delete(ctx, n) }, "", false, false, ""},
		{"delete and make again", func(n string) error {
			if err := u.Delete(ctx, n); err != nil {
				return err
			}
			_, err := u.Create(ctx, n, old, nil)
			return err
		}, "", false, false, old},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("p%d@photon.local", i)
			refresh := user(t, name)
			err := tt.do(name)
			if tt.bad != errors.Is(err, ErrBadCredentials) || codeOf(err) != tt.code || (!tt.bad && tt.code == "" && err != nil) {
				t.Fatalf("error %v, want code %q (bad credentials: %t)", err, tt.code, tt.bad)
			}
			_, _, rerr := u.refresh(ctx, refresh)
			if tt.refresh != (rerr == nil) {
				t.Errorf("refresh after: %v, want it to work: %t", rerr, tt.refresh)
			}
			for _, pw := range []string{old, next} {
				_, err := u.Check(ctx, name, pw)
				if (pw == tt.works) != (err == nil) {
					t.Errorf("Check with %q after: %v", pw, err)
				}
			}
		})
	}
}

func TestLoginLimit(t *testing.T) {
	t.Parallel()
	u, rdb := newDirectory(t)
	u.SetLoginLimit(LoginLimit{Failures: 3, Window: time.Minute})
	ctx := t.Context()
	for _, n := range []string{"target@photon.local", "bystander@photon.local"} {
		if _, err := u.Create(ctx, n, "correct horse", nil); err != nil {
			t.Fatal(err)
		}
	}
	// Three wrong guesses, by login and by own change alike, use the window up.
	for i, try := range []func() error{
		func() error { _, err := u.Check(ctx, "target@photon.local", "guess 1"); return err },
		func() error { return u.ChangePassword(ctx, "target@photon.local", "guess 2", "new password") },
		func() error { _, _, err := u.login(ctx, "target@photon.local", "guess 3"); return err },
	} {
		if err := try(); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("guess %d: %v, want ErrBadCredentials", i+1, err)
		}
	}
	tests := []struct {
		name, user, password string
		code                 string
	}{
		{"right password past the limit", "target@photon.local", "correct horse", errs.CodeTooManyRequests},
		{"wrong password past the limit", "target@photon.local", "guess 4", errs.CodeTooManyRequests},
		{"another user", "bystander@photon.local", "correct horse", ""},
	}
	for _, tt := range tests {
		_, err := u.Check(ctx, tt.user, tt.password)
		if codeOf(err) != tt.code || (tt.code == "" && err != nil) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.code)
		}
		if tt.code == "" {
			continue
		}
		if d, ok := errs.As(err).RetryAfter(); !ok || d <= 0 || d > time.Minute {
			t.Errorf("%s: retry after %v, %t", tt.name, d, ok)
		}
	}
	if err := u.ChangePassword(ctx, "target@photon.local", "correct horse", "new password"); codeOf(err) != errs.CodeTooManyRequests {
		t.Errorf("own change past the limit: %v", err)
	}
	// The window ends: the right password works again.
	rdb.Del(ctx, u.failuresKey("target@photon.local"))
	if _, err := u.Check(ctx, "target@photon.local", "correct horse"); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

func TestPutUpgradesOldRecords(t *testing.T) {
	t.Parallel()
	u, rdb := newDirectory(t)
	ctx := t.Context()
	// A user as written before groups had records: groups only in the user's hash.
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	rdb.HSet(ctx, u.key("admin"), fieldPassword, hash, fieldGroups, `["photon\\Administrators","t1\\Users"]`)
	if err := u.Put(ctx, "admin", "pw", []string{SystemAdminsGroup}); err != nil {
		t.Fatal(err)
	}
	if h, _ := rdb.HGet(ctx, u.key("admin"), fieldPassword).Result(); h != string(hash) {
		t.Error("Put with the same password wrote a new hash")
	}
	for _, g := range []string{SystemAdminsGroup, `t1\Users`} {
		gr, err := u.GetGroup(ctx, g)
		if err != nil || !slices.Equal(gr.Members, []string{"admin"}) {
			t.Errorf("group %s: %+v, %v", g, gr, err)
		}
	}
	consistent(t, u)
}
