package streams_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/store/storetest"
	"github.com/photon-cloud/photon/shared/streams"
)

// TestOpenWaitsForRedis: a consumer opened while Redis refuses connections (a process
// started while Redis restarts) waits for it and then reads, instead of failing and
// leaving its process without a consumer; a context that ends first ends the wait.
func TestOpenWaitsForRedis(t *testing.T) {
	opt, err := keyspace.ParseURL(storetest.SingleURL(t))
	if err != nil {
		t.Fatal(err)
	}
	real := redis.NewClient(opt)
	t.Cleanup(func() { real.Close() })
	stream := storetest.Prefix(t) + "s"
	if err := real.XAdd(t.Context(), &redis.XAddArgs{Stream: stream, Values: []any{"n", 1}}).Err(); err != nil {
		t.Fatal(err)
	}
	p := newGate(t, real.Options().Addr)
	rdb := redis.NewClient(&redis.Options{Addr: p.addr(), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	o := streams.Options{Stream: stream, Group: group, Backoff: 10 * time.Millisecond, Block: 50 * time.Millisecond}

	for _, tc := range []struct {
		name   string
		cancel bool // the caller gives up while Redis is away
	}{{"caller gives up", true}, {"Redis comes back", false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := t.Context(), func() {}
			if tc.cancel {
				ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
			}
			defer cancel()
			type opened struct {
				c   *streams.Consumer
				err error
			}
			done := make(chan opened, 1)
			go func() {
				c, err := streams.Open(ctx, rdb, o)
				done <- opened{c, err}
			}()
			p.waitRefused(t, 2) // Open has tried, and tried again
			if !tc.cancel {
				p.open()
			}
			select {
			case got := <-done:
				if tc.cancel {
					if got.err == nil {
						got.c.Close()
						t.Fatal("Open succeeded while Redis was away")
					}
					return
				}
				if got.err != nil {
					t.Fatalf("Open after Redis came back: %v", got.err)
				}
				defer got.c.Close()
				deadline := time.Now().Add(10 * time.Second)
				for time.Now().Before(deadline) {
					ms, err := got.c.Next(t.Context(), 10)
					if err != nil {
						t.Fatal(err)
					}
					if len(ms) == 1 {
						return
					}
				}
				t.Fatal("the consumer read nothing")
			case <-time.After(20 * time.Second):
				t.Fatal("Open did not return")
			}
		})
	}
}

// gate is a TCP proxy to a Redis that refuses connections (closes them at once) until
// opened.
type gate struct {
	ln      net.Listener
	target  string
	up      atomic.Bool
	refused chan struct{} // one per refused connection
	mu      sync.Mutex
	conns   []net.Conn
}

func newGate(t *testing.T, target string) *gate {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{ln: ln, target: target, refused: make(chan struct{}, 1<<16)}
	t.Cleanup(func() {
		ln.Close()
		g.mu.Lock()
		for _, c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
	})
	go g.accept()
	return g
}

func (g *gate) addr() string { return g.ln.Addr().String() }
func (g *gate) open()        { g.up.Store(true) }

func (g *gate) accept() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if !g.up.Load() {
			c.Close()
			select {
			case g.refused <- struct{}{}:
			default:
			}
			continue
		}
		r, err := net.Dial("tcp", g.target)
		if err != nil {
			c.Close()
			continue
		}
		g.mu.Lock()
		g.conns = append(g.conns, c, r)
		g.mu.Unlock()
		go func() { io.Copy(r, c); r.Close() }()
		go func() { io.Copy(c, r); c.Close() }()
	}
}

// waitRefused waits until n more connections were refused.
func (g *gate) waitRefused(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for range n {
		select {
		case <-g.refused:
		case <-timeout:
			t.Fatalf("fewer than %d connections refused", n)
		}
	}
}
