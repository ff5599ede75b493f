package streams_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/store/storetest"
	"github.com/photon-cloud/photon/shared/streams"
)

// streamIDs lists the ids stream holds, oldest first.
func streamIDs(t *testing.T, rdb redis.UniversalClient, stream string) []string {
	t.Helper()
	ms, err := rdb.XRange(t.Context(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	return idsOf(ms)
}

// idLess orders stream ids.
func idLess(a, b string) bool {
	var am, as, bm, bs uint64
	fmt.Sscanf(a, "%d-%d", &am, &as)
	fmt.Sscanf(b, "%d-%d", &bm, &bs)
	return am < bm || (am == bm && as < bs)
}

// TestTrimKeepsWhatGroupsNeed runs random reads, acknowledgements and trims by several
// consumer groups and checks after each trim that every entry a group has not delivered,
// or delivered and not acknowledged, is still in the stream, and that every entry all
// groups are done with is gone.
func TestTrimKeepsWhatGroupsNeed(t *testing.T) {
	t.Parallel()
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			rdb := storetest.Client(t)
			stream := storetest.Prefix(t) + "s"
			r := rand.New(rand.NewPCG(seed, 17))
			groups := []string{"a", "b", "c"}[:1+int(seed%3)]
			for _, g := range groups {
				if err := rdb.XGroupCreateMkStream(ctx, stream, g, "0").Err(); err != nil {
					t.Fatal(err)
				}
			}
			// needed[g] holds what g has not acknowledged: its pending and undelivered entries.
			needed := map[string]map[string]bool{}
			pending := map[string][]string{}
			for _, g := range groups {
				needed[g] = map[string]bool{}
			}
			for step := range 60 {
				switch op := r.IntN(4); {
				case op == 0: // write
					for range 1 + r.IntN(20) {
						id, err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"n", step}}).Result()
						if err != nil {
							t.Fatal(err)
						}
						for _, g := range groups {
							needed[g][id] = true
						}
					}
				case op == 1: // a group reads, leaving what it read pending
					g := groups[r.IntN(len(groups))]
					res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: g, Consumer: "c" + g,
						Streams: []string{stream, ">"}, Count: int64(1 + r.IntN(15)), Block: -1}).Result()
					if err != nil && err != redis.Nil {
						t.Fatal(err)
					}
					for _, s := range res {
						pending[g] = append(pending[g], idsOf(s.Messages)...)
					}
				case op == 2: // a group acknowledges some of what it holds, in any order
					g := groups[r.IntN(len(groups))]
					r.Shuffle(len(pending[g]), func(i, j int) { pending[g][i], pending[g][j] = pending[g][j], pending[g][i] })
					n := r.IntN(len(pending[g]) + 1)
					if n > 0 {
						if err := rdb.XAck(ctx, stream, g, pending[g][:n]...).Err(); err != nil {
							t.Fatal(err)
						}
						for _, id := range pending[g][:n] {
							delete(needed[g], id)
						}
						pending[g] = pending[g][n:]
					}
				default:
					if _, err := streams.Trim(ctx, rdb, streams.Retention{Stream: stream, Acked: true}); err != nil {
						t.Fatal(err)
					}
					have := streamIDs(t, rdb, stream)
					var low string // the lowest id any group still needs
					for _, g := range groups {
						for id := range needed[g] {
							if !slices.Contains(have, id) {
								t.Fatalf("step %d: trim dropped %s, which group %s has not acknowledged", step, id, g)
							}
							if low == "" || idLess(id, low) {
								low = id
							}
						}
					}
					// What is left before low is at most the one entry each group last delivered.
					var before int
					for _, id := range have {
						if low == "" || idLess(id, low) {
							before++
						}
					}
					if before > len(groups) {
						t.Fatalf("step %d: %d entries every group is done with were kept", step, before)
					}
				}
			}
		})
	}
}

// TestTrimRetention: what each retention drops and keeps.
func TestTrimRetention(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		groups    bool // a group that read and acknowledged the two old entries
		r         streams.Retention
		wantLeft  int // of 2 old entries (an hour ago and more) and 3 new ones
		wantFirst string
	}{
		{"no retention keeps everything", true, streams.Retention{}, 5, "1000-1"},
		{"acked without groups keeps everything", false, streams.Retention{Acked: true}, 5, "1000-1"},
		{"acked drops what the group is done with", true, streams.Retention{Acked: true}, 4, "1000-2"},
		{"max age drops the old ones", false, streams.Retention{MaxAge: time.Hour}, 3, ""},
		{"max age and acked: the more of the two", true, streams.Retention{Acked: true, MaxAge: time.Hour}, 3, ""},
		{"max length", false, streams.Retention{MaxLen: 1}, 5, "1000-1"}, // MAXLEN ~ keeps whole nodes
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			rdb := storetest.Client(t)
			stream := storetest.Prefix(t) + "s"
			for _, id := range []string{"1000-1", "1000-2", "*", "*", "*"} {
				if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, ID: id, Values: []any{"k", "v"}}).Err(); err != nil {
					t.Fatal(err)
				}
			}
			if tc.groups {
				if err := rdb.XGroupCreate(ctx, stream, "g", "0").Err(); err != nil {
					t.Fatal(err)
				}
				if err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{stream, ">"}, Count: 2, Block: -1}).Err(); err != nil {
					t.Fatal(err)
				}
				if err := rdb.XAck(ctx, stream, "g", "1000-1", "1000-2").Err(); err != nil {
					t.Fatal(err)
				}
			}
			tc.r.Stream = stream
			n, err := streams.Trim(ctx, rdb, tc.r)
			if err != nil {
				t.Fatal(err)
			}
			have := streamIDs(t, rdb, stream)
			if len(have) != tc.wantLeft || (tc.wantFirst != "" && have[0] != tc.wantFirst) {
				t.Fatalf("left %v, want %d entries from %q", have, tc.wantLeft, tc.wantFirst)
			}
			if int(n) != 5-tc.wantLeft {
				t.Errorf("Trim reported %d dropped, want %d", n, 5-tc.wantLeft)
			}
		})
	}
}

// TestKeepTrimmed: the periodic trimmer drops what the group acknowledged.
func TestKeepTrimmed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 50)
	c := f.open(t, "a", time.Minute)
	got := collect(t, c, 50, 10*time.Second)
	if err := c.Ack(t.Context(), got...); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		streams.KeepTrimmed(ctx, f.rdb, 5*time.Millisecond, slog.New(slog.DiscardHandler), streams.Retention{Stream: f.stream, Acked: true})
	}()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for deadline := time.Now().Add(10 * time.Second); ; <-tick.C {
		if n := f.rdb.XLen(t.Context(), f.stream).Val(); n <= 1 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("stream still holds %d entries", n)
		}
	}
	stop()
	<-done
}
