// Package gateway is Photon's front door: the photon.v1 gRPC services, the same services
// as REST through grpc-gateway (Photon Controller 1.2's /v1 paths and JSON), the OpenAPI
// document, and authentication. It validates requests and writes an entity, its Task and
// the event that starts the function chain in one atomic call; its relay (relay.go)
// publishes that event to the broker, so no entity is held by a chain that never starts.
// It never calls a host itself; host provisioning (provisioning.go) is a reconciler that
// any gateway resumes.
//
// It serves plain REST and gRPC on two loopback ports and, with Options.HTTPSAddr, both
// over TLS on one port (tls.go); the gRPC health service and server reflection answer
// without a token (probes.go).
package gateway
