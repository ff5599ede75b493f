package gateway_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/photon-cloud/photon/events"
	"github.com/photon-cloud/photon/gateway"
	pb "github.com/photon-cloud/photon/gateway/api/photon/v1"
	"github.com/photon-cloud/photon/shared/auth"
	"github.com/photon-cloud/photon/shared/keyspace"
	"github.com/photon-cloud/photon/shared/policy"
	"github.com/photon-cloud/photon/shared/store"
	"github.com/photon-cloud/photon/shared/store/storetest"
)

// TestStoreUnavailable: while Redis is down or loading its data, the API answers 503
// ServiceUnavailable with Retry-After over REST and UNAVAILABLE over gRPC, not an
// InternalError.
func TestStoreUnavailable(t *testing.T) {
	cases := []struct {
		name  string
		fault func(p *redisProxy)
	}{
		{"down", (*redisProxy).down},
		{"loading", (*redisProxy).loading},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			p := newRedisProxy(t)
			opt, err := keyspace.ParseURL(storetest.SingleURL(t))
			if err != nil {
				t.Fatal(err)
			}
			opt.Addr, opt.MaxRetries, opt.DialTimeout = p.addr(), -1, time.Second
			rdb := redis.NewClient(opt)
			t.Cleanup(func() { rdb.Close() })
			s := store.New(rdb, storetest.Prefix(t))
			key, err := auth.LoadOrCreateKey(ctx, rdb, s.Prefix())
			if err != nil {
				t.Fatal(err)
			}
			iss := auth.NewIssuer(key, "photon", time.Hour)
			log := slog.New(slog.DiscardHandler)
			gw, err := gateway.Start(ctx, gateway.Options{Store: s, Broker: events.NewRedisBroker(rdb, s.Prefix(), log),
				Issuer: iss, Users: auth.NewUsers(rdb, s.Prefix()), Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { gw.Close(context.WithoutCancel(ctx)) })
			tok, _, err := iss.Sign(auth.Principal{Subject: "root", Groups: []string{policy.SystemAdminsGroup}})
			if err != nil {
				t.Fatal(err)
			}

			tc.fault(p)

			r, _ := http.NewRequestWithContext(ctx, "GET", "http://"+gw.HTTPAddr()+"/v1/tenants", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if ra, _ := strconv.Atoi(res.Header.Get("Retry-After")); res.StatusCode != http.StatusServiceUnavailable || ra < 1 {
				t.Errorf("REST: %d Retry-After %q: %s", res.StatusCode, res.Header.Get("Retry-After"), body)
			}

			cc, err := grpc.NewClient(gw.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			_, err = pb.NewTenantsClient(cc).ListTenants(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), &pb.ListTenantsRequest{})
			if status.Code(err) != codes.Unavailable {
				t.Errorf("gRPC: %v", err)
			}
			// The health service, which needs no token, says so too once its reading of
			// the store (at most a second old) is after the fault.
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for deadline := time.Now().Add(10 * time.Second); ; <-tick.C {
				hc, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
				if err == nil && hc.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("health: %v %v, want NOT_SERVING", hc, err)
				}
			}
		})
	}
}

// redisProxy passes connections through to the test's redis-server until a fault is
// injected: down closes them and refuses new ones; loading answers every command as a
// redis-server loading its data does.
type redisProxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	fault   string
	conns   []net.Conn
	stopped bool
}

func newRedisProxy(t *testing.T) *redisProxy {
	opt, err := keyspace.ParseURL(storetest.SingleURL(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &redisProxy{ln: ln, target: opt.Addr}
	t.Cleanup(p.down)
	go p.accept()
	return p
}

func (p *redisProxy) addr() string { return p.ln.Addr().String() }

func (p *redisProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		fault, stopped := p.fault, p.stopped
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		switch {
		case stopped:
			c.Close()
		case fault == "loading":
			go answerLoading(c)
		default:
			go p.pass(c)
		}
	}
}

func (p *redisProxy) pass(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, up)
	p.mu.Unlock()
	go func() { io.Copy(up, c); up.Close() }()
	io.Copy(c, up)
	c.Close()
}

// closeAll breaks every connection open now: the client dials again.
func (p *redisProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *redisProxy) down() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.ln.Close()
	p.closeAll()
}

func (p *redisProxy) loading() {
	p.mu.Lock()
	p.fault = "loading"
	p.mu.Unlock()
	p.closeAll()
}

// answerLoading reads commands (RESP arrays of bulk strings) and answers each with the
// LOADING error.
func answerLoading(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		n, err := respLen(r, '*')
		if err != nil {
			return
		}
		for range n {
			size, err := respLen(r, '$')
			if err != nil {
				return
			}
			if _, err := r.Discard(size + 2); err != nil {
				return
			}
		}
		if _, err := io.WriteString(c, "-LOADING Redis is loading the dataset in memory\r\n"); err != nil {
			return
		}
	}
}

func respLen(r *bufio.Reader, kind byte) (int, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 3 || line[0] != kind {
		return 0, io.ErrUnexpectedEOF
	}
	return strconv.Atoi(line[1 : len(line)-2])
}
