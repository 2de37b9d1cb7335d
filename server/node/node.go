// Package node hosts the core state machine for the server: it turns etcd requests into
// proposals, applies them in order, serves reads, and runs the leader's duties (lease
// expiry). Today a proposal is applied as soon as it is made (one member, no log); the Raft
// log slots in between propose and apply without changing either side.
package node

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"

	"github.com/metastore/metastore/core"
	"github.com/metastore/metastore/core/idgen"
	"github.com/metastore/metastore/core/mvcc"
	"github.com/metastore/metastore/server/pbconv"
)

// Config configures a Node.
type Config struct {
	Name string
	// PeerURLs and ClientURLs are this member's advertised URLs.
	PeerURLs, ClientURLs []string
	// ClusterToken distinguishes clusters made from the same member URLs.
	ClusterToken string
	// MaxTxnOps, MaxRequestBytes: etcd's limits (defaults 128 and 1.5 MiB).
	MaxTxnOps       int
	MaxRequestBytes int
	// ElectionTimeout sets the minimum lease TTL (ceil(1.5 × election timeout)); default 1s.
	ElectionTimeout time.Duration
	// WatchProgressNotifyInterval: default 10 minutes.
	WatchProgressNotifyInterval time.Duration
	Logger                      *slog.Logger
}

func (c *Config) defaults() {
	if c.Name == "" {
		c.Name = "default"
	}
	if c.MaxTxnOps <= 0 {
		c.MaxTxnOps = 128
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 1536 * 1024
	}
	if c.ElectionTimeout <= 0 {
		c.ElectionTimeout = time.Second
	}
	if c.ClusterToken == "" {
		c.ClusterToken = "etcd-cluster"
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Node is one member serving the core.
//
// It owns one goroutine, the lease expiry loop, stopped by Stop.
type Node struct {
	cfg   Config
	store *core.Store
	ids   *idgen.Generator
	hdr   pbconv.Header
	log   *slog.Logger

	// applyMu orders proposals: the apply order is the log order.
	applyMu sync.Mutex
	// index counts applied proposals, as a Raft applied index would.
	index atomic.Uint64

	stopc chan struct{}
	donec chan struct{}
}

// New starts a node over a fresh in-memory store.
func New(cfg Config) (*Node, error) {
	cfg.defaults()
	memberID := MemberID(cfg.PeerURLs, cfg.ClusterToken)
	minTTL := int64((3*cfg.ElectionTimeout/2 + time.Second - 1) / time.Second)
	n := &Node{
		cfg:   cfg,
		ids:   idgen.New(uint16(memberID), time.Now()),
		hdr:   pbconv.Header{ClusterID: ClusterID([]uint64{memberID}), MemberID: memberID, RaftTerm: 2},
		log:   cfg.Logger,
		stopc: make(chan struct{}),
		donec: make(chan struct{}),
	}
	s, err := core.New(core.Config{
		MaxTxnOps:   cfg.MaxTxnOps,
		MinLeaseTTL: minTTL,
		IDs:         n.ids,
		Watch:       mvcc.WatchConfig{ProgressNotifyInterval: cfg.WatchProgressNotifyInterval},
	})
	if err != nil {
		return nil, err
	}
	n.store = s
	go n.expireLeases()
	return n, nil
}

// MemberID derives a member's ID from its peer URLs and the cluster token, as etcd does
// (the first 8 bytes of a SHA-1), so that the same configuration gives the same ID.
func MemberID(peerURLs []string, token string) uint64 {
	urls := append([]string(nil), peerURLs...)
	sort.Strings(urls)
	sum := sha1.Sum([]byte(strings.Join(urls, "") + token))
	return binary.BigEndian.Uint64(sum[:8])
}

// ClusterID derives the cluster ID from its member IDs.
func ClusterID(members []uint64) uint64 {
	ids := append([]uint64(nil), members...)
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	b := make([]byte, 8*len(ids))
	for i, id := range ids {
		binary.BigEndian.PutUint64(b[8*i:], id)
	}
	sum := sha1.Sum(b)
	return binary.BigEndian.Uint64(sum[:8])
}

// Header is what the node puts in response headers.
func (n *Node) Header() *pbconv.Header { return &n.hdr }

// Store exposes the core, for the services that read it directly (watch, status).
func (n *Node) Store() *core.Store { return n.store }

// Config returns the node's configuration.
func (n *Node) Config() Config { return n.cfg }

// AppliedIndex is the number of proposals applied.
func (n *Node) AppliedIndex() uint64 { return n.index.Load() }

// Stop stops the node's loops and the core.
func (n *Node) Stop() {
	select {
	case <-n.stopc:
		return
	default:
	}
	close(n.stopc)
	<-n.donec
	n.store.Close()
}

// propose submits a write and returns what applying it produced.
func (n *Node) propose(ctx context.Context, r *pb.InternalRaftRequest) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case <-n.stopc:
		return nil, pbconv.ErrStopped
	default:
	}
	if r.Size() > n.cfg.MaxRequestBytes {
		return nil, pbconv.ErrRequestTooLarge
	}
	n.applyMu.Lock()
	defer n.applyMu.Unlock()
	resp, err := n.apply(r)
	n.index.Add(1)
	return resp, err
}

// apply runs one proposal against the core. It reads nothing but the request and the
// core's state, so every member applying the same log reaches the same state.
func (n *Node) apply(r *pb.InternalRaftRequest) (any, error) {
	s := n.store
	switch {
	case r.Put != nil:
		return s.Put(pbconv.PutRequest(r.Put))
	case r.DeleteRange != nil:
		return s.DeleteRange(pbconv.DeleteRangeRequest(r.DeleteRange))
	case r.Txn != nil:
		return s.Txn(pbconv.TxnRequest(r.Txn))
	case r.Compaction != nil:
		return s.Compact(&core.CompactionRequest{Revision: r.Compaction.Revision, Physical: r.Compaction.Physical})
	case r.LeaseGrant != nil:
		return s.LeaseGrant(&core.LeaseGrantRequest{ID: r.LeaseGrant.ID, TTL: r.LeaseGrant.TTL})
	case r.LeaseRevoke != nil:
		return s.LeaseRevoke(r.LeaseRevoke.ID)
	}
	return nil, errors.New("node: empty proposal")
}

// expireLeases is the leader's lease duty: revoke what the clock says has expired, at most
// 1000 leases a second as etcd does.
func (n *Node) expireLeases() {
	defer close(n.donec)
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.stopc:
			return
		case <-t.C:
		}
		for _, id := range n.store.ExpiredLeases(500) {
			_, err := n.propose(context.Background(), &pb.InternalRaftRequest{LeaseRevoke: &pb.LeaseRevokeRequest{ID: id}})
			if err != nil && !errors.Is(err, core.ErrLeaseNotFound) {
				n.log.Warn("revoking expired lease failed", "lease", id, "error", err)
			}
		}
	}
}
