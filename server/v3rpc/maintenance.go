package v3rpc

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/server/node"
	"github.com/metastore/metastore/server/pbconv"
	"github.com/metastore/metastore/server/raftreq"
	"github.com/metastore/metastore/server/snapfile"
)

// Version is the etcd version MetaStore implements and reports in Status (Kubernetes gates
// features on it) and /version.
const (
	Version        = core.EtcdVersion
	StorageVersion = "3.6.0"
	ClusterVersion = node.ClusterVersion
)

type maintenanceServer struct {
	pb.UnimplementedMaintenanceServer
	n *node.Node
}

func (s *maintenanceServer) header() *pb.ResponseHeader {
	return pbconv.ResponseHeader(s.n.Header(), s.n.Store().Rev())
}

func (s *maintenanceServer) Status(ctx context.Context, r *pb.StatusRequest) (*pb.StatusResponse, error) {
	if err := s.n.CheckAuthenticated(ctx); err != nil {
		return nil, err
	}
	h := s.n.Header()
	resp := &pb.StatusResponse{
		Header:           s.header(),
		Version:          Version,
		DbSize:           s.n.DiskUsage(),
		DbSizeInUse:      s.n.Store().MVCC().Size(),
		Leader:           s.n.Leader(),
		RaftIndex:        s.n.CommittedIndex(),
		RaftTerm:         h.RaftTerm,
		RaftAppliedIndex: s.n.AppliedIndex(),
		StorageVersion:   StorageVersion,
		IsLearner:        s.n.IsLearner(),
		DbSizeQuota:      max(s.n.Quota(), 0),
		DowngradeInfo:    &pb.DowngradeInfo{},
	}
	if resp.Leader == 0 {
		resp.Errors = append(resp.Errors, node.ErrNoLeader.Error())
	}
	for _, a := range s.n.Alarms(raftreq.AlarmNone) {
		resp.Errors = append(resp.Errors, fmt.Sprintf("memberID:%d alarm:%s ", a.MemberID, pb.AlarmType(a.Alarm)))
	}
	return resp, nil
}

func (s *maintenanceServer) Alarm(ctx context.Context, r *pb.AlarmRequest) (*pb.AlarmResponse, error) {
	alarms, err := s.n.Alarm(ctx, &raftreq.Alarm{Action: raftreq.AlarmAction(r.Action), MemberID: r.MemberID, Alarm: raftreq.AlarmType(r.Alarm)})
	if err != nil {
		return nil, err
	}
	resp := &pb.AlarmResponse{Header: s.header()}
	for _, a := range alarms {
		resp.Alarms = append(resp.Alarms, &pb.AlarmMember{MemberID: a.MemberID, Alarm: pb.AlarmType(a.Alarm)})
	}
	return resp, nil
}

func (s *maintenanceServer) Defragment(ctx context.Context, r *pb.DefragmentRequest) (*pb.DefragmentResponse, error) {
	if err := s.n.CheckAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.n.Defragment(); err != nil {
		return nil, err
	}
	return &pb.DefragmentResponse{}, nil
}

func (s *maintenanceServer) Hash(ctx context.Context, r *pb.HashRequest) (*pb.HashResponse, error) {
	if err := s.n.CheckAdmin(ctx); err != nil {
		return nil, err
	}
	h, err := s.n.Store().HashKV(0)
	if err != nil {
		return nil, err
	}
	return &pb.HashResponse{Header: s.header(), Hash: h.Hash}, nil
}

func (s *maintenanceServer) HashKV(ctx context.Context, r *pb.HashKVRequest) (*pb.HashKVResponse, error) {
	if err := s.n.CheckAdmin(ctx); err != nil {
		return nil, err
	}
	h, err := s.n.Store().HashKV(r.Revision)
	if err != nil {
		return nil, err
	}
	return pbconv.HashKVResponse(h, s.n.Header()), nil
}

// snapshotChunk is the size of each Snapshot message's blob, as etcd's.
const snapshotChunk = 32 * 1024

// Snapshot streams the state in the framing `etcdctl snapshot save` checks (snapfile), the
// SHA-256 as the last message. The payload is MetaStore's format, not a bbolt file;
// `metastore snapshot restore` makes a member of it.
func (s *maintenanceServer) Snapshot(r *pb.SnapshotRequest, stream pb.Maintenance_SnapshotServer) error {
	if err := s.n.CheckAdmin(stream.Context()); err != nil {
		return err
	}
	// The state goes through a file in the data dir, not memory: a store larger than the
	// memory left must still be backed up. The length the framing starts with, and
	// RemainingBytes, are known once it is written.
	dir := filepath.Join(s.n.Config().DataDir, "member")
	if s.n.Config().DataDir == "" {
		dir = ""
	}
	f, size, err := snapfile.Spool(dir, s.n.Store().WriteSnapshot)
	if err != nil {
		return status.Errorf(codes.Internal, "snapshot: %v", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(f, 256<<10)
	for sent := int64(0); sent < size; {
		blob := make([]byte, min(snapshotChunk, size-sent))
		if _, err := io.ReadFull(br, blob); err != nil {
			return status.Errorf(codes.Internal, "snapshot: %v", err)
		}
		h.Write(blob)
		sent += int64(len(blob))
		msg := &pb.SnapshotResponse{RemainingBytes: uint64(size - sent + sha256.Size), Blob: blob, Version: StorageVersion}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	return stream.Send(&pb.SnapshotResponse{Blob: h.Sum(nil), Version: StorageVersion})
}

// MoveLeader hands leadership over; as etcd's, the answer carries no header.
func (s *maintenanceServer) MoveLeader(ctx context.Context, r *pb.MoveLeaderRequest) (*pb.MoveLeaderResponse, error) {
	if err := s.n.MoveLeader(ctx, r.TargetID); err != nil {
		return nil, err
	}
	return &pb.MoveLeaderResponse{}, nil
}

// Downgrade refuses every target (there is no older MetaStore to run at: node.Downgrade),
// with etcd's errors.
func (s *maintenanceServer) Downgrade(ctx context.Context, r *pb.DowngradeRequest) (*pb.DowngradeResponse, error) {
	if err := s.n.CheckAdmin(ctx); err != nil {
		return nil, err
	}
	v, err := s.n.Downgrade(ctx, node.DowngradeAction(r.Action), r.Version)
	if err != nil {
		return nil, err
	}
	return &pb.DowngradeResponse{Header: s.header(), Version: v}, nil
}
