package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/photon-cloud/photon/shared/store"
)

// systemTTL is how long a gateway answers from the system settings it read last (the
// pause state and the system administrators' groups), which every request consults: a
// change made through another gateway takes effect here within it; one made through this
// gateway at once.
const systemTTL = time.Second

// systemCache holds the system settings every request needs, read at most once per
// systemTTL instead of once per request.
type systemCache struct {
	mu     sync.Mutex
	readAt time.Time
	state  string
	groups []string
}

// get returns the system state and groups, reading them when they are older than
// systemTTL.
func (sc *systemCache) get(ctx context.Context, s *store.Store) (string, []string, error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if !sc.readAt.IsZero() && time.Since(sc.readAt) < systemTTL {
		return sc.state, sc.groups, nil
	}
	state, err := s.SystemState(ctx)
	if err != nil {
		return "", nil, err
	}
	groups, err := s.SystemSecurityGroups(ctx)
	if err != nil {
		return "", nil, err
	}
	sc.state, sc.groups, sc.readAt = state, groups, time.Now()
	return state, groups, nil
}

// forget makes the next get read the settings afresh (after this gateway changed them).
func (sc *systemCache) forget() {
	sc.mu.Lock()
	sc.readAt = time.Time{}
	sc.mu.Unlock()
}
