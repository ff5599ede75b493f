// Package hostdv1 is the generated code of hostd.v1, the gRPC API of the per-host daemon
// (hostd.proto beside it). Functions import only this package of hostd.
package hostdv1
