#!/bin/sh
# Lays out etcd's .proto files and their imports under proto/, from the Go module cache, so
# that buf can generate the TypeScript types without any registry: the same protos the
# server is built from (go.etcd.io/etcd/api/v3 as pinned in go.mod).
set -eu
cd "$(dirname "$0")"
root=../..
mod() { (cd "$root" && go mod download "$1" && go list -m -f '{{.Dir}}' "$1"); }
etcd=$(mod go.etcd.io/etcd/api/v3)
gogo=$(mod github.com/gogo/protobuf)
gw2=$(mod github.com/grpc-ecosystem/grpc-gateway/v2)
gw1=$(cd "$root" && go mod download -json github.com/grpc-ecosystem/grpc-gateway@v1.16.0 | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
rm -rf proto && mkdir -p proto/etcd/api proto/gogoproto proto/google/api proto/protoc-gen-openapiv2/options
for p in etcdserverpb/rpc.proto mvccpb/kv.proto authpb/auth.proto versionpb/version.proto; do
  mkdir -p "proto/etcd/api/$(dirname "$p")" && cp "$etcd/$p" "proto/etcd/api/$p"
done
cp "$gogo/gogoproto/gogo.proto" proto/gogoproto/
cp "$gw1/third_party/googleapis/google/api/annotations.proto" "$gw1/third_party/googleapis/google/api/http.proto" proto/google/api/
cp "$gw2/protoc-gen-openapiv2/options/annotations.proto" "$gw2/protoc-gen-openapiv2/options/openapiv2.proto" proto/protoc-gen-openapiv2/options/
chmod -R u+w proto
