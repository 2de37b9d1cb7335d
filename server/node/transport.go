package node

import (
	"context"
	"io"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Transport carries Raft messages between members. Send never blocks: a message a peer
// cannot take now (its queue is full, it is down) is dropped and the peer reported
// unreachable, and Raft sends it again. Messages to one peer arrive in the order sent, or
// not at all.
type Transport interface {
	// Start begins delivering what peers send to h.
	Start(h Handler) error
	// Send sends messages, never a snapshot (MsgSnap).
	Send(msgs []raftpb.Message)
	// SendSnapshot sends a snapshot message with the state read from body, which it closes
	// once done with it, and reports how it went to the handler (ReportSnapshot).
	SendSnapshot(m raftpb.Message, body io.ReadCloser)
	AddPeer(id uint64, urls []string)
	UpdatePeer(id uint64, urls []string)
	RemovePeer(id uint64)
	// Forward asks member to answer a request only the leader may answer (lease
	// keep-alive and time-to-live); req and the answer are the handler's encoding.
	Forward(ctx context.Context, member uint64, req []byte) ([]byte, error)
	// Stop closes every connection; nothing is delivered after it returns.
	Stop()
}

// Handler is what a Transport delivers to: the node.
type Handler interface {
	// ClusterID is checked against the sender's, so that members of two clusters never
	// talk to each other.
	ClusterID() uint64
	Process(ctx context.Context, m raftpb.Message) error
	// ReceiveSnapshot takes a snapshot message (MsgSnap) with its state, read from body to
	// its end (the transport verifies the stream: a damaged one fails a read).
	ReceiveSnapshot(ctx context.Context, m raftpb.Message, body io.Reader) error
	ReportUnreachable(id uint64)
	ReportSnapshot(id uint64, status raft.SnapshotStatus)
	HandleForward(ctx context.Context, req []byte) ([]byte, error)
	// Members lists the cluster, for a member joining with --initial-cluster-state existing.
	Members() []Member
}

// noTransport serves a single-member cluster that has nowhere to send.
type noTransport struct{}

func (noTransport) Start(Handler) error                               { return nil }
func (noTransport) Send([]raftpb.Message)                             {}
func (noTransport) SendSnapshot(_ raftpb.Message, body io.ReadCloser) { body.Close() }
func (noTransport) AddPeer(uint64, []string)                          {}
func (noTransport) UpdatePeer(uint64, []string)                       {}
func (noTransport) RemovePeer(uint64)                                 {}
func (noTransport) Stop()                                             {}
func (noTransport) Forward(context.Context, uint64, []byte) ([]byte, error) {
	return nil, errNoPeers
}
