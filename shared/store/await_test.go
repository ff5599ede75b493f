package store_test

import (
	"testing"
	"time"

	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestAwait: a step's kept event reaches the starts stream exactly once, whichever comes
// first, the wake or the keeping; a wake of a task that awaits nothing keeps nothing; a
// deadline wakes it too.
func TestAwait(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, s *store.Store) // keeps event "e" for task "t" in some order
		want int                                // starts appended
	}{
		{"woken after it waits", func(t *testing.T, s *store.Store) {
			await(t, s, time.Hour)
			wake(t, s, true)
			wake(t, s, false) // a second wake finds nothing kept
		}, 1},
		{"woken while the step looked", func(t *testing.T, s *store.Store) {
			seq, err := s.WakeSeq(t.Context(), "t")
			if err != nil {
				t.Fatal(err)
			}
			wake(t, s, false)
			if err := s.Await(t.Context(), "t", []byte("e"), seq, time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			wake(t, s, false) // the event went at once, nothing is kept
		}, 1},
		{"not woken", func(t *testing.T, s *store.Store) { await(t, s, time.Hour) }, 0},
		{"woken by its deadline", func(t *testing.T, s *store.Store) {
			await(t, s, -time.Second)
			if n, err := s.WakeDue(t.Context(), 10); err != nil || n != 1 {
				t.Fatalf("WakeDue woke %d (%v), want 1", n, err)
			}
		}, 1},
		{"forgotten once its task ended", func(t *testing.T, s *store.Store) {
			await(t, s, -time.Second)
			if err := s.ForgetAwait(t.Context(), "t"); err != nil {
				t.Fatal(err)
			}
			wake(t, s, false)
			if n, err := s.WakeDue(t.Context(), 10); err != nil || n != 0 {
				t.Fatalf("WakeDue woke %d (%v), want 0", n, err)
			}
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := storetest.New(t)
			tc.run(t, s)
			n, err := s.Redis().XLen(t.Context(), s.StartsStream()).Result()
			if err != nil || n != int64(tc.want) {
				t.Fatalf("%d starts (%v), want %d", n, err, tc.want)
			}
		})
	}
}

func await(t *testing.T, s *store.Store, in time.Duration) {
	t.Helper()
	seq, err := s.WakeSeq(t.Context(), "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Await(t.Context(), "t", []byte("e"), seq, time.Now().Add(in)); err != nil {
		t.Fatal(err)
	}
}

func wake(t *testing.T, s *store.Store, want bool) {
	t.Helper()
	if ok, err := s.Wake(t.Context(), "t"); err != nil || ok != want {
		t.Fatalf("Wake = %v (%v), want %v", ok, err, want)
	}
}
