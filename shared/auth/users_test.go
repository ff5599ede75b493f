package auth

import (
	"errors"
	"slices"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestUsers(t *testing.T) {
	t.Parallel()
	rdb, prefix := newRedis(t)
	users := NewUsers(rdb, prefix)
	users.cost = bcrypt.MinCost // fast; Check reads the cost from the hash
	ctx := t.Context()

	if err := users.Put(ctx, "alice", "s3cret", []string{SystemAdminsGroup, "t1\\Users"}); err != nil {
		t.Fatal(err)
	}
	if err := users.Put(ctx, "bob", "pw", nil); err != nil {
		t.Fatal(err)
	}
	// carol's password is replaced: the old one stops working. Her groups are added to.
	if err := users.Put(ctx, "carol", "old", []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := users.Put(ctx, "carol", "new", []string{"b"}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, user, password string
		want                 Principal
		err                  error
	}{
		{"right password", "alice", "s3cret", Principal{Subject: "alice", Groups: []string{SystemAdminsGroup, "t1\\Users"}}, nil},
		{"no groups", "bob", "pw", Principal{Subject: "bob"}, nil},
		{"replaced", "carol", "new", Principal{Subject: "carol", Groups: []string{"a", "b"}}, nil},
		{"old password after replace", "carol", "old", Principal{}, ErrBadCredentials},
		{"wrong password", "alice", "S3cret", Principal{}, ErrBadCredentials},
		{"empty password", "alice", "", Principal{}, ErrBadCredentials},
		{"unknown user", "mallory", "s3cret", Principal{}, ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := users.Check(t.Context(), tt.user, tt.password)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Check error = %v, want %v", err, tt.err)
			}
			if got.Subject != tt.want.Subject || !slices.Equal(got.Groups, tt.want.Groups) {
				t.Errorf("Check = %+v, want %+v", got, tt.want)
			}
		})
	}

	t.Run("same password keeps the hash", func(t *testing.T) {
		if err := users.Put(t.Context(), "erin", "pw", nil); err != nil {
			t.Fatal(err)
		}
		before, err := rdb.HGet(t.Context(), users.key("erin"), fieldPassword).Result()
		if err != nil {
			t.Fatal(err)
		}
		if err := users.Put(t.Context(), "erin", "pw", []string{"x"}); err != nil {
			t.Fatal(err)
		}
		after, err := rdb.HGet(t.Context(), users.key("erin"), fieldPassword).Result()
		if err != nil {
			t.Fatal(err)
		}
		if before != after {
			t.Error("Put with the same password wrote a new hash")
		}
		if p, err := users.Check(t.Context(), "erin", "pw"); err != nil || !slices.Equal(p.Groups, []string{"x"}) {
			t.Errorf("Check after Put = %+v, %v; want groups [x]", p, err)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := users.Put(t.Context(), "dave", "pw", nil); err != nil {
			t.Fatal(err)
		}
		if err := users.Delete(t.Context(), "dave"); err != nil {
			t.Fatal(err)
		}
		if _, err := users.Check(t.Context(), "dave", "pw"); !errors.Is(err, ErrBadCredentials) {
			t.Errorf("Check of a deleted user = %v, want ErrBadCredentials", err)
		}
	})
	t.Run("empty name", func(t *testing.T) {
		if err := users.Put(t.Context(), "", "pw", nil); err == nil {
			t.Error("Put accepted an empty name")
		}
	})
	t.Run("password too long for bcrypt", func(t *testing.T) {
		if err := users.Put(t.Context(), "long", string(make([]byte, 73)), nil); err == nil {
			t.Error("Put accepted a 73-byte password")
		}
	})
}
