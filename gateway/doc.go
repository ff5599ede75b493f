// Package gateway is Photon's front door: the photon.v1 gRPC services, the same services
// as REST through grpc-gateway (Photon Controller 1.2's /v1 paths and JSON), the OpenAPI
// document, and authentication. It validates requests, writes an entity and its Task in
// one atomic call and publishes the event that starts the function chain; it never calls
// a host itself.
package gateway
