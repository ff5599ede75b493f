package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/errs"
)

// Passwords: an administrator's reset, a user's own change, and the bound on wrong
// guesses that logins and own changes share.
//
// A new password is a new bcrypt hash (with a new salt), and a refresh token holds the
// fingerprint of the hash its user had at login: so a reset or a change revokes every
// refresh token of the user, the one of the session that made the change included (see
// refresh.go). Access tokens stay good until they expire.

// LoginLimit bounds the wrong passwords given for one user name: past Failures in
// Window, counted from the first, logins and own password changes of that name are
// refused until the window ends, even with the right password. It slows a guesser down
// whatever address or token they come from; the price is that a guesser can keep the
// user out for a window at a time.
type LoginLimit struct {
	Failures int
	Window   time.Duration
}

// DefaultLoginLimit allows ten wrong passwords per user name in five minutes.
var DefaultLoginLimit = LoginLimit{Failures: 10, Window: 5 * time.Minute}

func (u *Users) failuresKey(name string) string { return u.prefix + "auth:failures:" + name }

// fail counts a wrong password for name: INCR, and the window starts at the first.
var fail = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`)

// allowed refuses a login of name past the limit: TooManyRequests, with a retry hint.
func (u *Users) allowed(ctx context.Context, name string) error {
	if u.limit.Failures <= 0 {
		return nil
	}
	k := u.failuresKey(name)
	pipe := u.rdb.Pipeline()
	n := pipe.Get(ctx, k)
	ttl := pipe.PTTL(ctx, k)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("read failed logins of %s: %w", name, err)
	}
	if c, _ := n.Int(); c >= u.limit.Failures {
		wait := max(ttl.Val(), time.Second)
		return errs.TooMany(wait, "too many wrong passwords for %s: retry in %s", shorten(name), wait.Round(time.Second))
	}
	return nil
}

// failed counts a wrong password for name.
func (u *Users) failed(ctx context.Context, name string) error {
	if u.limit.Failures <= 0 {
		return nil
	}
	if err := fail.Run(ctx, u.rdb, []string{u.failuresKey(name)}, u.limit.Window.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("count failed logins of %s: %w", name, err)
	}
	return nil
}

// SetLoginLimit replaces DefaultLoginLimit; Failures 0 is no bound.
func (u *Users) SetLoginLimit(l LoginLimit) { u.limit = l }

// ResetPassword gives the user a new password of CheckPassword's rule (an
// administrator's reset), which revokes its refresh tokens. NotFound when there is no
// such user.
func (u *Users) ResetPassword(ctx context.Context, name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	hash, err := u.hash(password)
	if err != nil {
		return err
	}
	return u.write(ctx, setPassword, name, hash)
}

// ChangePassword is a user's change of their own password: current must be theirs (a
// wrong one counts against the LoginLimit as a failed login does, and is
// ErrBadCredentials) and the new one of CheckPassword's rule. It revokes the user's
// refresh tokens. A name the directory does not have is StateError: its password is
// kept by the identity provider that signed its token.
func (u *Users) ChangePassword(ctx context.Context, name, current, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	if _, hash, err := u.get(ctx, name); err != nil {
		return err
	} else if hash == "" {
		return errs.New(errs.CodeStateError, "%s is not a user of Photon's directory: change the password where the user is kept", shorten(name))
	}
	if _, _, err := u.check(ctx, name, current); err != nil {
		return err
	}
	return u.ResetPassword(ctx, name, password)
}
