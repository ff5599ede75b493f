package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// ErrBadCredentials is the answer to an unknown user name or a wrong password. The two
// are not told apart, so a caller cannot probe for user names.
var ErrBadCredentials = errors.New("auth: wrong user name or password")

// Hash fields of a user record.
const (
	fieldPassword = "password" // bcrypt hash
	fieldGroups   = "groups"   // JSON array of group names
)

// Users is the embedded issuer's user directory: one Redis hash per user at
// prefix+"user:"+name holding a bcrypt hash of the password and the user's groups.
type Users struct {
	rdb    redis.UniversalClient
	prefix string
	cost   int // bcrypt cost; tests lower it
}

// NewUsers returns the directory whose records live under prefix in rdb.
func NewUsers(rdb redis.UniversalClient, prefix string) *Users {
	return &Users{rdb: rdb, prefix: prefix, cost: bcrypt.DefaultCost}
}

func (u *Users) key(name string) string { return u.prefix + "user:" + name }

// Put creates the user, or replaces its password and groups.
func (u *Users) Put(ctx context.Context, name, password string, groups []string) error {
	if name == "" {
		return errors.New("auth: put user: empty name")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), u.cost)
	if err != nil {
		return fmt.Errorf("put user %s: hash password: %w", name, err)
	}
	if groups == nil {
		groups = []string{}
	}
	gs, err := json.Marshal(groups)
	if err != nil {
		return fmt.Errorf("put user %s: %w", name, err)
	}
	// One HSET writes both fields, so a reader never sees a new password with old groups.
	if err := u.rdb.HSet(ctx, u.key(name), fieldPassword, hash, fieldGroups, gs).Err(); err != nil {
		return fmt.Errorf("put user %s: %w", name, err)
	}
	return nil
}

// Check returns the user's Principal if password is the user's password, ErrBadCredentials
// if the user does not exist or the password is wrong, and a wrapped Redis error
// otherwise.
func (u *Users) Check(ctx context.Context, name, password string) (Principal, error) {
	vals, err := u.rdb.HMGet(ctx, u.key(name), fieldPassword, fieldGroups).Result()
	if err != nil {
		return Principal{}, fmt.Errorf("check user %s: %w", name, err)
	}
	hash, _ := vals[0].(string)
	if hash == "" {
		// Spend the time a real check takes, so that unknown names are not faster.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return Principal{}, ErrBadCredentials
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		return Principal{}, ErrBadCredentials
	}
	p := Principal{Subject: name}
	if gs, _ := vals[1].(string); gs != "" {
		if err := json.Unmarshal([]byte(gs), &p.Groups); err != nil {
			return Principal{}, fmt.Errorf("check user %s: corrupt groups: %w", name, err)
		}
	}
	return p, nil
}

// dummyHash is a bcrypt hash compared against when the user does not exist.
var dummyHash = sync.OnceValue(func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("photon"), bcrypt.DefaultCost)
	if err != nil {
		panic(err) // only fails for passwords longer than 72 bytes
	}
	return h
})
