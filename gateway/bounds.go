package gateway

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/photon-cloud/photon/shared/domain"
)

// unaryBounds holds every gRPC request to shared/domain's bounds and name rules, as the
// REST side's decoder holds every body (rest.Marshaler), before the service sees it.
func unaryBounds(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if m, ok := req.(proto.Message); ok {
		if err := domain.CheckRequest(m.ProtoReflect()); err != nil {
			return nil, err
		}
	}
	return h(ctx, req)
}
