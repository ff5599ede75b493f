package store_test

import (
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestIdempotencyKeys: the first claim of a caller's key wins; a release by a call that
// no longer holds the key changes nothing; keys are per caller.
func TestIdempotencyKeys(t *testing.T) {
	ctx := t.Context()
	idem := storetest.New(t).Idempotency()
	steps := []struct {
		name     string
		do       func() (bool, error)
		wantWon  bool
		wantTask string // the task alice's key names after the step ("" for none)
	}{
		{"first claim wins", func() (bool, error) { return idem.Claim(ctx, "alice", "k", "t1", time.Hour) }, true, "t1"},
		{"a retry loses", func() (bool, error) { return idem.Claim(ctx, "alice", "k", "t2", time.Hour) }, false, "t1"},
		{"another caller's key is apart", func() (bool, error) { return idem.Claim(ctx, "bob", "k", "t3", time.Hour) }, true, "t1"},
		{"a release by another task keeps it", func() (bool, error) { return false, idem.Release(ctx, "alice", "k", "t2") }, false, "t1"},
		{"the holder's release frees it", func() (bool, error) { return false, idem.Release(ctx, "alice", "k", "t1") }, false, ""},
		{"and it can be claimed again", func() (bool, error) { return idem.Claim(ctx, "alice", "k", "t4", time.Hour) }, true, "t4"},
	}
	for _, st := range steps {
		won, err := st.do()
		if err != nil || won != st.wantWon {
			t.Fatalf("%s: won %v, %v; want %v", st.name, won, err, st.wantWon)
		}
		id, ok, err := idem.Task(ctx, "alice", "k")
		if err != nil || id != st.wantTask || ok != (st.wantTask != "") {
			t.Fatalf("%s: alice's key names %q (%v, %v), want %q", st.name, id, ok, err, st.wantTask)
		}
	}
}
