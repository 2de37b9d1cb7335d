package pbconv

import (
	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/core"
)

func LeaseGrantResponse(r *core.LeaseGrantResponse, hdr *Header) *pb.LeaseGrantResponse {
	return &pb.LeaseGrantResponse{Header: header(hdr, r.Header), ID: r.ID, TTL: r.TTL}
}

func LeaseRevokeResponse(r *core.LeaseRevokeResponse, hdr *Header) *pb.LeaseRevokeResponse {
	return &pb.LeaseRevokeResponse{Header: header(hdr, r.Header)}
}

func LeaseKeepAliveResponse(r *core.LeaseKeepAliveResponse, hdr *Header) *pb.LeaseKeepAliveResponse {
	return &pb.LeaseKeepAliveResponse{Header: header(hdr, r.Header), ID: r.ID, TTL: r.TTL}
}

func LeaseTimeToLiveResponse(r *core.LeaseTimeToLiveResponse, hdr *Header) *pb.LeaseTimeToLiveResponse {
	return &pb.LeaseTimeToLiveResponse{Header: header(hdr, r.Header), ID: r.ID, TTL: r.TTL, GrantedTTL: r.GrantedTTL, Keys: r.Keys}
}

func LeaseLeasesResponse(r *core.LeaseLeasesResponse, hdr *Header) *pb.LeaseLeasesResponse {
	out := &pb.LeaseLeasesResponse{Header: header(hdr, r.Header)}
	for _, id := range r.Leases {
		out.Leases = append(out.Leases, &pb.LeaseStatus{ID: id})
	}
	return out
}

func HashKVResponse(r *core.HashKVResponse, hdr *Header) *pb.HashKVResponse {
	return &pb.HashKVResponse{Header: header(hdr, r.Header), Hash: r.Hash, CompactRevision: r.CompactRevision, HashRevision: r.HashRevision}
}
