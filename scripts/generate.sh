#!/usr/bin/env bash
# Regenerates the checked-in protobuf code. Plugins are the versions pinned in go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/" \
  google.golang.org/protobuf/cmd/protoc-gen-go \
  google.golang.org/grpc/cmd/protoc-gen-go-grpc \
  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway \
  github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2
export PATH="$bin:$PATH"
inc=(-I . -I third_party/googleapis)

protoc "${inc[@]}" \
  --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. \
  hostd/api/hostd/v1/hostd.proto hostd/api/hostd/v1/registrar.proto

protoc "${inc[@]}" \
  --go_out=paths=source_relative:. --go-grpc_out=paths=source_relative:. \
  --grpc-gateway_out=paths=source_relative,allow_delete_body=true:. \
  --openapiv2_out=gateway/api/photon/v1 --openapiv2_opt=allow_merge=true,merge_file_name=photon,json_names_for_fields=true,allow_delete_body=true \
  gateway/api/photon/v1/*.proto
mv gateway/api/photon/v1/photon.swagger.json gateway/api/photon/v1/openapi.json 2>/dev/null || true
