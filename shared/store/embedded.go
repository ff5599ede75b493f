package store

import (
	"github.com/alicebob/miniredis/v2"
)

// Embedded is an in-process Redis for the dev cloud (`photon up` without --redis). It
// speaks the Redis protocol on 127.0.0.1, so everything else uses it as any Redis.
type Embedded struct{ m *miniredis.Miniredis }

// StartEmbedded starts an embedded Redis on a free loopback port.
func StartEmbedded() (*Embedded, error) {
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	return &Embedded{m: m}, nil
}

// URL is the redis:// address of the embedded server.
func (e *Embedded) URL() string { return "redis://" + e.m.Addr() }

// Close stops the server.
func (e *Embedded) Close() { e.m.Close() }
