package gateway

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionalphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

// tokenless are the gRPC methods served without a token, which tools call before they
// have one: the standard health service (load balancers, Kubernetes probes) and server
// reflection (grpcurl, Postman). Every other method needs a token.
var tokenless = map[string]bool{
	healthpb.Health_Check_FullMethodName:                                   true,
	healthpb.Health_List_FullMethodName:                                    true,
	healthpb.Health_Watch_FullMethodName:                                   true,
	reflectionpb.ServerReflection_ServerReflectionInfo_FullMethodName:      true,
	reflectionalphapb.ServerReflection_ServerReflectionInfo_FullMethodName: true,
}

// healthEvery is how often the health service reads the store's health for its watchers;
// a Check reads it too, at most once a second.
const (
	healthEvery   = 5 * time.Second
	healthFreshly = time.Second
)

// healthService is grpc.health.v1 with the status GET /v1/system/status bases its own on:
// SERVING while Redis answers, NOT_SERVING while it does not (nothing works without the
// store). The overall status ("") and each Photon service's are the same.
type healthService struct {
	*health.Server
	c        *core
	services []string

	mu   sync.Mutex
	read time.Time
}

// registerProbes serves the health service and reflection on g, for the services
// registered on g already.
func (c *core) registerProbes(g *grpc.Server) {
	h := &healthService{Server: health.NewServer(), c: c}
	for name := range g.GetServiceInfo() {
		h.services = append(h.services, name)
	}
	healthpb.RegisterHealthServer(g, h)
	reflection.Register(g)
	c.background.Add(1)
	go func() {
		defer c.background.Done()
		h.refresh(0)
		t := time.NewTicker(healthEvery)
		defer t.Stop()
		for {
			select {
			case <-c.bg.Done():
				h.Shutdown()
				return
			case <-t.C:
				h.refresh(0)
			}
		}
	}()
}

// refresh pings the store, unless it did less than maxAge ago, and sets every status
// from the answer.
func (h *healthService) refresh(maxAge time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if time.Since(h.read) < maxAge {
		return
	}
	ctx, cancel := context.WithTimeout(h.c.bg, 2*time.Second)
	defer cancel()
	st := healthpb.HealthCheckResponse_SERVING
	if err := h.c.store.Ping(ctx); err != nil {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	h.read = time.Now()
	h.SetServingStatus("", st)
	for _, s := range h.services {
		h.SetServingStatus(s, st)
	}
}

// Check answers from a reading of the store at most healthFreshly old.
func (h *healthService) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	h.refresh(healthFreshly)
	return h.Server.Check(ctx, req)
}
