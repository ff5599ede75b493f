// Package devredis is an in-process Redis for the dev cloud (`photon up` without --redis)
// and for tests that run the store on both backends. It speaks the Redis protocol on
// 127.0.0.1, so everything else uses it as any Redis. Production deployments and the
// tests of record run a real redis-server; nothing in a production package imports this.
package devredis

import (
	"github.com/alicebob/miniredis/v2"
)

// Server is an embedded Redis.
type Server struct{ m *miniredis.Miniredis }

// Start starts an embedded Redis on a free loopback port.
func Start() (*Server, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return &Server{m: m}, nil
}

// URL is the redis:// address of the server.
func (e *Server) URL() string { return "redis://" + e.m.Addr() }

// Close stops the server.
func (e *Server) Close() { e.m.Close() }
