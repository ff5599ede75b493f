package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/photon-cloud/photon/shared/keyspace"
)

// ErrBadCredentials is the answer to an unknown user name or a wrong password. The two
// are not told apart, so a caller cannot probe for user names.
var ErrBadCredentials = errors.New("auth: wrong user name or password")

// Hash fields of a user record.
const (
	fieldPassword = "password" // bcrypt hash
	fieldGroups   = "groups"   // JSON array of group names
)

// Users is the embedded issuer's directory: its users and groups (see directory.go),
// one Redis hash per user at prefix+"user:"+name holding a bcrypt hash of the password
// and the user's groups, and the refresh tokens issued to them (see refresh.go).
type Users struct {
	rdb    redis.UniversalClient
	prefix string
	cost   int // bcrypt cost; tests lower it

	// refreshTTL is how long a refresh token stays good unused; tests shorten it.
	refreshTTL time.Duration
	// limit bounds wrong passwords per user name (see LoginLimit).
	limit LoginLimit
}

// NewUsers returns the directory whose records live under prefix in rdb, in the auth
// key space (keyspace.Auth). The refresh
// tokens of its users live there too, and last DefaultRefreshTTL.
func NewUsers(rdb redis.UniversalClient, prefix string) *Users {
	return &Users{rdb: rdb, prefix: keyspace.Space(prefix, keyspace.Auth), cost: bcrypt.DefaultCost, refreshTTL: DefaultRefreshTTL, limit: DefaultLoginLimit}
}

// WithCost sets the bcrypt cost of the hashes the directory makes (bcrypt.DefaultCost
// unless set), and returns u. Checks read the cost from each hash, so a lower cost only
// makes new passwords cheaper to guess: tests lower it to run fast.
func (u *Users) WithCost(cost int) *Users {
	u.cost = cost
	return u
}

func (u *Users) key(name string) string { return u.prefix + "user:" + name }

// Put creates the user or sets its password, and makes it a member of groups (making
// the groups that do not exist yet); groups it belongs to beyond them stay. It is how a
// gateway creates its administrator at every start, so it takes any name and password
// bcrypt can hash (the API's rules are Create's). When the password is the one the user
// already has, its hash is kept: the hash stands for the password in the user's refresh
// tokens (see fingerprint), and a gateway that sets its administrator's password at
// every start must not log that user out.
func (u *Users) Put(ctx context.Context, name, password string, groups []string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("auth: put user: the name must be 1 to %d bytes long", MaxNameLen)
	}
	old, err := u.rdb.HGet(ctx, u.key(name), fieldPassword).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("put user %s: %w", name, err)
	}
	hash := ""
	if old == "" || bcrypt.CompareHashAndPassword([]byte(old), []byte(password)) != nil {
		if hash, err = u.hash(password); err != nil {
			return fmt.Errorf("put user %s: %w", name, err)
		}
	}
	err = u.write(ctx, putUser, name, append([]string{modePut, hash}, groups...)...)
	if errors.Is(err, errGone) {
		// Deleted since the read: make it again, with a hash of its own.
		if hash, err = u.hash(password); err == nil {
			err = u.write(ctx, putUser, name, append([]string{modePut, hash}, groups...)...)
		}
	}
	if err != nil {
		return fmt.Errorf("put user %s: %w", name, err)
	}
	return nil
}

// hash is the bcrypt hash of password at the directory's cost.
func (u *Users) hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), u.cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Delete removes the user and takes it out of its groups. Its access tokens stay good
// until they expire; its refresh tokens stop working at once (the user they name is
// gone, and one made again under the name has another password hash: see
// fingerprint). A user that does not exist is NotFound.
func (u *Users) Delete(ctx context.Context, name string) error {
	return u.write(ctx, deleteUser, name)
}

// Check returns the user's Principal if password is the user's password, ErrBadCredentials
// if the user does not exist or the password is wrong, and a wrapped Redis error
// otherwise.
func (u *Users) Check(ctx context.Context, name, password string) (Principal, error) {
	p, _, err := u.check(ctx, name, password)
	return p, err
}

// check is Check that also returns the fingerprint of the user's password hash. A
// wrong password counts against the LoginLimit, and a name past it is refused with
// TooManyRequests before its password is looked at.
func (u *Users) check(ctx context.Context, name, password string) (Principal, string, error) {
	if len(name) > MaxNameLen {
		_ = bcrypt.CompareHashAndPassword(dummyHash(u.cost), []byte(password))
		return Principal{}, "", ErrBadCredentials
	}
	if err := u.allowed(ctx, name); err != nil {
		return Principal{}, "", err
	}
	p, hash, err := u.get(ctx, name)
	if err != nil {
		return Principal{}, "", err
	}
	if hash == "" {
		// Spend the time a real check takes, so that unknown names are not faster.
		_ = bcrypt.CompareHashAndPassword(dummyHash(u.cost), []byte(password))
		return Principal{}, "", u.wrong(ctx, name)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		return Principal{}, "", u.wrong(ctx, name)
	}
	return p, fingerprint(hash), nil
}

// wrong counts a wrong password for name and returns ErrBadCredentials (with the error
// of the count, if it fails).
func (u *Users) wrong(ctx context.Context, name string) error {
	if err := u.failed(ctx, name); err != nil {
		return errors.Join(ErrBadCredentials, err)
	}
	return ErrBadCredentials
}

// get reads the user: its Principal and its password hash, "" when there is no such user.
func (u *Users) get(ctx context.Context, name string) (Principal, string, error) {
	vals, err := u.rdb.HMGet(ctx, u.key(name), fieldPassword, fieldGroups).Result()
	if err != nil {
		return Principal{}, "", fmt.Errorf("read user %s: %w", name, err)
	}
	hash, _ := vals[0].(string)
	if hash == "" {
		return Principal{}, "", nil
	}
	p := Principal{Subject: name}
	if gs, _ := vals[1].(string); gs != "" {
		if err := json.Unmarshal([]byte(gs), &p.Groups); err != nil {
			return Principal{}, "", fmt.Errorf("read user %s: corrupt groups: %w", name, err)
		}
	}
	return p, hash, nil
}

// fingerprint names a password hash without revealing it. A refresh token records the
// fingerprint of the hash its user had at login; a new password (or the user deleted and
// created again) gives a new hash with a new salt, and so a fingerprint no refresh token
// has.
func fingerprint(hash string) string {
	h := sha256.Sum256([]byte(hash))
	return hex.EncodeToString(h[:16])
}

// dummyHash is a bcrypt hash of the given cost, compared against when the user does not
// exist: of the cost real hashes have, so that the comparison takes as long.
func dummyHash(cost int) []byte {
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	h, err := bcrypt.GenerateFromPassword([]byte("photon"), cost)
	if err != nil {
		panic(err) // only fails for passwords longer than 72 bytes
	}
	h2, _ := dummyHashes.LoadOrStore(cost, h)
	return h2.([]byte)
}

var dummyHashes sync.Map // bcrypt cost → hash
