// Package hostdv1 is the generated code of hostd.v1: the gRPC API of the per-host daemon
// (hostd.proto beside it), which functions and the gateway call, and the registrar
// (registrar.proto), which hostd calls on the control plane. Functions import only this
// package of hostd.
package hostdv1
